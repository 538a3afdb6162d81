"""Webhooks in Django admin: every write goes through webhooks.services; the delivery log is read-only."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from webhooks import services
from webhooks.models import Webhook, WebhookDelivery


class WebhookForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=2000, assume_scheme="https")

    class Meta:
        model = Webhook
        fields = ["name", "url"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["url"].help_text = _(
            "Where deliveries are POSTed, https:// only. A Slack incoming-webhook URL works as it is. "
            "The signing secret is made when the webhook is saved and shown once."
        )

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        if (error := services.webhook_url_error(url)) is not None:
            raise forms.ValidationError(error)
        return url


def _show_secret(request, webhook: Webhook, secret: str) -> None:
    messages.warning(
        request,
        gettext(
            "Signing secret of the webhook “%(name)s”: %(secret)s — copy it to the receiver now; it is stored "
            "encrypted and will not be shown again."
        )
        % {"name": webhook.name, "secret": secret},
    )


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    form = WebhookForm
    list_display = ["name", "url", "active", "disabled_at", "disabled_reason", "created_at"]
    list_filter = ["active"]
    search_fields = ["name"]
    actions = ["send_test", "rotate_secret", "disable", "enable"]

    def get_readonly_fields(self, request, obj=None):
        return ["active", "disabled_at", "disabled_reason", "created_at", "deliveries"] if obj else []

    @admin.display(description=_("deliveries"))
    def deliveries(self, obj: Webhook) -> str:
        return format_html(
            '<a href="{}?webhook__id__exact={}">{}</a>',
            reverse("admin:webhooks_webhookdelivery_changelist"),
            obj.pk,
            _("delivery log"),
        )

    def save_model(self, request, obj, form, change) -> None:
        name, url = form.cleaned_data["name"], form.cleaned_data["url"]
        if change:
            services.webhook_update(webhook=obj, name=name, url=url)
            return
        created, secret = services.webhook_create(name=name, url=url)
        # The admin goes on with `obj` (its log entry, the redirect): make it the row just created.
        obj.pk, obj.secret_encrypted, obj.created_at, obj.active = (
            created.pk,
            created.secret_encrypted,
            created.created_at,
            created.active,
        )
        obj._state.adding, obj._state.db = False, created._state.db
        _show_secret(request, created, secret)

    @admin.action(description=_("Send a test delivery"), permissions=["change"])
    def send_test(self, request, queryset) -> None:
        sent = skipped = 0
        for webhook in queryset:
            if services.webhook_send_test(webhook=webhook) is None:
                skipped += 1
            else:
                sent += 1
        if sent:
            self.message_user(
                request,
                ngettext(
                    "Test delivery queued for %(count)d webhook; see the delivery log.",
                    "Test delivery queued for %(count)d webhooks; see the delivery log.",
                    sent,
                )
                % {"count": sent},
            )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d disabled webhook skipped: enable it first.",
                    "%(count)d disabled webhooks skipped: enable them first.",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )

    @admin.action(description=_("Rotate the signing secret"), permissions=["change"])
    def rotate_secret(self, request, queryset) -> None:
        for webhook in queryset:
            _show_secret(request, webhook, services.webhook_secret_rotate(webhook=webhook))

    @admin.action(description=_("Disable"), permissions=["change"])
    def disable(self, request, queryset) -> None:
        reason = gettext("Disabled in the admin by %(user)s.") % {"user": request.user.get_username()}
        webhooks = list(queryset.filter(active=True))
        for webhook in webhooks:
            services.webhook_disable(webhook=webhook, reason=reason)
        self.message_user(
            request,
            ngettext("%(count)d webhook disabled.", "%(count)d webhooks disabled.", len(webhooks))
            % {"count": len(webhooks)},
        )

    @admin.action(description=_("Enable"), permissions=["change"])
    def enable(self, request, queryset) -> None:
        webhooks = list(queryset.filter(active=False))
        for webhook in webhooks:
            services.webhook_enable(webhook=webhook)
        self.message_user(
            request,
            ngettext("%(count)d webhook enabled.", "%(count)d webhooks enabled.", len(webhooks))
            % {"count": len(webhooks)},
        )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "created_at", "webhook", "event", "key", "status", "attempts", "last_status_code",
                    "delivered_at"]  # fmt: skip
    list_filter = ["status", "webhook"]
    list_select_related = ["webhook"]
    # No full count and no date hierarchy: both scan the whole log.
    show_full_result_count = False
    fields = ["webhook", "event", "key", "status", "attempts", "next_attempt_at", "last_status_code", "last_error",
              "created_at", "delivered_at", "text", "data"]  # fmt: skip
    readonly_fields = fields
    actions = ["retry_now"]

    @admin.display(description=_("data"))
    def data(self, obj: WebhookDelivery) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.body, indent=2, ensure_ascii=False))

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_retry_permission(self, request) -> bool:
        return request.user.has_perm("webhooks.change_webhook")

    @admin.action(description=_("Retry now (failed or gone deliveries)"), permissions=["retry"])
    def retry_now(self, request, queryset) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        retried = services.webhook_deliveries_retry(delivery_ids=ids)
        self.message_user(
            request,
            ngettext("%(count)d delivery queued again.", "%(count)d deliveries queued again.", retried)
            % {"count": retried},
        )
        if retried < len(ids):
            self.message_user(
                request,
                ngettext(
                    "%(count)d selected delivery left as it is: only failed or gone deliveries of an active "
                    "webhook are retried.",
                    "%(count)d selected deliveries left as they are: only failed or gone deliveries of an active "
                    "webhook are retried.",
                    len(ids) - retried,
                )
                % {"count": len(ids) - retried},
                messages.WARNING,
            )

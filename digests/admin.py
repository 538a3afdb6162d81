from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .models import DigestDelivery, DigestSubscription
from .services import digests_resend


@admin.register(DigestSubscription)
class DigestSubscriptionAdmin(admin.ModelAdmin):
    """Read-only: each user chooses their own digest on their profile page."""

    list_display = ("user", "frequency", "language", "updated_at")
    list_filter = ("frequency", "language")
    search_fields = ("user__username", "user__email")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(DigestDelivery)
class DigestDeliveryAdmin(admin.ModelAdmin):
    list_display = ("user", "frequency", "period_start", "period_end", "status", "attempts", "sent_at")
    list_filter = ("status", "frequency")
    search_fields = ("user__username", "user__email")
    readonly_fields = [f.name for f in DigestDelivery._meta.fields]
    show_full_result_count = False
    actions = ["resend"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description=_("Send again (left 'sending' by a stopped worker, or failed)"))
    def resend(self, request, queryset) -> None:
        count = digests_resend(deliveries=queryset)
        self.message_user(
            request,
            ngettext("%(count)d digest will be sent again.", "%(count)d digests will be sent again.", count)
            % {"count": count},
            messages.SUCCESS,
        )

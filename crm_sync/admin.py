from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from crm_sync.connectors import ConnectorError
from crm_sync.connectors.csv_files import KINDS, kind_from_name
from crm_sync.connectors.hubspot import DEFAULT_PROPERTIES, base_url_error, operational_properties
from crm_sync.models import Connection, MatchOn, QuarantinedRecord, SyncRun
from crm_sync.services import (
    SyncAlreadyRunning,
    connection_matching_error,
    connection_matching_set,
    crm_file_import,
)
from crm_sync.tasks import crm_sync_connection

RECENT = 20


def _most_recent(queryset, field: str):
    """The RECENT newest rows of each connection (an inline cannot be sliced)."""
    return queryset.annotate(
        recency=Window(RowNumber(), partition_by=F("connection"), order_by=F(field).desc())
    ).filter(recency__lte=RECENT)


class ConnectionForm(forms.ModelForm):
    """The token is write-only: never rendered back; left blank, the stored one is kept. It is stored
    encrypted (Connection.token)."""

    # Not the model field: the form takes the plain token, Connection.token stores it encrypted.
    token = forms.CharField(
        label=_("secret token"),
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Write-only. Leave blank to keep the current token."),
    )
    clear_token = forms.BooleanField(label=_("remove the stored token"), required=False)
    # Not the model fields: saved through crm_sync.services.connection_matching_set (ConnectionAdmin.save_model).
    match_on = forms.ChoiceField(
        label=_("match unknown customers on"),
        choices=MatchOn.choices,
        required=False,
        help_text=_("How a customer id this connection has not seen is matched to a customer another connection "
                    "stored, so that both feed one customer (e.g. an ERP file of a customer the CRM brought in)."),
    )  # fmt: skip
    match_connection = forms.ModelChoiceField(
        label=_("connection whose CRM ids to match"), queryset=Connection.objects.all(), required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["match_on"].initial = self.instance.match_on
            self.fields["match_connection"].initial = self.instance.match_connection_id
            self.fields["match_connection"].queryset = Connection.objects.exclude(pk=self.instance.pk)

    class Meta:
        model = Connection
        fields = ["kind", "name", "settings", "enabled", "sync_interval_minutes"]

    def clean(self):
        cleaned = super().clean()
        error = connection_matching_error(
            connection=self.instance,
            match_on=cleaned.get("match_on") or "",
            match_connection=cleaned.get("match_connection"),
        )
        if error:
            self.add_error("match_connection", error)
        if cleaned.get("clear_token"):
            cleaned["token"] = ""
        has_token = bool(cleaned.get("token")) or (
            not cleaned.get("clear_token") and bool(self.instance.pk and self.instance.secret_token)
        )
        if cleaned.get("kind") == Connection.Kind.HUBSPOT and not has_token:
            self.add_error("token", _("A HubSpot connection needs a private-app token."))
        config = cleaned.get("settings")
        if config is not None and not isinstance(config, dict):
            self.add_error("settings", _('Settings are a JSON object, e.g. {"object_type": "companies"}.'))
        elif config and cleaned.get("kind") == Connection.Kind.HUBSPOT:
            if config.get("object_type", "companies") not in DEFAULT_PROPERTIES:
                self.add_error("settings", _('object_type is "companies" (B2B) or "contacts" (B2C).'))
            if config.get("base_url") and (error := base_url_error(config["base_url"])) is not None:
                self.add_error("settings", error)
            try:
                operational_properties(config.get("operational_properties"))
            except ValueError as exc:
                self.add_error("settings", str(exc))
            if not isinstance(config.get("properties", {}), dict):
                self.add_error(
                    "settings", _('properties maps names to HubSpot properties, e.g. {"value": "annualrevenue"}.')
                )
        return cleaned

    def save(self, commit: bool = True):
        if self.cleaned_data.get("clear_token"):
            self.instance.token = ""
        elif self.cleaned_data.get("token"):
            self.instance.token = self.cleaned_data["token"]
        return super().save(commit)


class SyncRunInline(admin.TabularInline):
    model = SyncRun
    fields = ["started_at", "finished_at", "status", "full", "pages", "records", "events_created", "quarantined",
              "held",
              "error"]  # fmt: skip
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = _("recent sync runs")

    def get_queryset(self, request):
        return _most_recent(super().get_queryset(request), "started_at")


class QuarantinedRecordInline(admin.TabularInline):
    model = QuarantinedRecord
    fields = ["created_at", "source", "reason", "payload_excerpt"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = _("recently quarantined records")

    @admin.display(description=_("raw payload"))
    def payload_excerpt(self, obj: QuarantinedRecord) -> str:
        return obj.payload[:200]

    def get_queryset(self, request):
        return _most_recent(super().get_queryset(request), "created_at")


def import_notes(result) -> list[tuple[str, int]]:
    """What else an import did that someone should know: events held for unknown customers, held
    events applied, value segments created (ranked by value, to be confirmed)."""
    notes = []
    if result.run.held:
        notes.append((
            ngettext(
                "%(count)d event held: its customer is not known (see Customers > events for unknown customers).",
                "%(count)d events held: their customers are not known (see Customers > events for unknown customers).",
                result.run.held,
            ) % {"count": result.run.held},
            messages.WARNING,
        ))  # fmt: skip
    if result.held_applied:
        notes.append((
            ngettext(
                "%(count)d held event applied: its customer is known now.",
                "%(count)d held events applied: their customers are known now.",
                result.held_applied,
            ) % {"count": result.held_applied},
            messages.INFO,
        ))  # fmt: skip
    if result.segments_created:
        notes.append((
            _("New value segments created: %(names)s. They are ranked by their customers' mean value: confirm "
              "the ranks under Customers > value segments.") % {"names": ", ".join(result.segments_created)},
            messages.WARNING,
        ))  # fmt: skip
    return notes


class UploadForm(forms.Form):
    file = forms.FileField(label=_("CSV file"))
    kind = forms.ChoiceField(
        label=_("contents"),
        choices=[("", _("from the file name")), *[(k, f"{k}.csv") for k in KINDS]],
        required=False,
    )


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    form = ConnectionForm
    list_display = ["name", "kind", "enabled", "sync_interval_minutes", "last_synced_at", "next_sync_at",
                    "last_run_status", "has_token"]  # fmt: skip
    list_filter = ["kind", "enabled"]
    search_fields = ["name"]
    readonly_fields = ["checkpoint", "last_synced_at", "next_sync_at", "created_at", "links"]
    fieldsets = [
        (None, {"fields": ["kind", "name", "enabled", "sync_interval_minutes", "settings"]}),
        (_("Token"), {"fields": ["token", "clear_token"]}),
        (_("Customers shared with another connection"), {"fields": ["match_on", "match_connection"]}),
        (_("State"), {"fields": ["checkpoint", "last_synced_at", "next_sync_at", "created_at", "links"]}),
    ]
    inlines = [SyncRunInline, QuarantinedRecordInline]
    actions = ["sync_now", "full_sync_now"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        merged = connection_matching_set(
            connection=obj,
            match_on=form.cleaned_data.get("match_on") or "",
            match_connection=form.cleaned_data.get("match_connection"),
        )
        if merged.merged:
            self.message_user(
                request,
                ngettext(
                    "%(count)d customer this connection had created was merged into the customer it matches.",
                    "%(count)d customers this connection had created were merged into the customers they match.",
                    merged.merged,
                )
                % {"count": merged.merged},
                messages.SUCCESS,
            )
        if merged.held_applied:
            self.message_user(
                request,
                ngettext(
                    "%(count)d held event applied: its customer is known now.",
                    "%(count)d held events applied: their customers are known now.",
                    merged.held_applied,
                )
                % {"count": merged.held_applied},
                messages.SUCCESS,
            )
        if merged.kept:
            self.message_user(
                request,
                _("Not merged, as they have survey answers or invitations of their own: %(ids)s.")
                % {"ids": ", ".join(merged.kept[:20])},
                messages.WARNING,
            )

    @admin.display(boolean=True, description=_("token set"))
    def has_token(self, obj: Connection) -> bool:
        return bool(obj.secret_token)

    @admin.display(description=_("last run"))
    def last_run_status(self, obj: Connection) -> str:
        run = obj.runs.order_by("-started_at").first()
        if run is None:
            return "–"
        if run.status == SyncRun.Status.SKIPPED:
            return format_html('<strong title="{}">⚠ {}</strong>', run.error, _("skipped: another run was active"))
        return run.get_status_display()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET" and str(object_id).isdigit():
            latest = SyncRun.objects.filter(connection_id=int(object_id)).order_by("-started_at").first()
            if latest is not None and latest.status == SyncRun.Status.SKIPPED:
                self.message_user(
                    request,
                    _(
                        "The last sync, queued at %(time)s, was skipped because another run of this connection "
                        "was active (see the recent sync runs below). It is tried again at the next interval."
                    )
                    % {"time": date_format(localtime(latest.started_at), "DATETIME_FORMAT")},
                    messages.WARNING,
                )
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description=_("more"))
    def links(self, obj: Connection) -> str:
        if not obj.pk:
            return "–"
        return format_html(
            '<a href="{}?connection__id__exact={}">{}</a> · <a href="{}?connection__id__exact={}">{}</a>'
            ' · <a href="{}">{}</a>',
            reverse("admin:crm_sync_syncrun_changelist"), obj.pk, _("all sync runs"),
            reverse("admin:crm_sync_quarantinedrecord_changelist"), obj.pk, _("all quarantined records"),
            reverse("admin:crm_sync_connection_upload", args=[obj.pk]), _("upload a CSV file"),
        )  # fmt: skip

    def _queue(self, request, queryset, *, full: bool) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        for connection_id in ids:
            transaction.on_commit(lambda pk=connection_id: crm_sync_connection.delay(pk, full=full))
        self.message_user(request, _("Sync queued for %(count)d connection(s).") % {"count": len(ids)})

    @admin.action(description=_("Sync now"))
    def sync_now(self, request, queryset):
        self._queue(request, queryset, full=False)

    @admin.action(description=_("Full sync now (re-read everything)"))
    def full_sync_now(self, request, queryset):
        self._queue(request, queryset, full=True)

    def get_urls(self):
        return [
            path("<int:pk>/upload/", self.admin_site.admin_view(self.upload_view), name="crm_sync_connection_upload"),
            *super().get_urls(),
        ]

    def upload_view(self, request, pk: int):
        connection = get_object_or_404(Connection, pk=pk)
        if not self.has_change_permission(request, connection):
            return redirect("admin:index")
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            kind = form.cleaned_data["kind"] or kind_from_name(upload.name)
            if kind is None:
                form.add_error(
                    "kind", _("Choose what the file contains: its name starts neither with customers nor events.")
                )
            else:
                try:
                    result = crm_file_import(connection=connection, stream=upload, name=upload.name, kind=kind)
                except (ConnectorError, SyncAlreadyRunning) as exc:
                    form.add_error("file", str(exc))
                else:
                    if result.already_processed:
                        self.message_user(
                            request, _("This file was already imported; nothing changed."), messages.WARNING
                        )
                    else:
                        run = result.run
                        level = messages.WARNING if run.quarantined else messages.SUCCESS
                        self.message_user(
                            request,
                            _("%(name)s: %(rows)d rows, %(events)d events created, %(bad)d quarantined.")
                            % {"name": upload.name, "rows": run.records, "events": run.events_created,
                               "bad": run.quarantined},
                            level,
                        )  # fmt: skip
                        if result.suppressed:
                            self.message_user(
                                request,
                                _("%(count)d rows skipped: their subjects' data was erased at their request "
                                  "(suppression list).") % {"count": result.suppressed},
                                messages.INFO,
                            )  # fmt: skip
                        for text, level in import_notes(result):
                            self.message_user(request, text, level)
                    return redirect("admin:crm_sync_connection_change", connection.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": connection,
            "title": _("Upload a CSV file to %(name)s") % {"name": connection.name},
            "form": form,
        }
        return render(request, "admin/crm_sync/connection/upload.html", context)


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = ["connection", "started_at", "finished_at", "status", "full", "pages", "records",
                    "events_created", "quarantined", "error"]  # fmt: skip
    list_filter = ["status", "connection"]
    list_select_related = ["connection"]
    date_hierarchy = "started_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(QuarantinedRecord)
class QuarantinedRecordAdmin(admin.ModelAdmin):
    list_display = ["created_at", "connection", "source", "reason"]
    list_filter = ["connection"]
    list_select_related = ["connection"]
    search_fields = ["source", "reason"]
    readonly_fields = ["connection", "run", "source", "payload", "reason", "created_at"]

    def has_add_permission(self, request):
        return False

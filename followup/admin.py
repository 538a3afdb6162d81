"""Admins configure the alert rules here (through the services' validation); cases are read here and
worked on the Cases pages."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from followup.models import AlertFiring, AlertRule, Case, CaseEmail, CaseNote
from followup.services.alerts import alert_rule_save, rule_validate


class AlertRuleForm(forms.ModelForm):
    class Meta:
        model = AlertRule
        fields = (
            "name",
            "active",
            "owner",
            "to_account_owner",
            "sla_hours",
            "priority",
            "nps_at_most",
            "csat_at_most",
            "ces_at_most",
            "keyword",
            "survey",
            "segment",
            "min_customer_value",
            "open_case",
            "email_owner",
            "post_webhook",
            "webhook",
        )

    def _post_clean(self) -> None:
        super()._post_clean()
        try:
            rule_validate(rule=self.instance)
        except ValidationError as exc:
            self._update_errors(exc)


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    form = AlertRuleForm
    list_display = ("name", "active", "owner", "nps_at_most", "csat_at_most", "ces_at_most", "keyword", "sla_hours")
    list_filter = ("active",)
    fieldsets = (
        (None, {"fields": ("name", "active", "owner", "to_account_owner", "sla_hours", "priority")}),
        (
            _("Conditions (all must hold)"),
            {
                "fields": (
                    "nps_at_most",
                    "csat_at_most",
                    "ces_at_most",
                    "keyword",
                    "survey",
                    "segment",
                    "min_customer_value",
                )
            },
        ),
        (_("Actions"), {"fields": ("open_case", "email_owner", "post_webhook", "webhook")}),
    )

    def save_model(self, request, obj, form, change) -> None:
        alert_rule_save(rule=obj)


@admin.register(AlertFiring)
class AlertFiringAdmin(admin.ModelAdmin):
    list_display = ("rule", "response", "fired_at", "owner", "case", "owner_email")
    list_filter = ("rule", "owner_email")
    list_select_related = ("rule", "case", "owner")
    raw_id_fields = ("response", "case")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class CaseNoteInline(admin.TabularInline):
    model = CaseNote
    extra = 0
    can_delete = False
    readonly_fields = ("created_at", "kind", "author", "text")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ("pk", "customer", "owner", "status", "priority", "created_at", "due_at", "outcome")
    list_filter = ("status", "outcome", "priority")
    list_select_related = ("customer", "owner")
    raw_id_fields = ("customer", "response", "complaint")
    inlines = [CaseNoteInline]
    readonly_fields = [f.name for f in Case._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(CaseEmail)
class CaseEmailAdmin(admin.ModelAdmin):
    """The follow-up emails queued from case pages: whether each went out, and why not."""

    list_display = ("pk", "case", "author", "status", "attempts", "created_at", "sent_at")
    list_filter = ("status",)
    list_select_related = ("case__customer", "author")
    raw_id_fields = ("case",)
    readonly_fields = [f.name for f in CaseEmail._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

"""Admin for segments, customers and the event log. Customers and events come from the CRM: an admin
edits a few customer fields, corrects an event's reason or value saying why, erases a customer's
personal data or deletes customers, each through ``customers.services`` (so every figure follows at
once), and downloads everything held about one customer (their data export)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Avg, Count, Q
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from customers.models import Customer, Event, EventCorrection, HeldEvent, Segment, Suppression
from customers.selectors import customer_export_json
from customers.services import (
    EDITABLE_FIELDS,
    customer_update,
    customers_delete,
    customers_erase,
    event_correct,
    held_events_apply,
    segments_delete,
    segments_ranks_confirm,
)
from customers.suppression import key_id


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ["name", "rank", "ranks_confirmed", "mean_value", "description"]
    search_fields = ["name"]
    actions = ["confirm_ranks"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(mean=Avg("customers__value"))

    @admin.display(description=_("customers' mean value"), ordering="mean")
    def mean_value(self, obj: Segment):
        return round(obj.mean, 2) if obj.mean is not None else "–"

    def changelist_view(self, request, extra_context=None):
        # The banner stays until someone confirms: every visit of the list shows it.
        unconfirmed = list(
            Segment.objects.filter(ranks_confirmed=False).order_by("-rank").values_list("name", flat=True)
        )
        if unconfirmed and request.method == "GET":
            self.message_user(
                request,
                _("Value segments created by a sync or an import: %(names)s. They are ranked by their customers' "
                  "mean value (a higher rank is more valuable, so a move up is an upgrade). Check the ranks, change "
                  "them if needed, then select the segments and confirm their ranks.") % {"names": ", ".join(unconfirmed)},
                messages.WARNING,
            )  # fmt: skip
        return super().changelist_view(request, extra_context)

    @admin.action(description=_("Confirm the ranks of the selected segments"), permissions=["change"])
    def confirm_ranks(self, request, queryset):
        count = segments_ranks_confirm(segments=queryset)
        self.message_user(
            request,
            ngettext("Confirmed the rank of %(count)d segment.", "Confirmed the ranks of %(count)d segments.", count)
            % {"count": count},
            messages.SUCCESS,
        )

    def save_model(self, request, obj, form, change):
        # Setting a rank by hand is a decision about it: the segment is no longer re-ranked by value.
        if change and "rank" in form.changed_data:
            obj.ranks_confirmed = True
        super().save_model(request, obj, form, change)

    def delete_model(self, request, obj):
        segments_delete(segments=Segment.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        segments_delete(segments=queryset)


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["external_id", "name", "email", "segment", "status", "value", "audience", "country",
                    "acquired_at", "lost_at"]  # fmt: skip
    list_filter = ["status", "segment", "audience", "connection", "country"]
    list_select_related = ["segment"]
    search_fields = ["external_id", "name", "email"]
    date_hierarchy = "acquired_at"
    fields = ["connection", "external_id", "other_ids", "segment", "status", "acquired_at", "lost_at", "lost_reason",
              "referred_by", "account_owner_email", *EDITABLE_FIELDS, "erased_at", "state_as_of", "created_at", "updated_at"]  # fmt: skip

    actions = ["erase_personal_data"]

    @admin.action(description=_("Erase personal data…"), permissions=["delete"])
    def erase_personal_data(self, request, queryset):
        """A confirmation page saying what goes and what stays, then ``customers_erase``."""
        if request.POST.get("confirm") == "yes":
            result = customers_erase(customers=queryset)
            self.message_user(
                request,
                ngettext(
                    "Erased the personal data of %(count)d customer; they are on the suppression list.",
                    "Erased the personal data of %(count)d customers; they are on the suppression list.",
                    result.customers,
                )
                % {"count": result.customers},
                messages.SUCCESS,
            )
            if result.already_erased:
                self.message_user(
                    request,
                    _("%(count)d were erased before; nothing changed for them.") % {"count": result.already_erased},
                    messages.INFO,
                )
            return None
        customers = queryset.annotate(
            comments=Count("responses", filter=~Q(responses__comment=""), distinct=True),
            invitation_count=Count("invitations", distinct=True),
        ).order_by("pk")
        context = {
            **self.admin_site.each_context(request),
            "title": _("Erase personal data"),
            "opts": self.model._meta,
            "customers": customers,
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            "action": "erase_personal_data",
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/customers/customer/erase_confirmation.html", context)

    def get_urls(self):
        export = self.admin_site.admin_view(self.export_view)
        return [path("<path:object_id>/export/", export, name="customers_customer_export"), *super().get_urls()]

    def export_view(self, request, object_id):
        """Everything held about one customer, as a JSON download (who may view the customer may export)."""
        customer = self.get_object(request, object_id)
        if customer is None:
            raise Http404
        if not self.has_view_permission(request, customer):
            raise PermissionDenied
        response = HttpResponse(customer_export_json(customer=customer), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="customer-{customer.pk}.json"'
        return response

    @admin.display(description=_("ids in other connections"))
    def other_ids(self, obj: Customer) -> str:
        """The ids this customer has in other connections (matched on their CRM id or email)."""
        rows = obj.external_ids.select_related("connection").order_by("connection__name") if obj.pk else []
        return ", ".join(f"{row.connection.name}: {row.external_id}" for row in rows) or "–"

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.erased_at:
            return self.fields  # an erased customer's personal data is not typed in again
        return [f for f in self.fields if f not in EDITABLE_FIELDS]

    def has_add_permission(self, request):
        return False  # customers come from the CRM connections

    def save_model(self, request, obj, form, change):
        customer_update(customer=obj, **{name: form.cleaned_data[name] for name in form.changed_data})

    # Delete erases first (customers_delete): the delete pages say so (templates/admin/customers/customer/).
    def get_deleted_objects(self, objs, request):
        # Their events go with them (customers_delete), though events cannot be deleted on their own.
        deleted, counts, _perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), protected

    def delete_model(self, request, obj):
        customers_delete(customers=Customer.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        customers_delete(customers=queryset)


class EventCorrectionForm(forms.ModelForm):
    why = forms.CharField(label=_("why"), widget=forms.Textarea(attrs={"rows": 2}),
                          help_text=_("Kept with the correction, with your name."))  # fmt: skip

    class Meta:
        model = Event
        fields = ["reason", "value"]


class EventCorrectionInline(admin.TabularInline):
    model = EventCorrection
    fields = ["corrected_at", "user", "before", "after", "why"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    form = EventCorrectionForm
    inlines = [EventCorrectionInline]
    list_display = ["occurred_at", "type", "customer", "segment", "from_segment", "to_segment", "value", "reason",
                    "referrer"]  # fmt: skip
    # A date filter rather than date_hierarchy (its year links scan the whole event log), and no second
    # count of the whole log beside the filtered one.
    list_filter = ["type", "connection", "segment", "occurred_at"]
    list_select_related = ["customer", "segment", "from_segment", "to_segment", "referrer"]
    search_fields = ["customer__name", "customer__external_id", "source_key", "reason"]
    show_full_result_count = False
    readonly_fields = ["type", "occurred_at", "customer", "segment", "from_segment", "to_segment", "referrer",
                       "connection", "source_key", "created_at"]  # fmt: skip

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        stored = Event.objects.get(pk=obj.pk)
        event_correct(event=stored, by=request.user, why=form.cleaned_data["why"], reason=obj.reason, value=obj.value)


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    """The suppression list, read-only: hashes only, nothing to search a name or an email by."""

    list_display = ["kind", "short_digest", "connection", "reason", "created_at", "last_blocked_at", "times_blocked",
                    "current_key"]  # fmt: skip
    list_filter = ["kind", "reason", "connection"]
    fields = ["kind", "digest", "key_id", "connection", "reason", "created_at", "last_blocked_at", "times_blocked"]
    readonly_fields = fields

    @admin.display(description=_("keyed hash"))
    def short_digest(self, obj):
        return f"{obj.digest[:16]}…"

    @admin.display(description=_("matches with the current key"), boolean=True)
    def current_key(self, obj):
        return obj.key_id == key_id()

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # removing an entry would let the CRM bring the subject back


@admin.register(HeldEvent)
class HeldEventAdmin(admin.ModelAdmin):
    """Events for customers the site does not know: why each is held, and the row it came from. They
    are applied at the end of every sync or import once their customer is known, or with the action."""

    list_display = ["source", "type", "customer_external_id", "occurred_at", "connection", "why", "created_at"]
    list_filter = ["type", "connection"]
    search_fields = ["customer_external_id", "source", "event_id"]
    readonly_fields = ["connection", "event_id", "customer_external_id", "type", "occurred_at", "source", "record",
                       "reason", "created_at"]  # fmt: skip
    actions = ["apply_known"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("reason"))
    def why(self, obj: HeldEvent) -> str:
        # The first clause; the whole reason and the source row are on the event's page.
        return obj.reason.split(":", 1)[0]

    @admin.action(description=_("Apply the selected events whose customer is known now"), permissions=["delete"])
    def apply_known(self, request, queryset):
        applied = 0
        selected = list(queryset.select_related("connection", "connection__match_connection"))
        for connection in {row.connection_id: row.connection for row in selected}.values():
            pks = [row.pk for row in selected if row.connection_id == connection.pk]
            applied += held_events_apply(connection=connection, pks=pks)
        self.message_user(
            request,
            _("%(applied)d of %(selected)d events applied; the others still name an unknown customer.")
            % {"applied": applied, "selected": len(selected)},
            messages.SUCCESS if applied else messages.WARNING,
        )

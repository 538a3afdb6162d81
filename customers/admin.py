"""Admin for segments, customers and the event log. Customers and events come from the CRM: an admin
edits a few customer fields, corrects an event's reason or value saying why, and deletes customers,
each through ``customers.services`` (so every figure follows at once)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from customers.models import Customer, Event, EventCorrection, Segment
from customers.services import (
    EDITABLE_FIELDS,
    customer_anonymise,
    customer_update,
    customers_delete,
    event_correct,
    segments_delete,
)


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ["name", "rank", "description"]
    search_fields = ["name"]

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
    fields = ["connection", "external_id", "segment", "status", "acquired_at", "lost_at", "lost_reason",
              "referred_by", *EDITABLE_FIELDS, "state_as_of", "created_at", "updated_at"]  # fmt: skip

    actions = ["anonymise"]

    @admin.action(description=_("Anonymise (erase name and email, stop surveys)"))
    def anonymise(self, request, queryset):
        for customer in queryset:
            customer_anonymise(customer=customer)

    def get_readonly_fields(self, request, obj=None):
        return [f for f in self.fields if f not in EDITABLE_FIELDS]

    def has_add_permission(self, request):
        return False  # customers come from the CRM connections

    def save_model(self, request, obj, form, change):
        customer_update(customer=obj, **{name: form.cleaned_data[name] for name in form.changed_data})

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

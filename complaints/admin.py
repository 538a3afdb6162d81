from django import forms
from django.contrib import admin

from .models import Complaint, ComplaintCategory, IdempotencyKey
from .services import complaint_create, complaint_delete, complaint_problems, complaint_update


@admin.register(ComplaintCategory)
class ComplaintCategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "name_es", "active", "ordering"]
    list_editable = ["active", "ordering"]
    search_fields = ["name", "name_es"]


class ComplaintAdminForm(forms.ModelForm):
    class Meta:
        model = Complaint
        fields = ["kind", "customer", "received_at", "channel", "category", "summary", "resolved_at", "external_id"]

    def clean(self):
        data = super().clean()
        if data.get("received_at") and data.get("channel") and data.get("kind"):
            problems = complaint_problems(
                kind=data["kind"],
                channel=data["channel"],
                received_at=data["received_at"],
                resolved_at=data.get("resolved_at"),
                summary=data.get("summary") or "",
                external_id=data.get("external_id") or "",
            )
            for field, problem in problems.items():
                self.add_error(field if field in self.fields else None, problem)
        return data


@admin.register(Complaint)
class ComplaintAdmin(admin.ModelAdmin):
    """Every write goes through the services, which record the change for the figures."""

    form = ComplaintAdminForm
    list_display = ["received_at", "kind", "category", "channel", "customer", "resolved_at", "source"]
    list_filter = ["kind", "category", "channel", "source", ("received_at", admin.DateFieldListFilter)]
    list_select_related = ["category", "customer"]
    raw_id_fields = ["customer"]
    search_fields = ["external_id", "customer__external_id", "customer__name", "summary"]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return ["source", "external_id", "segment", "created_by", "created_at"] if obj else []

    def save_model(self, request, obj, form, change):
        if change:
            stored = Complaint.objects.get(pk=obj.pk)
            complaint_update(complaint=stored, **{n: form.cleaned_data[n] for n in form.changed_data})
            return
        created, _new = complaint_create(
            kind=obj.kind,
            customer=obj.customer,
            received_at=obj.received_at,
            channel=obj.channel,
            category=obj.category,
            summary=obj.summary,
            resolved_at=obj.resolved_at,
            source=Complaint.Source.ADMIN,
            external_id=obj.external_id,
            created_by=request.user,
        )
        obj.pk = created.pk

    def delete_model(self, request, obj):
        complaint_delete(complaint=obj)

    def delete_queryset(self, request, queryset):
        for complaint in queryset:
            complaint_delete(complaint=complaint)


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = ["key", "user", "status", "created_at"]
    readonly_fields = ["user", "key", "request_hash", "status", "body", "created_at"]

    def has_add_permission(self, request):
        return False

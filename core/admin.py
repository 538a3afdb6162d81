from django.contrib import admin, messages

from .models import ApiToken, hash_token


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Only the hash is stored: the token is shown once, in the message after it is created."""

    list_display = ("name", "user", "prefix", "created_at", "last_used_at")
    list_select_related = ("user",)
    search_fields = ("name", "user__username")
    fields = ("user", "name")
    readonly_fields = ()

    def has_change_permission(self, request, obj=None) -> bool:
        return False if obj is not None else super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change) -> None:
        import secrets

        raw = "cxm_" + secrets.token_urlsafe(32)
        obj.key_hash = hash_token(raw)
        obj.prefix = raw[:8]
        super().save_model(request, obj, form, change)
        messages.warning(
            request,
            f"API token for {obj.user}: {raw} — copy it now; it is stored hashed and will not be shown again.",
        )

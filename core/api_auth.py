"""Token authentication for the JSON APIs: ``Authorization: Bearer <token>``; a session also works."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils import timezone

from .models import ApiToken, hash_token


def api_user(request: HttpRequest):
    """The user behind the request's bearer token or session, or None."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        raw = header.removeprefix("Bearer ").strip()
        token = ApiToken.objects.select_related("user").filter(key_hash=hash_token(raw)).first()
        if token is None or not token.user.is_active:
            return None
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        return token.user
    if request.user.is_authenticated:
        return request.user
    return None

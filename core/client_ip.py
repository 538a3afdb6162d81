"""The client's address, as every per-address limit counts it (sign-in lockouts, the API token throttle)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest, header: str | None = None) -> str:
    """REMOTE_ADDR, or behind a reverse proxy the header it sets (``header``, by default
    settings.CLIENT_IP_HEADER, e.g. HTTP_X_REAL_IP). Only the first address of a list counts: the proxy
    must overwrite the header, since a client can send one of its own."""
    header = settings.CLIENT_IP_HEADER if header is None else header
    value = request.META.get(header, "") if header else ""
    return (value.split(",")[0].strip() if value else "") or request.META.get("REMOTE_ADDR", "")

"""Token authentication for the JSON APIs: ``Authorization: Bearer <token>``; a session also works.

Unknown tokens are counted per client address in the default cache (Redis in production): past
API_TOKEN_FAILURE_LIMIT within API_TOKEN_FAILURE_WINDOW_SECONDS, that address's bearer requests are
answered 429 with Retry-After, and no token of theirs is checked until the window ends.
"""

from __future__ import annotations

import math
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from .client_ip import client_ip
from .models import ApiToken, hash_token


class ApiThrottled(Exception):
    """Too many unknown tokens from this address; ApiThrottleMiddleware answers 429."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many invalid API tokens; retry after {retry_after} seconds.")
        self.retry_after = retry_after


def _keys(address: str) -> tuple[str, str]:
    return f"api-token-failures:{address}", f"api-token-failures-until:{address}"


def _throttle_check(address: str) -> None:
    count_key, until_key = _keys(address)
    if (cache.get(count_key) or 0) < settings.API_TOKEN_FAILURE_LIMIT:
        return
    until = cache.get(until_key) or time.time() + settings.API_TOKEN_FAILURE_WINDOW_SECONDS
    raise ApiThrottled(max(1, math.ceil(until - time.time())))


def _failure_record(address: str) -> None:
    """One more failure in the address's window. The window opens at the first failure and later ones
    do not extend it, so a throttled address is let through again when it ends. add + incr are atomic
    in Redis, so concurrent requests from one address are all counted."""
    count_key, until_key = _keys(address)
    window = settings.API_TOKEN_FAILURE_WINDOW_SECONDS
    if cache.add(count_key, 0, timeout=window):
        cache.set(until_key, time.time() + window, timeout=window)
    try:
        cache.incr(count_key)
    except ValueError:  # the window ended between add and incr
        cache.set(count_key, 1, timeout=window)
        cache.set(until_key, time.time() + window, timeout=window)


def api_user(request: HttpRequest):
    """The user behind the request's bearer token or session, or None.

    Raises ApiThrottled for an address that sent too many unknown tokens."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        address = client_ip(request)
        _throttle_check(address)
        raw = header.removeprefix("Bearer ").strip()
        token = ApiToken.objects.select_related("user").filter(key_hash=hash_token(raw)).first()
        if token is None or not token.user.is_active:
            _failure_record(address)
            return None
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        return token.user
    if request.user.is_authenticated:
        return request.user
    return None


class ApiThrottleMiddleware:
    """Turns ApiThrottled, raised by api_user in any API view, into one 429 JSON answer."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        if not isinstance(exception, ApiThrottled):
            return None
        response = JsonResponse(
            {"error": "throttled", "detail": str(exception), "retry_after": exception.retry_after}, status=429
        )
        response["Retry-After"] = str(exception.retry_after)
        return response

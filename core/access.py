"""Who may see what. Admins (staff) and members of the "CX managers" group see the
dashboards; any other signed-in user gets 403; anonymous users go to the login page."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse


def is_cx_manager(user) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_staff or user.is_superuser:
        return True
    return user.groups.filter(name=settings.CX_MANAGERS_GROUP).exists()


def cx_manager_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_cx_manager(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper

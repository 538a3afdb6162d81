from django.http import HttpRequest

from .access import is_cx_manager


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    return {"can_view_dashboards": bool(user and is_cx_manager(user))}

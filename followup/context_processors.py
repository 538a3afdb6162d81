from django.http import HttpRequest

from .access import may_use_cases


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    return {"can_use_cases": bool(user and may_use_cases(user))}

"""Request checks that hold for every view."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.utils.translation import gettext as _

from core.inputs import contains_nul

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


class RejectNulMiddleware:
    """Answers 400 to a request with a NUL character (%00 once decoded) in its path, a query parameter,
    a cookie or a form field, before any view can pass it to the database.

    Only URL-encoded form bodies are read here: reading a multipart body would fix its upload handlers
    before the view chooses them. Uploaded files and JSON bodies are checked where they are parsed."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._has_nul(request):
            message = _("The request contains a NUL character (a zero byte), which is not allowed.")
            if request.path_info.startswith("/api/"):
                return JsonResponse({"error": "nul_character", "detail": message}, status=400)
            return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
        return self.get_response(request)

    @staticmethod
    def _has_nul(request: HttpRequest) -> bool:
        if contains_nul(request.path_info) or contains_nul(request.path):
            return True
        if contains_nul(dict(request.GET.lists())) or contains_nul(request.COOKIES):
            return True
        if request.method == "POST" and request.content_type == FORM_CONTENT_TYPE:
            return contains_nul(dict(request.POST.lists()))
        return False

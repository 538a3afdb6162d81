"""The metrics JSON API: ``GET /api/v1/metrics/?start=YYYY-MM-DD&end=YYYY-MM-DD&segment=…``.

Authenticated by a bearer token (or a session); only CX managers may read it. The response is
``metrics_document`` for the filters, the same document the ``metrics`` command prints.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from core.access import is_cx_manager
from core.api_auth import api_user
from metrics.document import metrics_document
from metrics.filters import MetricFilterForm


def _error(message: str, status: int, **extra) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


# Exempt from the CSRF check, which would answer a token client's POST with the HTML page of a CSRF
# failure: GET is the only method served and it changes nothing, and any other method is answered 405
# before the caller is identified, so a forged request riding on a session cookie can do nothing.
@csrf_exempt
def metrics_json(request: HttpRequest) -> JsonResponse:
    if request.method != "GET":
        response = _error("Only GET is allowed.", 405)
        response["Allow"] = "GET"
        return response
    user = api_user(request)
    if user is None:
        response = _error("Authentication required: send 'Authorization: Bearer <token>'.", 401)
        response["WWW-Authenticate"] = 'Bearer realm="cxmetrics"'
        return response
    if not is_cx_manager(user):
        return _error("Only CX managers may read the metrics.", 403)
    form = MetricFilterForm(request.GET)
    if not form.is_valid():
        fields = {name: [str(e) for e in errors] for name, errors in form.errors.items()}
        return _error(f"Bad parameters: {form.error_text()}", 400, fields=fields)
    return JsonResponse(metrics_document(form.filters()))

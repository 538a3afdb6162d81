"""The JSON API, authenticated by a bearer token (or a session); only CX managers may read it.

- ``GET /api/v1/metrics/?start=YYYY-MM-DD&end=YYYY-MM-DD&segment=…``: ``metrics_document`` for the
  filters, the same document the ``metrics`` command prints.
- ``GET /api/v1/responses/?…&cursor=``: the responses explorer, newest first, a keyset page at a time.
- ``GET /api/v1/customers/<CRM id>/?connection=<name>``: one customer's page as data.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from core.access import is_cx_manager
from core.api_auth import api_user
from customers.selectors import customer_events, customer_referrals_made, customers_by_crm_id
from metrics.document import metrics_document
from metrics.filters import MetricFilterForm

from . import selectors
from .forms import ResponseFilterForm


def _error(message: str, status: int, **extra) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def _refusal(request: HttpRequest, forbidden: str) -> JsonResponse | None:
    """The answer to a request the API does not serve (not a GET, no credentials, not a CX manager),
    or None when it may go on."""
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
        return _error(forbidden, 403)
    return None


def _bad_parameters(*forms) -> JsonResponse:
    invalid = [form for form in forms if form.errors]
    fields = {name: [str(e) for e in errors] for form in invalid for name, errors in form.errors.items()}
    return _error(f"Bad parameters: {'; '.join(form.error_text() for form in invalid)}", 400, fields=fields)


# Exempt from the CSRF check, which would answer a token client's POST with the HTML page of a CSRF
# failure: GET is the only method served and it changes nothing, and any other method is answered 405
# before the caller is identified, so a forged request riding on a session cookie can do nothing.
@csrf_exempt
def metrics_json(request: HttpRequest) -> JsonResponse:
    refusal = _refusal(request, "Only CX managers may read the metrics.")
    if refusal:
        return refusal
    form = MetricFilterForm(request.GET)
    if not form.is_valid():
        return _bad_parameters(form)
    return JsonResponse(metrics_document(form.filters()))


def _customer_ref(customer) -> dict | None:
    """A customer as a response names them: the CRM's id and connection; no name once erased."""
    if customer is None:
        return None
    return {
        "crm_id": customer.external_id,
        "connection": customer.connection.name,
        "name": None if customer.erased_at else customer.name,
        "personal_data_erased": customer.erased_at is not None,
    }


def _response(response, *, with_customer: bool = True) -> dict:
    document = {
        "id": response.pk,
        "submitted_at": response.submitted_at.isoformat(),
        "survey": response.survey.slug,
        "survey_title": selectors.survey_label(response.survey),
        "survey_type": response.survey_type,
        "touchpoint": response.touchpoint,
        "audience": response.audience,
        "channel": response.channel,
        "language": response.language,
        "segment": response.segment.name if response.segment else None,
        "nps": response.nps,
        "csat": response.csat,
        "ces": response.ces,
        "comment": response.comment,
    }
    if with_customer:
        document["customer"] = _customer_ref(response.customer)
    return document


@csrf_exempt
def responses_json(request: HttpRequest) -> JsonResponse:
    """The explorer's responses for the dashboard filters and its own, newest first, 50 at a time;
    ``next`` is the URL of the next page (null on the last), its ``cursor`` an opaque token."""
    refusal = _refusal(request, "Only CX managers may read the responses.")
    if refusal:
        return refusal
    form, explorer = MetricFilterForm(request.GET), ResponseFilterForm(request.GET)
    if not (form.is_valid() & explorer.is_valid()):  # both, so every bad parameter is listed
        return _bad_parameters(form, explorer)
    filters = form.filters()
    rows = selectors.explorer_rows(filters=filters, **explorer.selection())
    page = selectors.keyset_page(rows, cursor=explorer.cleaned_data["cursor"])
    following = None
    if page.older:
        params = request.GET.copy()
        params["cursor"] = page.older.token()
        following = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
    return JsonResponse(
        {
            "period": {"start": filters.start.isoformat(), "end": filters.end.isoformat()},
            "results": [_response(r) for r in page.rows],
            "next": following,
        }
    )


def _money(value) -> float | None:
    return None if value is None else float(value)


def _at(value) -> str | None:
    return None if value is None else value.isoformat()


@csrf_exempt
def customer_json(request: HttpRequest, external_id: str) -> JsonResponse:
    """One customer by CRM id: who they are, every response and CRM event, the referrals they made.
    ``connection`` picks the CRM when more than one holds the id (409 lists them)."""
    refusal = _refusal(request, "Only CX managers may read customers.")
    if refusal:
        return refusal
    connection = request.GET.get("connection", "")
    found = customers_by_crm_id(external_id=external_id, connection_name=connection)
    if not found:
        where = f" in connection '{connection}'" if connection else ""
        return _error(f"No customer with CRM id '{external_id}'{where}.", 404)
    if len(found) > 1:
        return _error(
            f"More than one CRM connection holds the id '{external_id}': add ?connection=<name>.",
            409,
            connections=[c.connection.name for c in found],
        )
    customer = found[0]
    erased = customer.erased_at is not None
    events = customer_events(customer_id=customer.pk)
    return JsonResponse(
        {
            "customer": {
                **_customer_ref(customer),
                "email": None if erased else customer.email,
                "segment": customer.segment.name if customer.segment else None,
                "status": customer.status,
                "audience": customer.audience,
                "value": _money(customer.value),
                "acquired_at": _at(customer.acquired_at),
                "lost_at": _at(customer.lost_at),
                "lost_reason": customer.lost_reason,
                "referred_by": customer.referred_by.external_id if customer.referred_by else None,
            },
            "responses": [
                _response(r, with_customer=False) for r in selectors.customer_responses(customer_id=customer.pk)
            ],
            "events": [
                {
                    "type": e.type,
                    "occurred_at": e.occurred_at.isoformat(),
                    "value": _money(e.value),
                    "reason": e.reason,
                    "segment": e.segment.name if e.segment else None,
                    "from_segment": e.from_segment.name if e.from_segment else None,
                    "to_segment": e.to_segment.name if e.to_segment else None,
                    "referrer": e.referrer.external_id if e.referrer else None,
                }
                for e in events
            ],
            "referrals_made": [
                {"occurred_at": e.occurred_at.isoformat(), "crm_id": e.customer.external_id}
                for e in customer_referrals_made(customer_id=customer.pk)
            ],
        }
    )

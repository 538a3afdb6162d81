"""``/api/v1/cases/``: the cases as data, for a helpdesk or a script. Same authentication as the metrics
API (a bearer token or a session). CX managers see and change every case; case handlers only theirs.

- ``GET /api/v1/cases/?status=&owner=<username>&cursor=``: newest first, 50 a page; ``next`` is the next
  page's URL (null on the last).
- ``POST /api/v1/cases/`` ``{"customer": {"crm_id": …, "connection": …} | "response": <id>, "owner":
  <username>, "priority", "sla_hours", "note"}``: 201 with the case.
- ``GET``/``PATCH /api/v1/cases/<id>/`` ``{"status"} | {"outcome", "note"} | {"owner"} | {"note"}``.

Errors are JSON ``{"error": …}``: 400 unreadable body or parameters, 401 no credentials, 403 not allowed,
404 no such case/customer/response, 409 the case's state refuses the change (closing a closed case) or a
CRM id held by more than one connection, 422 a well-formed body with values that cannot be used.
"""

from __future__ import annotations

import base64
import binascii
import json

from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from core.api_auth import api_user
from customers.selectors import customers_by_crm_id
from surveys.models import Response

from . import services
from .access import cases_visible, is_manager, may_see_customer, may_use_cases
from .models import Case, Priority

PAGE_SIZE = 50


def _error(message: str, status: int, **extra) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def _user_or_refusal(request: HttpRequest, methods: tuple[str, ...]):
    if request.method not in methods:
        response = _error(f"Only {', '.join(methods)} allowed.", 405)
        response["Allow"] = ", ".join(methods)
        return None, response
    user = api_user(request)
    if user is None:
        response = _error("Authentication required: send 'Authorization: Bearer <token>'.", 401)
        response["WWW-Authenticate"] = 'Bearer realm="cxmetrics"'
        return None, response
    if not may_use_cases(user):
        return None, _error("Only CX managers and case handlers may use cases.", 403)
    return user, None


def _at(value) -> str | None:
    return None if value is None else value.isoformat()


def case_document(case: Case) -> dict:
    customer = case.customer
    return {
        "id": case.pk,
        "customer": {
            "crm_id": customer.external_id,
            "connection": customer.connection.name,
            "name": None if customer.erased_at else customer.name,
            "value": float(customer.value),
        },
        "response": case.response_id,
        "owner": case.owner.get_username() if case.owner else None,
        "status": case.status,
        "priority": case.priority,
        "created_at": _at(case.created_at),
        "due_at": _at(case.due_at),
        "first_contact_at": _at(case.first_contact_at),
        "closed_at": _at(case.closed_at),
        "outcome": case.outcome or None,
        "opened_by_rule": case.opened_by_rule_id,
    }


def _body(request: HttpRequest) -> dict | JsonResponse:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return _error("The body is not JSON.", 400)
    if not isinstance(body, dict):
        return _error("The body must be a JSON object.", 400)
    return body


def _cursor(token: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().removeprefix("case:"))
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise ValueError(f"Not a page cursor: {token!r}.") from exc


def _token(pk: int) -> str:
    return base64.urlsafe_b64encode(f"case:{pk}".encode()).decode().rstrip("=")


def _owner(username) -> object:
    if not isinstance(username, str):
        raise LookupError("owner must be a username.")
    owner = get_user_model().objects.filter(username=username, is_active=True).first()
    if owner is None:
        raise LookupError(f"No active user '{username}'.")
    return owner


@csrf_exempt
def cases_json(request: HttpRequest) -> JsonResponse:
    user, refusal = _user_or_refusal(request, ("GET", "POST"))
    if refusal:
        return refusal
    if request.method == "POST":
        return _case_create(request, user)
    cases = cases_visible(user).select_related("customer__connection", "owner").order_by("-pk")
    status = request.GET.get("status", "")
    if status:
        if status not in Case.Status.values:
            return _error(f"Bad parameters: status must be one of {', '.join(Case.Status.values)}.", 400)
        cases = cases.filter(status=status)
    if request.GET.get("owner"):
        cases = cases.filter(owner__username=request.GET["owner"])
    if request.GET.get("cursor"):
        try:
            cases = cases.filter(pk__lt=_cursor(request.GET["cursor"]))
        except ValueError as exc:
            return _error(f"Bad parameters: {exc}", 400)
    rows = list(cases[: PAGE_SIZE + 1])
    following = None
    if len(rows) > PAGE_SIZE:
        rows = rows[:PAGE_SIZE]
        params = request.GET.copy()
        params["cursor"] = _token(rows[-1].pk)
        following = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
    return JsonResponse({"results": [case_document(c) for c in rows], "next": following})


def _case_create(request: HttpRequest, user) -> JsonResponse:
    body = _body(request)
    if isinstance(body, JsonResponse):
        return body
    response = None
    if body.get("response") is not None:
        if not isinstance(body["response"], int):
            return _error("response must be a response id (an integer).", 422)
        response = Response.objects.select_related("customer").filter(pk=body["response"]).first()
        if response is None:
            return _error(f"No response {body['response']}.", 404)
        if response.customer is None:
            return _error("The response has no identified customer.", 422)
        customer = response.customer
    elif isinstance(body.get("customer"), dict) and body["customer"].get("crm_id"):
        ref = body["customer"]
        found = customers_by_crm_id(external_id=str(ref["crm_id"]), connection_name=str(ref.get("connection") or ""))
        if not found:
            return _error(f"No customer with CRM id '{ref['crm_id']}'.", 404)
        if len(found) > 1:
            return _error(
                "More than one CRM connection holds this id: add customer.connection.",
                409,
                connections=[c.connection.name for c in found],
            )
        customer = found[0]
    else:
        return _error('Give a response id or a customer {"crm_id": …, "connection": …}.', 422)
    if not may_see_customer(user, customer.pk) and not is_manager(user):
        return _error("You may only open cases on your own customers.", 403)
    try:
        owner = _owner(body["owner"]) if body.get("owner") is not None else user
    except LookupError as exc:
        return _error(str(exc), 422)
    if owner != user and not is_manager(user):
        return _error("Only CX managers may assign a case to someone else.", 403)
    priority = body.get("priority", Priority.NORMAL)
    sla_hours = body.get("sla_hours", 48)
    if priority not in Priority.values:
        return _error(f"priority must be one of {', '.join(Priority.values)}.", 422)
    if sla_hours is not None and (not isinstance(sla_hours, int) or isinstance(sla_hours, bool) or sla_hours < 1):
        return _error("sla_hours must be a whole number of hours, at least 1 (or null for no due time).", 422)
    if not isinstance(body.get("note", ""), str):
        return _error("note must be text.", 422)
    case = services.case_open(
        customer=customer,
        response=response,
        owner=owner,
        by=user,
        priority=priority,
        sla_hours=sla_hours,
        note=body.get("note", ""),
    )
    case = Case.objects.select_related("customer__connection", "owner").get(pk=case.pk)
    return JsonResponse(case_document(case), status=201)


PATCH_FIELDS = {"status", "outcome", "owner", "note"}


@csrf_exempt
def case_json(request: HttpRequest, pk: int) -> JsonResponse:
    user, refusal = _user_or_refusal(request, ("GET", "PATCH"))
    if refusal:
        return refusal
    case = cases_visible(user).select_related("customer__connection", "owner").filter(pk=pk).first()
    if case is None:
        return _error(f"No case {pk}.", 404)
    if request.method == "PATCH":
        body = _body(request)
        if isinstance(body, JsonResponse):
            return body
        unknown = set(body) - PATCH_FIELDS
        if unknown or not body:
            return _error(f"Send one or more of: {', '.join(sorted(PATCH_FIELDS))}.", 400)
        if "status" in body and "outcome" in body:
            return _error("Close a case with an outcome, or change its status: not both.", 422)
        note = body.get("note", "")
        if not isinstance(note, str):
            return _error("note must be text.", 422)
        # Every check before any change, so a refused request changes nothing.
        owner = None
        if "owner" in body:
            if not is_manager(user):
                return _error("Only CX managers may reassign a case.", 403)
            try:
                owner = _owner(body["owner"])
            except LookupError as exc:
                return _error(str(exc), 422)
        if "status" in body and (body["status"] not in Case.Status.values or body["status"] == Case.Status.CLOSED):
            return _error("status must be open, in_progress or waiting (close with an outcome).", 422)
        if "outcome" in body:
            if body["outcome"] not in Case.Outcome.values:
                return _error(f"outcome must be one of {', '.join(Case.Outcome.values)}.", 422)
            if case.status == Case.Status.CLOSED:
                return _error("The case is already closed.", 409)
        try:
            with transaction.atomic():
                if owner is not None:
                    services.case_assign(case=case, owner=owner, by=user)
                if "status" in body:
                    services.case_status_set(case=case, status=body["status"], by=user)
                if "outcome" in body:
                    services.case_close(case=case, outcome=body["outcome"], note=note, by=user)
                elif note.strip():
                    services.case_note_add(case=case, text=note, by=user)
        except services.CaseError as exc:  # a concurrent change got there first (closed meanwhile)
            return _error(str(exc), 409)
        case = Case.objects.select_related("customer__connection", "owner").get(pk=case.pk)
    return JsonResponse(case_document(case))

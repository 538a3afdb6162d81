"""``POST /api/v1/complaints/``: a helpdesk pushes a complaint or an inquiry.

Authenticated by a bearer token only (no session: a form on another site cannot post with a signed-in
user's cookie), of a user who may log complaints. The ``Idempotency-Key`` header is required: a retry
with the same key and the same body gets the stored answer again (its status and body), the same key
with another body is 409. Answers: 201 created, 200 when the body's ``external_id`` was pushed before
(that complaint), 400 bad JSON or header, 401, 403, 405, 409, 422 with the fields' errors.

Body (JSON object): ``received_at`` (ISO 8601; without an offset, site time), ``channel`` (phone, email,
web, in_person, social, other), ``category`` (a category's English or Spanish name), and optionally
``kind`` (complaint, the default, or inquiry), ``customer_id`` (the CRM id) with ``connection`` (when
more than one CRM holds the id), ``summary``, ``resolved_at``, ``external_id`` (the helpdesk's id).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from core.api_auth import api_user
from customers.selectors import customers_by_crm_id

from .models import Complaint, IdempotencyKey
from .selectors import active_categories, category_by_name, may_log_complaints
from .services import ComplaintInvalid, complaint_create

KEY_MAX = 255
FIELDS = ("kind", "customer_id", "connection", "received_at", "resolved_at", "channel", "category", "summary",
          "external_id")  # fmt: skip


def _error(message: str, status: int, **extra) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def complaint_document(complaint: Complaint) -> dict:
    customer = complaint.customer
    return {
        "id": complaint.pk,
        "kind": complaint.kind,
        "customer": None
        if customer is None
        else {"crm_id": customer.external_id, "connection": customer.connection.name},
        "received_at": complaint.received_at.astimezone(UTC).isoformat(),
        "channel": complaint.channel,
        "category": complaint.category.name,
        "summary": complaint.summary,
        "resolved_at": complaint.resolved_at.astimezone(UTC).isoformat() if complaint.resolved_at else None,
        "external_id": complaint.external_id or None,
    }


def _moment(value, name: str, errors: dict) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        errors[name] = "Give an ISO 8601 date and time as a string, e.g. 2026-01-31T14:05:00+01:00."
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        errors[name] = f"{value[:40]!r} is not an ISO 8601 date and time (e.g. 2026-01-31T14:05:00+01:00)."
        return None
    if timezone.is_naive(parsed):
        try:
            parsed = timezone.make_aware(parsed, timezone.get_default_timezone())
        except Exception:  # zoneinfo: a time skipped by a daylight-saving change
            errors[name] = f"{value!r} does not exist in the site's time zone."
            return None
    return parsed


def _text(body: dict, name: str, errors: dict) -> str:
    value = body.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        errors[name] = "Give a string."
        return ""
    return value.strip()


def _validated(body: dict) -> tuple[dict, dict[str, str]]:
    """The keyword arguments of complaint_create, or the errors per field."""
    errors: dict[str, str] = {}
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        errors["__all__"] = f"Unknown fields: {', '.join(unknown)} (known: {', '.join(FIELDS)})."
    text = {name: _text(body, name, errors) for name in FIELDS if name not in ("received_at", "resolved_at")}
    received_at = _moment(body.get("received_at"), "received_at", errors)
    if received_at is None and "received_at" not in errors:
        errors["received_at"] = "This field is required."
    resolved_at = _moment(body.get("resolved_at"), "resolved_at", errors)
    kind = text["kind"] or Complaint.Kind.COMPLAINT
    for name, value, choices in (
        ("kind", kind, Complaint.Kind.values),
        ("channel", text["channel"], Complaint.Channel.values),
    ):
        if name in errors:
            continue
        if not value:
            errors[name] = "This field is required."
        elif value not in choices:
            errors[name] = f"{value[:40]!r} is not one of {', '.join(choices)}."
    category = None
    if "category" not in errors:
        if not text["category"]:
            errors["category"] = "This field is required."
        elif (category := category_by_name(text["category"])) is None:
            known = ", ".join(c.name for c in active_categories())
            errors["category"] = f"{text['category'][:80]!r} is not an active category (one of: {known})."
    customer = None
    if text["customer_id"] and "customer_id" not in errors:
        found = customers_by_crm_id(external_id=text["customer_id"], connection_name=text["connection"])
        if not found:
            where = f" in connection '{text['connection']}'" if text["connection"] else ""
            errors["customer_id"] = f"No customer with CRM id '{text['customer_id'][:100]}'{where}."
        elif len(found) > 1:
            names = ", ".join(c.connection.name for c in found)
            errors["customer_id"] = f'More than one CRM connection holds this id ({names}): add "connection".'
        else:
            customer = found[0]
    arguments = {
        "kind": kind,
        "customer": customer,
        "received_at": received_at,
        "resolved_at": resolved_at,
        "channel": text["channel"],
        "category": category,
        "summary": text["summary"],
        "external_id": text["external_id"],
    }
    return arguments, errors


def _replay(stored: IdempotencyKey, digest: str) -> JsonResponse:
    if stored.request_hash != digest:
        return _error("This Idempotency-Key was used with a different body: send a new key for a new complaint.", 409)
    response = JsonResponse(stored.body, status=stored.status)
    response["Idempotent-Replayed"] = "true"
    return response


@csrf_exempt  # bearer tokens only: a cross-site form cannot send the Authorization header
def complaints_json(request: HttpRequest) -> JsonResponse:
    if request.method != "POST":
        response = _error("Only POST is allowed.", 405)
        response["Allow"] = "POST"
        return response
    user = api_user(request) if request.headers.get("Authorization", "").startswith("Bearer ") else None
    if user is None:
        response = _error("Authentication required: send 'Authorization: Bearer <token>'.", 401)
        response["WWW-Authenticate"] = 'Bearer realm="cxmetrics"'
        return response
    if not may_log_complaints(user):
        return _error("Only CX managers and case handlers may log complaints.", 403)
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key or len(key) > KEY_MAX:
        return _error(
            f"Send an Idempotency-Key header (1 to {KEY_MAX} characters, e.g. a UUID) with each new complaint.", 400
        )
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        return _error(f"The body is not valid JSON: {exc}.", 400)
    if not isinstance(body, dict):
        return _error("The body must be a JSON object.", 400)
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    stored = IdempotencyKey.objects.filter(user=user, key=key).first()
    if stored:
        return _replay(stored, digest)
    arguments, errors = _validated(body)
    if errors:
        return _error("The complaint is not valid: see fields.", 422, fields=errors)
    try:
        with transaction.atomic():
            complaint, created = complaint_create(**arguments, source=Complaint.Source.API, created_by=user)
            status = 201 if created else 200
            document = complaint_document(complaint)
            IdempotencyKey.objects.create(user=user, key=key, request_hash=digest, status=status, body=document)
    except ComplaintInvalid as exc:
        return _error("The complaint is not valid: see fields.", 422, fields=exc.errors)
    except IntegrityError:
        # The same key arrived twice at once: the other request stored it (and its complaint) first.
        stored = IdempotencyKey.objects.filter(user=user, key=key).first()
        if stored is None:
            raise
        return _replay(stored, digest)
    return JsonResponse(document, status=status)

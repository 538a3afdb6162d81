"""Writing complaints and inquiries. Every write records the change for the read model in the same
transaction: a complaint of a known customer changes what the losses in the incident window after it
say ("lost after an incident"); the complaint figures themselves are read from the table directly."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.days import implausible_moment
from core.outbox import record_changes
from customers.models import Customer

from ..models import Complaint, ComplaintCategory

SUMMARY_MAX = 5000
EXTERNAL_ID_MAX = 100


class ComplaintInvalid(ValueError):
    """A complaint that cannot be stored as given: ``errors`` maps each field to what is wrong with it."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors


def complaint_problems(
    *,
    kind: str,
    channel: str,
    received_at: datetime,
    resolved_at: datetime | None,
    summary: str,
    external_id: str,
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if kind not in Complaint.Kind.values:
        errors["kind"] = f"{kind!r} is not one of {', '.join(Complaint.Kind.values)}"
    if channel not in Complaint.Channel.values:
        errors["channel"] = f"{channel!r} is not one of {', '.join(Complaint.Channel.values)}"
    for name, moment in (("received_at", received_at), ("resolved_at", resolved_at)):
        if moment is None:
            continue
        if timezone.is_naive(moment):
            errors[name] = "needs a time zone"
        elif problem := implausible_moment(moment, name=name):
            errors[name] = problem
    if resolved_at and "received_at" not in errors and "resolved_at" not in errors and resolved_at < received_at:
        errors["resolved_at"] = "is before received_at"
    if len(summary) > SUMMARY_MAX:
        errors["summary"] = f"is longer than {SUMMARY_MAX} characters ({len(summary)})"
    if len(external_id) > EXTERNAL_ID_MAX:
        errors["external_id"] = f"is longer than {EXTERNAL_ID_MAX} characters ({len(external_id)})"
    return errors


def _record(complaints: Iterable[Complaint]) -> None:
    """A complaint of a customer counts in the losses after it; one without a customer counts in nothing
    the read model keeps."""
    record_changes(complaints=[c.received_at for c in complaints if c.customer_id])


def complaint_create(
    *,
    kind: str = Complaint.Kind.COMPLAINT,
    customer: Customer | None,
    received_at: datetime,
    channel: str,
    category: ComplaintCategory,
    summary: str = "",
    resolved_at: datetime | None = None,
    source: str,
    external_id: str = "",
    created_by: AbstractBaseUser | None = None,
) -> tuple[Complaint, bool]:
    """Store a complaint or inquiry; (the complaint, True). With an ``external_id`` already stored for
    ``source``: (that complaint, False), unchanged, so a replayed push stores nothing twice. The segment
    is the customer's when it is logged."""
    summary, external_id = summary.strip(), external_id.strip()
    errors = complaint_problems(
        kind=kind,
        channel=channel,
        received_at=received_at,
        resolved_at=resolved_at,
        summary=summary,
        external_id=external_id,
    )
    if source not in Complaint.Source.values:
        errors["source"] = f"{source!r} is not one of {', '.join(Complaint.Source.values)}"
    if errors:
        raise ComplaintInvalid(errors)
    if external_id:
        found = Complaint.objects.filter(source=source, external_id=external_id).first()
        if found:
            return found, False
    complaint = Complaint(
        kind=kind,
        customer=customer,
        segment_id=customer.segment_id if customer else None,
        received_at=received_at,
        channel=channel,
        category=category,
        summary=summary,
        resolved_at=resolved_at,
        source=source,
        external_id=external_id,
        created_by=created_by,
    )
    try:
        with transaction.atomic():
            complaint.save()
            _record([complaint])
    except IntegrityError:
        # Another request stored the same external id between the look-up and the insert.
        found = Complaint.objects.filter(source=source, external_id=external_id).first() if external_id else None
        if found is None:
            raise
        return found, False
    return complaint, True


def complaint_resolve(*, complaint: Complaint, resolved_at: datetime | None = None) -> Complaint:
    """Mark a complaint resolved (now by default). Resolving changes no figure the read model keeps."""
    resolved_at = resolved_at or timezone.now()
    errors = complaint_problems(
        kind=complaint.kind,
        channel=complaint.channel,
        received_at=complaint.received_at,
        resolved_at=resolved_at,
        summary="",
        external_id="",
    )
    if errors:
        raise ComplaintInvalid(errors)
    complaint.resolved_at = resolved_at
    complaint.save(update_fields=["resolved_at"])
    return complaint


UPDATABLE = ("kind", "customer", "received_at", "channel", "category", "summary", "resolved_at")


def complaint_update(*, complaint: Complaint, **changes) -> Complaint:
    """Change any of UPDATABLE; a new customer brings their segment. Records the days the complaint
    counted on before and counts on after."""
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise TypeError(f"complaint_update cannot change {', '.join(sorted(unknown))}")
    before = Complaint(customer_id=complaint.customer_id, received_at=complaint.received_at)
    summary = complaint.summary
    for name, value in changes.items():
        setattr(complaint, name, value.strip() if name == "summary" else value)
    if complaint.summary != summary:
        complaint.summary_edited_at = timezone.now()
    errors = complaint_problems(
        kind=complaint.kind,
        channel=complaint.channel,
        received_at=complaint.received_at,
        resolved_at=complaint.resolved_at,
        summary=complaint.summary,
        external_id=complaint.external_id,
    )
    if errors:
        complaint.refresh_from_db()
        raise ComplaintInvalid(errors)
    if "customer" in changes:
        complaint.segment_id = complaint.customer.segment_id if complaint.customer else None
    with transaction.atomic():
        complaint.save()
        _record([before, complaint])
    return complaint


def complaint_delete(*, complaint: Complaint) -> None:
    with transaction.atomic():
        _record([complaint])
        complaint.delete()

"""Writes to customers and events outside a CRM sync: admin edits, corrections, deletes."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from core.outbox import record_changes
from customers.models import Customer, Event, EventCorrection, Segment, Suppression
from customers.services.erasure import customers_erase

# What an admin may change on a customer by hand; the rest follows the CRM and the event log.
EDITABLE_FIELDS = ("name", "email", "language", "country", "audience", "value", "unsubscribed_at")


def customer_update(*, customer: Customer, **fields) -> Customer:
    """Change these fields of a stored customer (admin)."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable by hand: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(customer, name, value)
    with transaction.atomic():
        customer.save(update_fields=[*fields, "updated_at"])
        record_changes(customers=[customer.pk])
    return customer


def customer_unsubscribe(*, customer_id: int) -> None:
    """Stop surveying a customer (their unsubscribe link); the first time counts."""
    Customer.objects.filter(pk=customer_id, unsubscribed_at__isnull=True).update(unsubscribed_at=timezone.now())


def customers_delete(*, customers: QuerySet[Customer]) -> int:
    """Delete customers and their events. Their responses and invitations stay, without the customer:
    the answers were given and the invitations sent. Referrals they made stay, without the referrer.

    Their personal data is erased first (``customers_erase``): otherwise their comments would stay
    behind, unlinked, and the next sync would create them again from the CRM, invitable as new. A
    deleted customer stays away like an erased one."""
    with transaction.atomic():
        ids = list(customers.select_for_update().values_list("pk", flat=True))
        customers_erase(customers=Customer.objects.filter(pk__in=ids), reason=Suppression.Reason.DELETED)
        moments = Event.objects.filter(Q(customer_id__in=ids) | Q(referrer_id__in=ids)).values_list(
            "occurred_at", flat=True
        )
        record_changes(events=list(moments), customers=ids)
        Customer.objects.filter(pk__in=ids).delete()
    return len(ids)


def segments_delete(*, segments: QuerySet[Segment]) -> int:
    """Delete value segments; customers, events and answers keep their rows without them (the customers
    in or moved through them are recorded: their segment over time is worked out again)."""
    with transaction.atomic():
        ids = list(segments.values_list("pk", flat=True))
        moved = Event.objects.filter(Q(from_segment_id__in=ids) | Q(to_segment_id__in=ids)).values_list("customer_id")
        affected = Customer.objects.filter(Q(segment_id__in=ids) | Q(pk__in=moved)).values_list("pk", flat=True)
        record_changes(customers=list(affected))
        Segment.objects.filter(pk__in=ids).delete()
    return len(ids)


def event_correct(*, event: Event, by, why: str, reason: str | None = None, value: Decimal | None = None) -> Event:
    """Correct a stored event's reason or value (a lost reason typed wrong in the CRM, a value missing),
    keeping who did it, when and why (EventCorrection)."""
    if not why.strip():
        raise ValueError("Say why the event is corrected.")
    changes = {name: new for name, new in (("reason", reason), ("value", value)) if new is not None}
    changes = {name: new for name, new in changes.items() if getattr(event, name) != new}
    if not changes:
        return event
    before = {name: str(getattr(event, name)) for name in changes}
    with transaction.atomic():
        for name, new in changes.items():
            setattr(event, name, new)
        event.save(update_fields=list(changes))
        EventCorrection.objects.create(
            event=event, user=by, why=why.strip(), before=before, after={n: str(v) for n, v in changes.items()}
        )
        record_changes(events=[event.occurred_at], customers=[event.customer_id])
    return event

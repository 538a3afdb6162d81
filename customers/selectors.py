"""Reads of the customers app."""

from __future__ import annotations

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q, QuerySet
from django.utils import timezone

from customers.models import Customer, CustomerExternalId, Event, Segment
from customers.privacy import Subject, export_everywhere
from customers.suppression import suppressed_crm_ids, suppressed_emails

EXPORT_FORMAT = "cxmetrics.customer-export/1"


def customers_targeted(
    *, segment=None, external_ids: list[str] | None = None, emails: list[str] | None = None
) -> QuerySet[Customer]:
    """The customers an invitation run addresses: a list of ids/emails, a value segment, or all active ones."""
    if external_ids is not None or emails is not None:
        query = Q(pk__in=[])
        if external_ids:
            query |= Q(external_id__in=external_ids)
        if emails:
            query |= Q(email__in=emails)
        return Customer.objects.filter(query)
    customers = Customer.objects.filter(status=Customer.Status.ACTIVE)
    if segment is not None:
        customers = customers.filter(segment=segment)
    return customers


def segment_names() -> list[str]:
    """The value segments' names, highest rank first."""
    return list(Segment.objects.order_by("-rank").values_list("name", flat=True))


def customer_find(*, connection_name: str = "", external_id: str = "", email: str = "") -> Customer | None:
    """One customer by connection and CRM id, or by email (the most recently created one)."""
    customers = Customer.objects.select_related("connection")
    if external_id:
        own = customers.filter(connection__name=connection_name, external_id=external_id).first()
        # Or the id it has in that connection when another connection stored it (CustomerExternalId).
        return (
            own
            or customers.filter(
                external_ids__connection__name=connection_name, external_ids__external_id=external_id
            ).first()
        )
    if email:
        return customers.filter(email__iexact=email.strip()).order_by("-created_at", "-pk").first()
    return None


def subject_erased(*, external_id: str = "", email: str = "") -> bool:
    """Whether a CRM id (any connection) or an email is on the suppression list."""
    if external_id:
        return bool(suppressed_crm_ids(external_ids=[external_id], blocked=False))
    return bool(email) and bool(suppressed_emails(emails=[email], blocked=False))


def _event(event: Event) -> dict:
    return {
        "type": event.type,
        "occurred_at": event.occurred_at,
        "value": event.value,
        "reason": event.reason,
        "segment": event.segment.name if event.segment else None,
        "from_segment": event.from_segment.name if event.from_segment else None,
        "to_segment": event.to_segment.name if event.to_segment else None,
        "referrer": event.referrer.external_id if event.referrer else None,
        "corrections": [
            {"corrected_at": c.corrected_at, "why": c.why, "before": c.before, "after": c.after}
            for c in event.corrections.all()
        ],
    }


def customer_export(*, customer: Customer) -> dict:
    """Everything held about one customer, as a JSON-ready document (dates and decimals for
    DjangoJSONEncoder): their record, events, referrals they made (dates only: the referred are other
    people), responses, invitations (without tokens) and the quarantined CRM records that mention them."""
    events = (
        Event.objects.filter(customer=customer)
        .select_related("segment", "from_segment", "to_segment", "referrer")
        .prefetch_related("corrections")
        .order_by("occurred_at", "pk")
    )
    referrals_made = Event.objects.filter(referrer=customer, type=Event.Type.REFERRAL).order_by("occurred_at", "pk")
    return {
        "format": EXPORT_FORMAT,
        "exported_at": timezone.now(),
        "customer": {
            "connection": customer.connection.name,
            "crm_id": customer.external_id,
            "name": customer.name,
            "email": customer.email,
            "contact_name": customer.contact_name,
            "language": customer.language,
            "country": customer.country,
            "audience": customer.audience,
            "value": customer.value,
            "segment": customer.segment.name if customer.segment else None,
            "status": customer.status,
            "acquired_at": customer.acquired_at,
            "lost_at": customer.lost_at,
            "lost_reason": customer.lost_reason,
            "referred_by": customer.referred_by.external_id if customer.referred_by else None,
            "unsubscribed_at": customer.unsubscribed_at,
            "personal_data_erased_at": customer.erased_at,
            "created_at": customer.created_at,
            "updated_at": customer.updated_at,
        },
        "ids_in_other_connections": [
            {"connection": name, "external_id": external_id}
            for name, external_id in customer.external_ids.order_by("connection__name").values_list(
                "connection__name", "external_id"
            )
        ],
        "events": [_event(e) for e in events],
        "referrals_made": [{"occurred_at": at} for at in referrals_made.values_list("occurred_at", flat=True)],
        # What the other apps hold of them (customers.privacy).
        **export_everywhere(
            Subject(
                customer_id=customer.pk,
                connection_id=customer.connection_id,
                external_id="" if customer.erased_at else customer.external_id,
                email=customer.email,
            )
        ),
    }


def customer_export_json(*, customer: Customer) -> str:
    return json.dumps(customer_export(customer=customer), cls=DjangoJSONEncoder, indent=2, ensure_ascii=False) + "\n"


def customer_profile(*, pk: int) -> Customer | None:
    """One customer with what their page shows beside them: connection, segment, who referred them."""
    return Customer.objects.select_related("connection", "segment", "referred_by").filter(pk=pk).first()


def customer_events(*, customer_id: int) -> list[Event]:
    """A customer's CRM events, newest first, with the segments and the referrer (one query)."""
    return list(
        Event.objects.filter(customer_id=customer_id)
        .select_related("segment", "from_segment", "to_segment", "referrer")
        .order_by("-occurred_at", "-pk")
    )


def customer_referrals_made(*, customer_id: int) -> list[Event]:
    """The referrals a customer made, newest first, with the referred party (one query)."""
    return list(
        Event.objects.filter(referrer_id=customer_id, type=Event.Type.REFERRAL)
        .select_related("customer")
        .order_by("-occurred_at", "-pk")
    )


def customers_by_crm_id(*, external_id: str, connection_name: str = "") -> list[Customer]:
    """The customers a CRM id names (one per connection holding it; only that connection's when given), as
    their own id or as their id in another connection (CustomerExternalId)."""
    own, other = Q(external_id=external_id), CustomerExternalId.objects.filter(external_id=external_id)
    if connection_name:
        own &= Q(connection__name=connection_name)
        other = other.filter(connection__name=connection_name)
    customers = Customer.objects.select_related("connection", "segment", "referred_by").filter(
        own | Q(pk__in=other.values("customer_id"))
    )
    return list(customers.order_by("connection__name", "pk")[:50])

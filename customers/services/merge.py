"""Merging the customers a connection created before it matched another connection's customers: the second,
lost "Norte Textiles GmbH 1172" an ERP file made while the CRM's stays active."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q

from core.outbox import record_changes
from customers.models import Customer, CustomerExternalId, Event
from customers.services.apply import other_keys_resolve

log = logging.getLogger(__name__)

CHUNK = 1000
STATE = ("status", "acquired_at", "lost_at", "lost_reason", "state_as_of")


@dataclass
class MergeResult:
    merged: int = 0
    # Customers that match but were answered or invited under their own row: left for a person to decide.
    kept: list[str] = field(default_factory=list)
    # Held events of the connection applied because the rule now finds their customer.
    held_applied: int = 0


def connection_duplicates_merge(*, connection) -> MergeResult:
    """Merge every customer stored from ``connection`` that its matching rule (Connection.match_on) finds
    among another connection's customers into that customer: the events, referrals and ids move over, the
    more recent state wins (a loss the ERP saw after the CRM's last change makes the customer lost), the
    id is kept as the customer's id in this connection, and the duplicate goes. A duplicate with survey
    answers or invitations is left as it is and listed. Every figure the moved events count in is
    recorded as changed."""
    result = MergeResult()
    if not getattr(connection, "match_on", ""):
        return result
    last = 0
    while True:
        rows = list(
            Customer.objects.filter(connection=connection, pk__gt=last, erased_at__isnull=True)
            .order_by("pk")
            .values_list("pk", "external_id", "email")[:CHUNK]
        )
        if not rows:
            return result
        last = rows[-1][0]
        # Which other connection's customer each id matches (the rule only: these ids are this
        # connection's own customers).
        pks = {external_id: pk for pk, external_id, _ in rows}
        emails = {external_id: email for _, external_id, email in rows if email}
        found, matched = other_keys_resolve(connection, set(pks), emails)
        for external_id in sorted(matched):
            duplicate, into = pks[external_id], found[external_id]
            if duplicate == into:
                continue
            if _answered(duplicate):
                result.kept.append(external_id)
                continue
            _merge(connection, duplicate=duplicate, into=into, external_id=external_id)
            result.merged += 1


def _answered(customer_id: int) -> bool:
    customer = Customer.objects.get(pk=customer_id)
    return customer.responses.exists() or customer.invitations.exists()


def _merge(connection, *, duplicate: int, into: int, external_id: str) -> None:
    with transaction.atomic():
        dup, kept = Customer.objects.select_for_update().filter(pk__in=[duplicate, into]).order_by("pk")
        dup, kept = (dup, kept) if dup.pk == duplicate else (kept, dup)
        moments = list(
            Event.objects.filter(Q(customer_id=duplicate) | Q(referrer_id=duplicate)).values_list(
                "occurred_at", flat=True
            )
        )
        Event.objects.filter(customer_id=duplicate).update(customer_id=into)
        Event.objects.filter(referrer_id=duplicate).update(referrer_id=into)
        Customer.objects.filter(referred_by_id=duplicate).update(referred_by_id=into)
        CustomerExternalId.objects.filter(customer_id=duplicate).update(customer_id=into)
        changes = {}
        if dup.state_as_of and (kept.state_as_of is None or dup.state_as_of > kept.state_as_of):
            changes = {name: getattr(dup, name) for name in STATE}
            if kept.acquired_at and (dup.acquired_at is None or kept.acquired_at < dup.acquired_at):
                changes["acquired_at"] = kept.acquired_at
        elif kept.acquired_at is None and dup.acquired_at:
            changes["acquired_at"] = dup.acquired_at
        Customer.objects.filter(pk=duplicate).delete()
        if changes:
            Customer.objects.filter(pk=into).update(**changes)
        CustomerExternalId.objects.create(customer_id=into, connection=connection, external_id=external_id)
        record_changes(events=moments, customers=[into, duplicate])
    log.info("%s: customer %s (%r) merged into customer %s", connection, duplicate, external_id, into)

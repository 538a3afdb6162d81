"""Events held for customers the site does not know yet (HeldEvent), applied once the customer is known."""

from __future__ import annotations

import logging

from django.db import transaction

from customers.models import HeldEvent
from customers.services.apply import SegmentCache, crm_records_apply, customers_resolve, record_from_json

log = logging.getLogger(__name__)

CHUNK = 1000


def held_events_apply(*, connection, segments: SegmentCache | None = None, pks: list[int] | None = None) -> int:
    """Apply the held events of ``connection`` (or only the held rows ``pks``) whose customer is known now,
    by its own id, an id stored for the connection, or the connection's matching rule; each chunk applied
    and its rows deleted in one transaction, so an event is never applied twice nor lost. Events still
    unknown stay held. Returns how many were applied."""
    segments = segments or SegmentCache()
    applied, last = 0, 0
    while True:
        rows = HeldEvent.objects.filter(connection=connection, pk__gt=last).order_by("pk")
        if pks is not None:
            rows = rows.filter(pk__in=pks)
        rows = list(rows[:CHUNK])
        if not rows:
            return applied
        last = rows[-1].pk
        emails = {r.customer_external_id: r.record.get("customer_email", "") for r in rows}
        found, _ = customers_resolve(connection, set(emails), emails)
        ready = [r for r in rows if r.customer_external_id in found]
        if not ready:
            continue
        with transaction.atomic():
            result = crm_records_apply(
                connection=connection, records=[record_from_json(r.record) for r in ready], segments=segments
            )
            refused = {rejected.source: rejected.reason for rejected in result.rejected}
            for row in ready:
                if row.source in refused:  # kept, with why it could not be applied
                    HeldEvent.objects.filter(pk=row.pk).update(reason=refused[row.source])
            HeldEvent.objects.filter(pk__in=[r.pk for r in ready if r.source not in refused]).delete()
        applied += len(ready) - len(refused)
        if refused:
            log.warning("%s: %d held events could not be applied", connection, len(refused))

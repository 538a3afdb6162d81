"""The one change hook. Whoever writes what a figure is computed from (responses, invitations, customer
events, customers, complaints) calls ``record_changes`` in the same transaction, and nothing else: the read model
(``metrics``) drains the records and brings its rollups up to date, and reads the recorded days and
customers from the raw rows until it has. Writers know nothing of the rollups."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from .days import local_day, today
from .models import Change

# A day is rolled up once it is this many days before today: today and yesterday are always read raw,
# so a change on them needs no record (and live answers write none).
SETTLED_AFTER_DAYS = 2


def last_settled_day() -> date:
    return today() - timedelta(days=SETTLED_AFTER_DAYS)


def _days(moments: Iterable[date | datetime | None]) -> set[date]:
    return {local_day(m) if isinstance(m, datetime) else m for m in moments if m is not None}


def record_changes(
    *,
    responses: Iterable[date | datetime | None] = (),
    invitations: Iterable[date | datetime | None] = (),
    events: Iterable[date | datetime | None] = (),
    customers: Iterable[int | None] = (),
    complaints: Iterable[date | datetime | None] = (),
) -> None:
    """Record that responses submitted, invitations sent and events that occurred at these moments (or on
    these local days) and complaints received at these moments were stored, changed or deleted, and that the record, events or answers of these
    customers changed. Call it inside the writer's transaction."""
    settled = last_settled_day()
    rows = [
        Change(kind=kind, day=day)
        for kind, moments in (
            (Change.Kind.RESPONSES, responses),
            (Change.Kind.INVITATIONS, invitations),
            (Change.Kind.EVENTS, events),
            (Change.Kind.COMPLAINTS, complaints),
        )
        for day in sorted(_days(moments))
        if day <= settled
    ]
    rows += [Change(kind=Change.Kind.CUSTOMERS, customer_id=pk) for pk in sorted({c for c in customers if c})]
    Change.objects.bulk_create(rows, batch_size=1000)

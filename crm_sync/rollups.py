"""Derived data kept beside the CRM tables so the customer-base and combined metrics stay fast (issue 6).

Two things live here, both caches of the raw rows and both rebuildable from them:

**Daily event rollups** (``EventDaily``), with the same exactness rules as the survey rollups
(``dashboards.rollups``):

* A day is rolled up only once it is over for good: ``day <= today - 2`` (local, settings.TIME_ZONE).
* The read path (``dashboards.metrics.customers``) uses a day's rollup only when
  ``day <= EventRollupState.rolled_up_through`` and the day is not in EventDirtyDay; every other day of
  a period is aggregated from the raw events, so a figure equals the raw computation at every moment.
* Events are only ever inserted (the sync upserts them on their source key), by
  ``crm_sync.services.apply``, which marks the days of the events of a page dirty in the transaction
  that inserts them (``events_mark_dirty``, whatever the day: see there why); a refresh recomputes a
  dirty day and clears its mark.
* Every rollup write locks the EventRollupState row first, so two refreshes (beat overlapping a slow
  run, or a rebuild) never interleave their deletes and inserts.
* Bulk loads that bypass the apply service (``seed_demo``) call ``events_rollup_rebuild``. Deleting
  customers (their events cascade) also needs a rebuild; nothing in the product does it outside admin.
* A lost event's rollup row also says what the customer's own answers in the 90 days before the loss
  were (``lost_flags``: a detractor answer, an incident). A live answer is stamped now, after every
  rolled-up loss, so it cannot change them; whoever stores or deletes older responses (the response
  import, a deletion in admin) marks the days of the losses they can change (``events_mark_answered``).

**The latest NPS answer of each customer** (``Customer.last_nps`` / ``last_nps_at``): the response with
the greatest (submitted_at, id) among the customer's responses with an NPS answer. ``response_submit``
moves it forward with one conditional UPDATE, ``responses_import`` with one UPDATE per chunk of
customers, ``seed_demo`` and the ``customers_nps_rebuild`` command recompute it from every response.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import connection, transaction
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    DecimalField,
    Exists,
    ExpressionWrapper,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from crm_sync.models import Customer, Event, EventDaily, EventDirtyDay, EventRollupState
from cxmetrics import rows
from cxmetrics.bulk import one_of

logger = logging.getLogger(__name__)

# Days recomputed per transaction when catching up (a rebuild walks the whole history in chunks).
CHUNK_DAYS = 62
# A day is rolled up once it is this many days before today (local): "today" and "yesterday" stay raw.
SETTLED_AFTER_DAYS = 2
# Customers per UPDATE when an import moves their latest NPS answer.
NPS_CHUNK = 500
# A loss counts as "after a detractor answer / an incident" when the answer came this many days before it.
INCIDENT_WINDOW_DAYS = 90
# lost_flags: 2 × (a detractor answer in the window) + (an answer signalling an incident in the window).
FLAG_DETRACTOR, FLAG_INCIDENT = 2, 1


def _site_timezone():
    # As dashboards.filters.site_timezone (not imported: crm_sync does not depend on dashboards).
    return timezone.get_default_timezone()


def local_day(moment: datetime) -> date:
    """The date of ``moment`` in the site's time zone: the day an event is rolled up under."""
    return timezone.localtime(moment, _site_timezone()).date()


def day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()), _site_timezone())


@dataclass
class EventRefreshReport:
    days_rolled_up: int = 0
    dirty_days: int = 0
    rolled_up_through: date | None = None


# --- marking ---------------------------------------------------------------------------------------


def events_mark_dirty(*, days: Iterable[date]) -> None:
    """Mark ``days`` as changed, so the read path aggregates their raw events until a refresh.

    Call it inside the transaction that inserts the events. It is an upsert (INSERT … ON CONFLICT DO
    UPDATE), which takes the row lock of an existing mark: a refresh recomputing one of these days
    locks that mark before it aggregates and holds it until it deletes the mark and commits, so
    either this writer waits and re-inserts the mark after the refresh (the day stays dirty and is
    read raw), or the refresh waits for this writer's commit and then aggregates events that include
    the new ones (PostgreSQL re-reads after a lock wait under READ COMMITTED, and the aggregate is a
    later statement). A mark inserted by a transaction the refresh cannot see yet is never deleted by
    it (it deletes the marks it locked, by id), so that day stays dirty.

    Every day is marked, also today and days not rolled up yet: a page committing just after midnight
    may carry events of a day a concurrent refresh is rolling up right then without seeing them.
    Days are sorted so two writers and a refresh always lock marks in the same order (no deadlock).
    """
    now = timezone.now()
    marks = [EventDirtyDay(day=day, marked_at=now) for day in sorted(set(days))]
    if marks:
        EventDirtyDay.objects.bulk_create(
            marks, update_conflicts=True, unique_fields=["day"], update_fields=["marked_at"]
        )


def events_mark_answered(*, answers: Iterable[tuple[int, datetime]]) -> None:
    """Responses (customer id, submitted_at) were stored or deleted after the fact: mark the days of
    the losses whose ``lost_flags`` they can change, the customers' lost events up to 90 days after
    the earliest of them. Call it in the transaction that writes the responses, as events_mark_dirty."""
    answers = [(customer_id, moment) for customer_id, moment in answers if customer_id is not None]
    if not answers:
        return
    moments = [moment for _customer_id, moment in answers]
    days = (
        Event.objects.filter(
            one_of("customer_id", sorted({c for c, _m in answers}), cast="bigint"),
            type=Event.Type.LOST,
            occurred_at__gt=min(moments),
            occurred_at__lte=max(moments) + timedelta(days=INCIDENT_WINDOW_DAYS),
        )
        .annotate(day=TruncDate("occurred_at", tzinfo=_site_timezone()))
        .values_list("day", flat=True)
        .distinct()
    )
    events_mark_dirty(days=list(days))


# --- recomputing -----------------------------------------------------------------------------------


def lost_flags(*, customer: str = "customer", moment: str = "occurred_at") -> Coalesce:
    """For a lost event (``customer`` lost at ``moment``, fields of the outer query): 2 × (the customer
    gave a detractor answer, NPS 0-6, in the 90 days before the loss) + (they gave an answer signalling
    an incident or complaint then: CES <= 3, the company did not make it easy to handle their issue, or
    CSAT <= 2, dissatisfied); 0 when neither. One look at the customer's answers in the window, through
    the responses' (customer, submitted_at) index. Only the customer's own responses count."""
    from surveys.models import Response  # surveys depends on crm_sync, not the other way round

    window_start = ExpressionWrapper(
        OuterRef(moment) - timedelta(days=INCIDENT_WINDOW_DAYS), output_field=DateTimeField()
    )
    before = Response.objects.filter(
        customer=OuterRef(customer), submitted_at__gte=window_start, submitted_at__lt=OuterRef(moment)
    )

    def any_of(condition: Q):
        return Max(Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField()))

    detractor, incident = any_of(Q(nps__lte=6)), any_of(Q(ces__lte=3) | Q(csat__lte=2))
    code = before.values("customer").annotate(code=detractor * FLAG_DETRACTOR + incident * FLAG_INCIDENT).values("code")
    return Coalesce(Subquery(code[:1]), Value(0), output_field=IntegerField())


def _lock_state() -> EventRollupState:
    EventRollupState.objects.get_or_create(pk=EventRollupState.SINGLETON)
    return EventRollupState.objects.select_for_update().get(pk=EventRollupState.SINGLETON)


def _lock_marks(first: date, last: date) -> list[int]:
    return list(
        EventDirtyDay.objects.select_for_update()
        .filter(day__gte=first, day__lte=last)
        .order_by("day")
        .values_list("pk", flat=True)
    )


def _event_rows(first: date, last: date) -> list[EventDaily]:
    rows = (
        Event.objects.filter(occurred_at__gte=day_start(first), occurred_at__lt=day_start(last + timedelta(days=1)))
        .annotate(
            day=TruncDate("occurred_at", tzinfo=_site_timezone()),
            flags=Case(When(type=Event.Type.LOST, then=lost_flags()), default=Value(0)),
        )
        .values("day", "type", "segment_id", "from_segment_id", "to_segment_id", "reason", "flags")
        .annotate(
            count=Count("pk"),
            value_sum=Coalesce(Sum("value"), Value(0), output_field=DecimalField(max_digits=18, decimal_places=2)),
            value_missing=Count("pk", filter=Q(value__isnull=True)),
        )
        .order_by()
    )
    return [EventDaily(**row) for row in rows]


def _recompute_days(first: date, last: date) -> None:
    """Replace every rollup row of the days ``[first, last]``; inside a transaction holding the state lock."""
    EventDaily.objects.filter(day__gte=first, day__lte=last).delete()
    EventDaily.objects.bulk_create(_event_rows(first, last), batch_size=1000)


def _first_event_day() -> date | None:
    first = Event.objects.aggregate(first=Min("occurred_at"))["first"]
    return local_day(first) if first is not None else None


def events_rollup_refresh(*, today: date | None = None) -> EventRefreshReport:
    """Roll up the days settled since the last run, then recompute the dirty days. Idempotent; safe to
    run concurrently (the state lock serialises the writes) and to interrupt (each transaction leaves a
    consistent state)."""
    today = today or local_day(timezone.now())
    last = today - timedelta(days=SETTLED_AFTER_DAYS)
    report = EventRefreshReport()

    while True:
        with transaction.atomic():
            state = _lock_state()
            if state.rolled_up_through is not None:
                first = state.rolled_up_through + timedelta(days=1)
            else:
                first = _first_event_day() or last + timedelta(days=1)
            if first > last:
                if state.rolled_up_through is None or state.rolled_up_through < last:
                    state.rolled_up_through = last  # no events up to ``last``: nothing to roll up
                    state.save(update_fields=["rolled_up_through"])
                break
            chunk_last = min(first + timedelta(days=CHUNK_DAYS - 1), last)
            marks = _lock_marks(first, chunk_last)
            _recompute_days(first, chunk_last)
            EventDirtyDay.objects.filter(pk__in=marks).delete()
            state.rolled_up_through = chunk_last
            state.save(update_fields=["rolled_up_through"])
            report.days_rolled_up += (chunk_last - first).days + 1

    dirty = sorted(set(EventDirtyDay.objects.filter(day__lte=last).values_list("day", flat=True)))
    for day in dirty:
        with transaction.atomic():
            state = _lock_state()
            if state.rolled_up_through is None or day > state.rolled_up_through:
                continue
            marks = _lock_marks(day, day)
            if not marks:
                continue  # another refresh got there first
            _recompute_days(day, day)
            EventDirtyDay.objects.filter(pk__in=marks).delete()
            report.dirty_days += 1

    with transaction.atomic():
        state = _lock_state()
        state.refreshed_at = timezone.now()
        state.save(update_fields=["refreshed_at"])
        report.rolled_up_through = state.rolled_up_through
    return report


def events_rollup_rebuild(*, today: date | None = None) -> EventRefreshReport:
    """Recompute every event rollup from the raw events: after a bulk load that bypassed the apply
    service, or a change of TIME_ZONE (the days themselves move). While it runs the read path uses the
    raw events for the days not rolled up again yet, so the figures stay exact (only slower)."""
    with transaction.atomic():
        state = _lock_state()
        EventDaily.objects.all().delete()
        state.rolled_up_through = None
        state.save(update_fields=["rolled_up_through"])
    return events_rollup_refresh(today=today)


# --- the latest NPS answer of each customer --------------------------------------------------------


def customer_last_nps_record(*, customer_id: int, nps: int, submitted_at: datetime) -> None:
    """A response with an NPS answer was stored for the customer: make it their latest unless they have
    a later one. One conditional UPDATE; call it in the transaction that stores the response. Under
    concurrent submits the row lock orders the writers, and PostgreSQL re-checks the condition against
    the row a waiting writer finds, so an older answer never overwrites a newer one. ``<=``: at an equal
    instant the response stored later (the greater id) is the latest, as in the raw definition."""
    rows.update(
        Customer,
        customer_id,
        {"last_nps": nps, "last_nps_at": submitted_at},
        where="{last_nps_at} IS NULL OR {last_nps_at} <= %s",
        where_params=[("last_nps_at", submitted_at)],
    )


def _latest_nps_answers():
    from surveys.models import Response  # surveys depends on crm_sync, not the other way round

    return Response.objects.filter(customer=OuterRef("pk"), nps__isnull=False).order_by("-submitted_at", "-pk")


def customers_last_nps_refresh(*, customer_ids: Iterable[int]) -> None:
    """Move the latest NPS answer of these customers forward after a bulk insert of their responses
    (an import): one UPDATE per chunk of customers, each reading the customer's latest answer through
    the (customer, submitted_at) index. Only ever forward (the condition), so a concurrent live submit
    of a later answer is never overwritten by this statement's older snapshot."""
    ids = sorted(set(customer_ids))
    latest = _latest_nps_answers()
    latest_at = Subquery(latest.values("submitted_at")[:1])
    for i in range(0, len(ids), NPS_CHUNK):
        (
            Customer.objects.filter(pk__in=ids[i : i + NPS_CHUNK])
            .annotate(found_at=latest_at)
            .filter(found_at__isnull=False)
            .filter(Q(last_nps_at__isnull=True) | Q(last_nps_at__lte=latest_at))
            .update(last_nps=Subquery(latest.values("nps")[:1]), last_nps_at=latest_at)
        )


def customers_last_nps_recompute(*, customer_ids: Iterable[int], up_to: datetime) -> None:
    """Recompute the latest NPS answer of these customers from their responses after some of theirs,
    submitted at or before ``up_to``, were deleted; one UPDATE per chunk. Only rows whose latest answer
    is not later than ``up_to``: a live answer stored meanwhile is later, and PostgreSQL re-checks
    that condition on the row a waiting writer finds, so it is never overwritten by an older one."""
    ids = sorted(set(customer_ids))
    latest = _latest_nps_answers()
    for i in range(0, len(ids), NPS_CHUNK):
        Customer.objects.filter(pk__in=ids[i : i + NPS_CHUNK], last_nps_at__lte=up_to).update(
            last_nps=Subquery(latest.values("nps")[:1]), last_nps_at=Subquery(latest.values("submitted_at")[:1])
        )


def customers_nps_rebuild() -> int:
    """Recompute every customer's latest NPS answer from the responses (after a bulk load, or to
    repair); returns the number of customer rows written (on PostgreSQL only those that changed).
    One statement per database (and one to clear customers without an answer), in one transaction."""
    from surveys.models import Response

    customers, responses = Customer._meta.db_table, Response._meta.db_table
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"""
                    UPDATE {customers} AS c SET last_nps = l.nps, last_nps_at = l.submitted_at
                    FROM (
                        SELECT DISTINCT ON (customer_id) customer_id, nps, submitted_at
                        FROM {responses}
                        WHERE customer_id IS NOT NULL AND nps IS NOT NULL
                        ORDER BY customer_id, submitted_at DESC, id DESC
                    ) AS l
                    WHERE c.id = l.customer_id
                      AND (c.last_nps IS DISTINCT FROM l.nps OR c.last_nps_at IS DISTINCT FROM l.submitted_at)
                """)
                changed = cursor.rowcount
        else:
            latest = _latest_nps_answers()
            answered = _latest_nps_answers().values("pk")
            changed = Customer.objects.filter(Exists(answered)).update(
                last_nps=Subquery(latest.values("nps")[:1]), last_nps_at=Subquery(latest.values("submitted_at")[:1])
            )
        changed += _clear_without_answers()
    return changed


def _clear_without_answers() -> int:
    answered = _latest_nps_answers()
    return (
        Customer.objects.filter(last_nps_at__isnull=False)
        .annotate(answered=Exists(answered))
        .filter(answered=False)
        .update(last_nps=None, last_nps_at=None)
    )

"""Customer-base metrics from the CRM event log (shared/METRICS.md, "Customer-base metrics").

The customer base at a moment t is every customer acquired before t and not lost before t
(``acquired_at < t`` and ``lost_at`` empty or ``>= t``); prospects (never acquired) never count.
``new``, ``lost``, ``referral`` and ``segment_move`` figures count events whose ``occurred_at`` is in
the period. With a segment filter, an event counts when the customer's segment at the event
(``Event.segment``; for a referral the referrer's) is that segment, a move when it leaves or enters
it, and the base at t counts customers whose segment at t was that segment (rebuilt from the
segment moves, see ``segment_at``).
"""

from __future__ import annotations

import operator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import reduce

import pandas as pd
from django.db import connection, transaction
from django.db.models import (
    BigIntegerField,
    Count,
    DateField,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncDate, TruncMonth, TruncQuarter, TruncWeek

from crm_sync.models import Customer, Event, EventDaily, EventDirtyDay, EventRollupState
from crm_sync.rollups import FLAG_DETRACTOR, FLAG_INCIDENT, lost_flags

from ..customer_state import ALL as ALL_CUSTOMERS
from ..customer_state import customer_state_at
from ..filters import MetricFilters, day_start, site_timezone
from .base import NO_VALUE, as_float, buckets, day_ranges, rate, shared, trunc

REFERRAL_CONVERSION_DAYS = 90
TOP_REFERRERS = 10


@dataclass(frozen=True)
class CustomerBase:
    at_start: int
    at_start_value: float
    new: int
    new_value: float
    lost: int
    lost_value: float
    at_end: int
    churn_rate: float | None
    retention_rate: float | None
    revenue_churn: float | None
    net_growth: int
    growth_rate: float | None
    # Only with a segment filter: moves into / out of the segment during the period.
    moved_in: int = 0
    moved_out: int = 0


@dataclass(frozen=True)
class Referrals:
    total: int
    converted: int
    conversion_rate: float | None
    by_segment: dict[str, int] = field(default_factory=dict)
    top_referrers: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class SegmentMoves:
    total: int
    upgrades: int
    downgrades: int
    matrix: list[dict] = field(default_factory=list)  # [{from, to, count}]


@dataclass(frozen=True)
class LostAfterIncident:
    lost: int
    after_detractor: int
    after_incident: int
    after_either: int
    rate: float | None  # % of the lost customers who had either in the window
    customers: list[dict] = field(default_factory=list)


# --- the customer base at a moment -------------------------------------------------------------


def segment_at(moment: datetime) -> Coalesce:
    """The segment id a customer was in at ``moment``, computed in the database: the target of
    their last segment move before it, else the origin of their first move after it, else their
    current segment."""
    moves = Event.objects.filter(customer=OuterRef("pk"), type=Event.Type.SEGMENT_MOVE)
    before = moves.filter(occurred_at__lt=moment).order_by("-occurred_at", "-pk").values("to_segment")[:1]
    after = moves.filter(occurred_at__gte=moment).order_by("occurred_at", "pk").values("from_segment")[:1]
    return Coalesce(Subquery(before), Subquery(after), F("segment"), output_field=BigIntegerField())


def active_customers_at(moment: datetime, *, segment_id: int | None = None) -> QuerySet[Customer]:
    """Customers acquired before ``moment`` and not lost before it (in segment ``segment_id`` then)."""
    qs = (
        Customer.objects.exclude(status=Customer.Status.PROSPECT)
        .filter(acquired_at__lt=moment)
        .filter(Q(lost_at__isnull=True) | Q(lost_at__gte=moment))
    )
    if segment_id is not None:
        qs = qs.annotate(segment_then=segment_at(moment)).filter(segment_then=segment_id)
    return qs


def period_events(*, filters: MetricFilters, type: str) -> QuerySet[Event]:
    """Events of ``type`` in the period (and, with a segment filter, of that segment)."""
    start, end = filters.period()
    qs = Event.objects.filter(type=type, occurred_at__gte=start, occurred_at__lt=end)
    if filters.segment is not None:
        segment_id = filters.segment_id()
        if type == Event.Type.SEGMENT_MOVE:
            qs = qs.filter(Q(from_segment_id=segment_id) | Q(to_segment_id=segment_id))
        else:
            qs = qs.filter(segment_id=segment_id)
    return qs


def _event_value():
    # The value at the time of the event; an event without one falls back on the customer's value.
    return Coalesce("value", "customer__value")


# --- one function per metric -------------------------------------------------------------------


@shared
def customers_at_start(*, filters: MetricFilters) -> int:
    """Acquired before ``start`` and not lost before ``start``."""
    return _base_at(filters.start, segment_id=filters.segment_id())["count"]


def _base_at(day: date, *, segment_id: int | None) -> dict:
    """{count, value} of the customers active at 00:00 of ``day`` (in segment ``segment_id`` then): from
    the customer state per day when it holds that day, else from the customers and their moves."""
    state = customer_state_at(day, segment_id=segment_id)
    if state is not None:
        count, value = state[ALL_CUSTOMERS]
        return {"count": count, "value": value}
    # COUNT(*), not COUNT(id): the id is in no index, so counting it would read every customer's row
    # where the index customer_base_at answers alone.
    return active_customers_at(day_start(day), segment_id=segment_id).aggregate(count=Count("*"), value=Sum("value"))


def customers_active_at_end(*, filters: MetricFilters) -> int:
    """The active count at the end of ``end`` (next day 00:00, site time): what ``at_end`` must equal."""
    _, end = filters.period()
    return active_customers_at(end, segment_id=filters.segment_id()).count()


def new_customers(*, filters: MetricFilters) -> dict:
    """``new`` events in the period: {count, value} (value = sum of their values)."""
    with one_snapshot():
        row = _event_totals(filters=filters, type=Event.Type.NEW, split=_split(filters))
    return {"count": row["count"], "value": as_float(row["value"]) or 0.0}


def lost_customers(*, filters: MetricFilters) -> dict:
    """``lost`` events in the period: {count, value} (value = sum of the values when lost)."""
    with one_snapshot():
        row = _event_totals(filters=filters, type=Event.Type.LOST, split=_split(filters))
    return {"count": row["count"], "value": as_float(row["value"]) or 0.0}


@shared
def lost_by_reason(*, filters: MetricFilters) -> list[dict]:
    """[{reason, count, value}], most frequent first; a blank reason is NO_VALUE."""
    with one_snapshot():
        groups = _event_groups(filters=filters, type=Event.Type.LOST, split=_split(filters), by=("reason",))
    rows = sorted(((key[1], totals) for key, totals in groups.items()), key=lambda r: (-r[1]["count"], r[0]))
    return [
        {"reason": reason or NO_VALUE, "count": totals["count"], "value": as_float(totals["value"]) or 0.0}
        for reason, totals in rows
    ]


@shared
def lost_customer_list(*, filters: MetricFilters, limit: int = 200) -> list[dict]:
    """The customers lost in the period, latest first: [{customer_id, name, lost_at, reason, value, segment}]."""
    rows = (
        period_events(filters=filters, type=Event.Type.LOST)
        .annotate(event_value=_event_value())
        .values("customer_id", "customer__name", "occurred_at", "reason", "event_value", "segment__name")
        .order_by("-occurred_at", "-pk")[:limit]
    )
    return [
        {
            "customer_id": r["customer_id"],
            "name": r["customer__name"],
            "lost_at": r["occurred_at"],
            "reason": r["reason"],
            "value": as_float(r["event_value"]),
            "segment": r["segment__name"],
        }
        for r in rows
    ]


@shared
def customer_base(*, filters: MetricFilters) -> CustomerBase:
    """Customers at start/end, new, lost, churn, retention, revenue churn and growth for the period.

    at_end = at_start + new − lost (+ moves into − moves out of the segment, with a segment
    filter, so that it still equals the active count at the end of ``end``). Retention =
    100 × (at_end − new − moved in) / at_start, which is METRICS.md's formula without a segment
    filter."""
    segment_id = filters.segment_id()
    with one_snapshot():
        base = _base_at(filters.start, segment_id=segment_id)
        split = _split(filters)
        by_type = _event_groups(filters=filters, type=[Event.Type.NEW, Event.Type.LOST], split=split, by=())
        new = by_type.get((Event.Type.NEW,), {"count": 0, "value": None})
        lost = by_type.get((Event.Type.LOST,), {"count": 0, "value": None})
        moved_in = moved_out = 0
        if segment_id is not None:
            moved_in, moved_out = _moves_in_out(filters=filters, split=split, segment_id=segment_id)
    new = {"count": new["count"], "value": as_float(new["value"]) or 0.0}
    lost = {"count": lost["count"], "value": as_float(lost["value"]) or 0.0}
    at_start = base["count"]
    at_end = at_start + new["count"] - lost["count"] + moved_in - moved_out
    return CustomerBase(
        at_start=at_start,
        at_start_value=as_float(base["value"]) or 0.0,
        new=new["count"],
        new_value=new["value"],
        lost=lost["count"],
        lost_value=lost["value"],
        at_end=at_end,
        churn_rate=rate(lost["count"], at_start),
        retention_rate=rate(at_end - new["count"] - moved_in, at_start),
        revenue_churn=rate(lost["value"], base["value"]),
        net_growth=new["count"] - lost["count"],
        growth_rate=rate(at_end - at_start, at_start),
        moved_in=moved_in,
        moved_out=moved_out,
    )


def churn_rate(*, filters: MetricFilters) -> float | None:
    """100 × lost / customers at start."""
    return customer_base(filters=filters).churn_rate


def retention_rate(*, filters: MetricFilters) -> float | None:
    """100 × (customers at end − new) / customers at start."""
    return customer_base(filters=filters).retention_rate


def revenue_churn(*, filters: MetricFilters) -> float | None:
    """100 × lost value / value of the customers at start."""
    return customer_base(filters=filters).revenue_churn


def net_growth(*, filters: MetricFilters) -> int:
    """new − lost."""
    return customer_base(filters=filters).net_growth


def growth_rate(*, filters: MetricFilters) -> float | None:
    """100 × (customers at end − customers at start) / customers at start."""
    return customer_base(filters=filters).growth_rate


@shared
def referrals(*, filters: MetricFilters, top: int = TOP_REFERRERS) -> Referrals:
    """``referral`` events in the period, by the referrer's segment at the time, the top referrers,
    and the conversion: % of referrals whose referred party had a ``new`` event within 90 days
    after the referral (referrals near the end of the period may still convert later)."""
    qs = period_events(filters=filters, type=Event.Type.REFERRAL)
    window_end = ExpressionWrapper(
        OuterRef("occurred_at") + timedelta(days=REFERRAL_CONVERSION_DAYS), output_field=DateTimeField()
    )
    converted = Event.objects.filter(
        type=Event.Type.NEW,
        customer=OuterRef("customer"),
        occurred_at__gte=OuterRef("occurred_at"),
        occurred_at__lte=window_end,
    )
    # Counted by the customer (never NULL), not the id: event_type_occurred holds the customer but no
    # id, so the referrals are counted from the index alone.
    totals = qs.annotate(is_converted=Exists(converted)).aggregate(
        total=Count("customer"), converted=Count("customer", filter=Q(is_converted=True))
    )
    by_segment = {
        (r["segment__name"] or NO_VALUE): r["count"]
        for r in qs.values("segment__name", "segment__rank")
        .annotate(count=Count("pk"))
        .order_by(F("segment__rank").desc(nulls_last=True))
    }
    # The name by a subquery on the groups, not a join: a join of every referral with the customers
    # table becomes a hash join over all 100 000 customers for a long period.
    referrer_name = Customer.objects.filter(pk=OuterRef("referrer_id")).values("name")[:1]
    top_rows = (
        qs.values("referrer_id")
        .annotate(count=Count("pk"), referrer__name=Subquery(referrer_name))
        .order_by("-count", "referrer__name", "referrer_id")[:top]
    )
    return Referrals(
        total=totals["total"],
        converted=totals["converted"],
        conversion_rate=rate(totals["converted"], totals["total"]),
        by_segment=by_segment,
        top_referrers=[
            {"customer_id": r["referrer_id"], "name": r["referrer__name"], "referrals": r["count"]} for r in top_rows
        ],
    )


@shared
def segment_moves(*, filters: MetricFilters) -> SegmentMoves:
    """``segment_move`` events in the period as a from → to matrix [{from, to, count}]; a move to a
    higher rank is an upgrade, to a lower rank a downgrade."""
    by = ("from_segment__name", "from_segment__rank", "to_segment__name", "to_segment__rank")
    with one_snapshot():
        groups = _event_groups(filters=filters, type=Event.Type.SEGMENT_MOVE, split=_split(filters), by=by, value=False)
    rows = [{**dict(zip(by, key[1:], strict=True)), "count": totals["count"]} for key, totals in groups.items()]
    # As ORDER BY from rank DESC NULLS LAST, to rank DESC NULLS LAST (ranks are unique per segment).
    rows.sort(
        key=lambda r: (
            r["from_segment__rank"] is None,
            -(r["from_segment__rank"] or 0),
            r["to_segment__rank"] is None,
            -(r["to_segment__rank"] or 0),
        )
    )
    upgrades = downgrades = 0
    matrix = []
    for r in rows:
        low, high = r["from_segment__rank"], r["to_segment__rank"]
        if low is not None and high is not None:
            upgrades += r["count"] if high > low else 0
            downgrades += r["count"] if high < low else 0
        matrix.append(
            {"from": r["from_segment__name"] or NO_VALUE, "to": r["to_segment__name"] or NO_VALUE, "count": r["count"]}
        )
    return SegmentMoves(total=sum(r["count"] for r in rows), upgrades=upgrades, downgrades=downgrades, matrix=matrix)


@shared
def lost_after_incident(*, filters: MetricFilters, limit: int = 200) -> LostAfterIncident:
    """Customers lost in the period who, in the 90 days before the loss, gave a detractor answer
    (NPS 0-6) or had an incident/complaint.

    The product has no ticketing source, so an incident/complaint is a response that signals one:
    CES <= 3 (the company did not make it easy to handle their issue) or CSAT <= 2 (dissatisfied).
    Only that customer's own responses count (anonymous ones cannot be linked). The flags of each
    loss are ``crm_sync.rollups.lost_flags``; the counts of the rolled-up days come from the event
    rollups (which group the losses by those flags), the other days' from the raw events."""
    with one_snapshot():
        split = _split(filters)
        parts = []
        if split.rolled:
            parts.append(
                _rollups(filters=filters, types=[Event.Type.LOST], ranges=split.rolled)
                .values("flags")
                .annotate(n=Sum("count"))
                .order_by()
            )
        if split.raw:
            parts.append(
                period_events(filters=filters, type=Event.Type.LOST)
                .filter(_moments_q(split.raw))
                .annotate(flags=lost_flags())
                .values("flags")
                .annotate(n=Count("pk"))
                .order_by()
            )
        by_flags: dict[int, int] = {}
        for row in parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]:
            by_flags[row["flags"]] = by_flags.get(row["flags"], 0) + (row["n"] or 0)
    detractor = sum(n for flags, n in by_flags.items() if flags & FLAG_DETRACTOR)
    incident = sum(n for flags, n in by_flags.items() if flags & FLAG_INCIDENT)
    either = sum(n for flags, n in by_flags.items() if flags)
    lost = sum(by_flags.values())
    # The latest losses with a flag, from the raw events (the index on occurred_at, newest first).
    rows = (
        period_events(filters=filters, type=Event.Type.LOST)
        .annotate(flags=lost_flags())
        .filter(flags__gt=0)
        .annotate(event_value=_event_value())
        .values("customer_id", "customer__name", "occurred_at", "reason", "event_value", "flags")
        .order_by("-occurred_at", "-pk")[:limit]
    )
    return LostAfterIncident(
        lost=lost,
        after_detractor=detractor,
        after_incident=incident,
        after_either=either,
        rate=rate(either, lost),
        customers=[
            {
                "customer_id": r["customer_id"],
                "name": r["customer__name"],
                "lost_at": r["occurred_at"],
                "reason": r["reason"],
                "value": as_float(r["event_value"]),
                "detractor": bool(r["flags"] & FLAG_DETRACTOR),
                "incident": bool(r["flags"] & FLAG_INCIDENT),
            }
            for r in rows
        ],
    )


@shared
def customer_trend(*, filters: MetricFilters, granularity: str = "month") -> list[dict]:
    """Per week/month/quarter of the period (the first and last buckets clipped to the period),
    every bucket listed: [{bucket, new, lost, net, active_at_start, churn_rate}]. The base at the
    start of each bucket is the base at the period's start plus the net of the buckets before it
    (with a segment filter, moves into or out of the segment are not in the per-bucket base)."""
    _trunc_day(granularity)  # checks the granularity before any query
    with one_snapshot():
        split = _split(filters)
        # Both parts give a local date (the rollups already bucketed, the raw events per day), so they
        # go in one UNION ALL; the raw days are bucketed below.
        parts = []
        if split.rolled:
            parts.append(
                _rollups(filters=filters, types=[Event.Type.NEW, Event.Type.LOST], ranges=split.rolled)
                .values(bucket=_trunc_day(granularity))
                .annotate(
                    new=Sum("count", filter=Q(type=Event.Type.NEW)), lost=Sum("count", filter=Q(type=Event.Type.LOST))
                )
                .order_by()
            )
        if split.raw:
            parts.append(
                _events_in_period(filters)
                .filter(_moments_q(split.raw))
                .values(bucket=TruncDate("occurred_at", tzinfo=site_timezone()))
                .annotate(
                    new=Count("pk", filter=Q(type=Event.Type.NEW)), lost=Count("pk", filter=Q(type=Event.Type.LOST))
                )
                .order_by()
            )
        rows = list(parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0])
        at_start = customers_at_start(filters=filters)
    counts = (
        pd.DataFrame(
            [
                {"bucket": _bucket_of(r["bucket"], granularity), "new": r["new"] or 0, "lost": r["lost"] or 0}
                for r in rows
            ],
            columns=["bucket", "new", "lost"],
        )
        .groupby("bucket")
        .sum()
    )
    frame = counts.reindex(buckets(filters, granularity), fill_value=0)
    frame["net"] = frame["new"] - frame["lost"]
    frame["active_at_start"] = at_start + frame["net"].cumsum() - frame["net"]
    return [
        {
            "bucket": day,
            "new": int(r.new),
            "lost": int(r.lost),
            "net": int(r.net),
            "active_at_start": int(r.active_at_start),
            "churn_rate": rate(int(r.lost), int(r.active_at_start)),
        }
        for day, r in zip(frame.index, frame.itertuples(index=False), strict=True)
    ]


def _events_in_period(filters: MetricFilters) -> QuerySet[Event]:
    """``new`` and ``lost`` events in the period, with the segment filter on the event's segment."""
    start, end = filters.period()
    qs = Event.objects.filter(type__in=[Event.Type.NEW, Event.Type.LOST], occurred_at__gte=start, occurred_at__lt=end)
    if filters.segment is not None:
        qs = qs.filter(segment_id=filters.segment_id())
    return qs


# --- reading the event log: rolled-up days from crm_sync.EventDaily, every other day raw -----------
#
# A period splits into the days whose rollups are complete (on or before
# EventRollupState.rolled_up_through and not marked dirty) and the others (today and yesterday, days a
# late CRM import changed since the last refresh, everything when the worker never ran). The first come
# from the rollups, the others from the raw events with the very same filters, and the counts and sums
# are added up, so every figure equals the raw aggregate at every moment (crm_sync/rollups.py has the
# rules). Values: a rollup holds the sum of the events' own values; events without one are valued at
# their customer's current value, as the raw metric does, read live (few rows, a partial index).


@dataclass(frozen=True)
class _Split:
    rolled: list[tuple[date, date]]  # day ranges read from the rollups
    raw: list[tuple[date, date]]  # day ranges aggregated from the raw events


def _split(filters: MetricFilters) -> _Split:
    """Which days of the period to read from the rollups and which raw: one query (the state row and the
    period's dirty days, as a UNION)."""
    state = EventRollupState.objects.filter(pk=EventRollupState.SINGLETON).values_list(Value(True), "rolled_up_through")
    dirty_days = EventDirtyDay.objects.filter(day__gte=filters.start, day__lte=filters.end).values_list(
        Value(False), "day"
    )
    rows = list(state.union(dirty_days, all=True))
    through = next((day for is_state, day in rows if is_state), None)
    if through is None or through < filters.start:
        return _Split([], [(filters.start, filters.end)])
    clean_end = min(filters.end, through)
    dirty = {day for is_state, day in rows if not is_state and day <= clean_end}
    raw = day_ranges(sorted(dirty))
    if clean_end < filters.end:
        raw.append((clean_end + timedelta(days=1), filters.end))
    if not dirty:
        return _Split([(filters.start, clean_end)], raw)
    days = [filters.start + timedelta(days=i) for i in range((clean_end - filters.start).days + 1)]
    return _Split(day_ranges([d for d in days if d not in dirty]), raw)


def _days_q(ranges: list[tuple[date, date]]) -> Q:
    """The rollup rows of these day ranges."""
    return reduce(operator.or_, (Q(day__gte=first, day__lte=last) for first, last in ranges))


def _moments_q(ranges: list[tuple[date, date]]) -> Q:
    """The events that occurred on these (local) day ranges."""
    return reduce(
        operator.or_,
        (
            Q(occurred_at__gte=day_start(first), occurred_at__lt=day_start(last + timedelta(days=1)))
            for first, last in ranges
        ),
    )


def _rollups(*, filters: MetricFilters, types: list[str], ranges: list[tuple[date, date]]) -> QuerySet[EventDaily]:
    """The rollup rows of these types and days matching the segment filter as ``period_events`` does."""
    qs = EventDaily.objects.filter(_days_q(ranges), type__in=types)
    if filters.segment is not None:
        segment_id = filters.segment_id()
        if types == [Event.Type.SEGMENT_MOVE]:
            qs = qs.filter(Q(from_segment_id=segment_id) | Q(to_segment_id=segment_id))
        else:
            qs = qs.filter(segment_id=segment_id)
    return qs


def _bucket_of(day: date, granularity: str) -> date:
    """The first day of the week (Monday) / month / quarter of ``day``, as TruncWeek/Month/Quarter."""
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    return day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)


def _trunc_day(granularity: str):
    """The week/month/quarter of a rollup's ``day`` (already a local date: no time zone to apply)."""
    trunc("day", granularity)  # the same check and error for an unknown granularity
    function = {"week": TruncWeek, "month": TruncMonth, "quarter": TruncQuarter}[granularity]
    return function("day", output_field=DateField())


@contextmanager
def one_snapshot():
    """Run the queries of one metric in one REPEATABLE READ transaction on PostgreSQL, so the rollup
    state, the rollups and the raw events are read from the same snapshot (a sync or a refresh
    committing in between cannot be half seen). Inside an outer transaction (tests, ATOMIC_REQUESTS)
    the caller's is used. Not on SQLite: its transactions begin IMMEDIATE here (settings), which would
    make every page view take the write lock."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def _event_groups(
    *, filters: MetricFilters, type: str | list[str], split: _Split, by: tuple[str, ...], value: bool = True
) -> dict[tuple, dict]:
    """{(type, *values of ``by``): {count, value}} for the events of ``type`` (or of these types) in the
    period (value: Decimal, the sum of the event values with the customer's current value for an event
    without one; only with ``value``). One query for the rolled-up days and the raw days (UNION ALL),
    and a second one only when some rolled-up events have no value of their own."""
    types = [type] if isinstance(type, str) else type
    fields = ("type", *by)
    parts = []
    if split.rolled:
        sums = {"count": Sum("count")}
        if value:
            sums |= {"value": Sum("value_sum"), "missing": Sum("value_missing")}
        parts.append(
            _rollups(filters=filters, types=types, ranges=split.rolled).values(*fields).annotate(**sums).order_by()
        )
    if split.raw:
        counts = {"count": Count("pk")}
        if value:
            counts |= {"value": Sum(_event_value()), "missing": Value(0)}
        parts.append(
            _events_of(filters, types).filter(_moments_q(split.raw)).values(*fields).annotate(**counts).order_by()
        )
    rows = list(parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0])
    if value and any(row["missing"] for row in rows):
        # Valued at the customer's current value, as the raw metric does: read live (a partial index).
        rows += (
            _events_of(filters, types)
            .filter(_moments_q(split.rolled), value__isnull=True)
            .values(*fields)
            .annotate(count=Value(0), value=Sum("customer__value"))
            .order_by()
        )
    groups: dict[tuple, dict] = {}
    for row in rows:
        totals = groups.setdefault(tuple(row[name] for name in fields), {"count": 0, "value": Decimal(0)})
        totals["count"] += row["count"] or 0
        totals["value"] += row.get("value") or 0
    return {key: totals for key, totals in groups.items() if totals["count"]}


def _events_of(filters: MetricFilters, types: list[str]) -> QuerySet[Event]:
    if len(types) == 1:
        return period_events(filters=filters, type=types[0])
    start, end = filters.period()
    qs = Event.objects.filter(type__in=types, occurred_at__gte=start, occurred_at__lt=end)
    if filters.segment is not None:
        qs = qs.filter(segment_id=filters.segment_id())  # new and lost: the customer's segment at the event
    return qs


def _event_totals(*, filters: MetricFilters, type: str, split: _Split) -> dict:
    """{count, value (Decimal or None)} of the events of ``type`` in the period."""
    totals = _event_groups(filters=filters, type=type, split=split, by=())
    return totals.get((type,), {"count": 0, "value": None})


def _moves_in_out(*, filters: MetricFilters, split: _Split, segment_id: int) -> tuple[int, int]:
    """Segment moves in the period into and out of the segment (a move within it is neither); one query."""
    into = Q(to_segment_id=segment_id) & ~Q(from_segment_id=segment_id)
    out_of = Q(from_segment_id=segment_id) & ~Q(to_segment_id=segment_id)
    types = [Event.Type.SEGMENT_MOVE]
    parts = []
    if split.rolled:
        parts.append(
            _rollups(filters=filters, types=types, ranges=split.rolled)
            .values("type")
            .annotate(moved_in=Sum("count", filter=into), moved_out=Sum("count", filter=out_of))
            .order_by()
        )
    if split.raw:
        parts.append(
            period_events(filters=filters, type=Event.Type.SEGMENT_MOVE)
            .filter(_moments_q(split.raw))
            .values("type")
            .annotate(moved_in=Count("pk", filter=into), moved_out=Count("pk", filter=out_of))
            .order_by()
        )
    rows = list(parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0])
    return sum(r["moved_in"] or 0 for r in rows), sum(r["moved_out"] or 0 for r in rows)

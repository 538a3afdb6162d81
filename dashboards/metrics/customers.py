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

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd
from django.db.models import (
    BigIntegerField,
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce

from crm_sync.models import Customer, Event
from surveys.models import Response

from ..filters import MetricFilters
from .base import NO_VALUE, as_float, bucket_date, buckets, rate, trunc

REFERRAL_CONVERSION_DAYS = 90
INCIDENT_WINDOW_DAYS = 90
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


def customers_at_start(*, filters: MetricFilters) -> int:
    """Acquired before ``start`` and not lost before ``start``."""
    start, _ = filters.period()
    return active_customers_at(start, segment_id=filters.segment_id()).count()


def customers_active_at_end(*, filters: MetricFilters) -> int:
    """The active count at the end of ``end`` (next day 00:00, site time): what ``at_end`` must equal."""
    _, end = filters.period()
    return active_customers_at(end, segment_id=filters.segment_id()).count()


def new_customers(*, filters: MetricFilters) -> dict:
    """``new`` events in the period: {count, value} (value = sum of their values)."""
    row = period_events(filters=filters, type=Event.Type.NEW).aggregate(count=Count("pk"), value=Sum(_event_value()))
    return {"count": row["count"], "value": as_float(row["value"]) or 0.0}


def lost_customers(*, filters: MetricFilters) -> dict:
    """``lost`` events in the period: {count, value} (value = sum of the values when lost)."""
    row = period_events(filters=filters, type=Event.Type.LOST).aggregate(count=Count("pk"), value=Sum(_event_value()))
    return {"count": row["count"], "value": as_float(row["value"]) or 0.0}


def lost_by_reason(*, filters: MetricFilters) -> list[dict]:
    """[{reason, count, value}], most frequent first; a blank reason is NO_VALUE."""
    rows = (
        period_events(filters=filters, type=Event.Type.LOST)
        .values("reason")
        .annotate(count=Count("pk"), value=Sum(_event_value()))
        .order_by("-count", "reason")
    )
    return [{"reason": r["reason"] or NO_VALUE, "count": r["count"], "value": as_float(r["value"]) or 0.0}
            for r in rows]


def lost_customer_list(*, filters: MetricFilters, limit: int = 200) -> list[dict]:
    """The customers lost in the period, latest first: [{customer_id, name, lost_at, reason, value, segment}]."""
    rows = (
        period_events(filters=filters, type=Event.Type.LOST)
        .annotate(event_value=_event_value())
        .values("customer_id", "customer__name", "occurred_at", "reason", "event_value", "segment__name")
        .order_by("-occurred_at", "-pk")[:limit]
    )
    return [
        {"customer_id": r["customer_id"], "name": r["customer__name"], "lost_at": r["occurred_at"],
         "reason": r["reason"], "value": as_float(r["event_value"]), "segment": r["segment__name"]}
        for r in rows
    ]


def customer_base(*, filters: MetricFilters) -> CustomerBase:
    """Customers at start/end, new, lost, churn, retention, revenue churn and growth for the period.

    at_end = at_start + new − lost (+ moves into − moves out of the segment, with a segment
    filter, so that it still equals the active count at the end of ``end``). Retention =
    100 × (at_end − new − moved in) / at_start, which is METRICS.md's formula without a segment
    filter."""
    start, _ = filters.period()
    segment_id = filters.segment_id()
    base = active_customers_at(start, segment_id=segment_id).aggregate(count=Count("pk"), value=Sum("value"))
    new = new_customers(filters=filters)
    lost = lost_customers(filters=filters)
    moved_in = moved_out = 0
    if segment_id is not None:
        moves = period_events(filters=filters, type=Event.Type.SEGMENT_MOVE).aggregate(
            moved_in=Count("pk", filter=Q(to_segment_id=segment_id) & ~Q(from_segment_id=segment_id)),
            moved_out=Count("pk", filter=Q(from_segment_id=segment_id) & ~Q(to_segment_id=segment_id)),
        )
        moved_in, moved_out = moves["moved_in"], moves["moved_out"]
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


def referrals(*, filters: MetricFilters, top: int = TOP_REFERRERS) -> Referrals:
    """``referral`` events in the period, by the referrer's segment at the time, the top referrers,
    and the conversion: % of referrals whose referred party had a ``new`` event within 90 days
    after the referral (referrals near the end of the period may still convert later)."""
    qs = period_events(filters=filters, type=Event.Type.REFERRAL)
    window_end = ExpressionWrapper(
        OuterRef("occurred_at") + timedelta(days=REFERRAL_CONVERSION_DAYS), output_field=DateTimeField()
    )
    converted = Event.objects.filter(
        type=Event.Type.NEW, customer=OuterRef("customer"),
        occurred_at__gte=OuterRef("occurred_at"), occurred_at__lte=window_end,
    )
    totals = qs.annotate(is_converted=Exists(converted)).aggregate(
        total=Count("pk"), converted=Count("pk", filter=Q(is_converted=True))
    )
    by_segment = {
        (r["segment__name"] or NO_VALUE): r["count"]
        for r in qs.values("segment__name", "segment__rank").annotate(count=Count("pk")).order_by(F("segment__rank").desc(nulls_last=True))
    }
    top_rows = (
        qs.values("referrer_id", "referrer__name")
        .annotate(count=Count("pk"))
        .order_by("-count", "referrer__name", "referrer_id")[:top]
    )
    return Referrals(
        total=totals["total"],
        converted=totals["converted"],
        conversion_rate=rate(totals["converted"], totals["total"]),
        by_segment=by_segment,
        top_referrers=[{"customer_id": r["referrer_id"], "name": r["referrer__name"], "referrals": r["count"]}
                       for r in top_rows],
    )


def segment_moves(*, filters: MetricFilters) -> SegmentMoves:
    """``segment_move`` events in the period as a from → to matrix [{from, to, count}]; a move to a
    higher rank is an upgrade, to a lower rank a downgrade."""
    rows = list(
        period_events(filters=filters, type=Event.Type.SEGMENT_MOVE)
        .values("from_segment__name", "from_segment__rank", "to_segment__name", "to_segment__rank")
        .annotate(count=Count("pk"))
        .order_by(F("from_segment__rank").desc(nulls_last=True), F("to_segment__rank").desc(nulls_last=True))
    )
    upgrades = downgrades = 0
    matrix = []
    for r in rows:
        low, high = r["from_segment__rank"], r["to_segment__rank"]
        if low is not None and high is not None:
            upgrades += r["count"] if high > low else 0
            downgrades += r["count"] if high < low else 0
        matrix.append({"from": r["from_segment__name"] or NO_VALUE, "to": r["to_segment__name"] or NO_VALUE,
                       "count": r["count"]})
    return SegmentMoves(total=sum(r["count"] for r in rows), upgrades=upgrades, downgrades=downgrades, matrix=matrix)


def lost_after_incident(*, filters: MetricFilters, limit: int = 200) -> LostAfterIncident:
    """Customers lost in the period who, in the 90 days before the loss, gave a detractor answer
    (NPS 0-6) or had an incident/complaint.

    The product has no ticketing source, so an incident/complaint is a response that signals one:
    CES <= 3 (the company did not make it easy to handle their issue) or CSAT <= 2 (dissatisfied).
    Only that customer's own responses count (anonymous ones cannot be linked)."""
    window_start = ExpressionWrapper(
        OuterRef("occurred_at") - timedelta(days=INCIDENT_WINDOW_DAYS), output_field=DateTimeField()
    )
    before_loss = Response.objects.filter(
        customer=OuterRef("customer"), submitted_at__gte=window_start, submitted_at__lt=OuterRef("occurred_at")
    )
    qs = period_events(filters=filters, type=Event.Type.LOST).annotate(
        detractor=Exists(before_loss.filter(nps__lte=6)),
        incident=Exists(before_loss.filter(Q(ces__lte=3) | Q(csat__lte=2))),
    )
    totals = qs.aggregate(
        lost=Count("pk"),
        after_detractor=Count("pk", filter=Q(detractor=True)),
        after_incident=Count("pk", filter=Q(incident=True)),
        after_either=Count("pk", filter=Q(detractor=True) | Q(incident=True)),
    )
    rows = (
        qs.filter(Q(detractor=True) | Q(incident=True))
        .annotate(event_value=_event_value())
        .values("customer_id", "customer__name", "occurred_at", "reason", "event_value", "detractor", "incident")
        .order_by("-occurred_at", "-pk")[:limit]
    )
    return LostAfterIncident(
        lost=totals["lost"],
        after_detractor=totals["after_detractor"],
        after_incident=totals["after_incident"],
        after_either=totals["after_either"],
        rate=rate(totals["after_either"], totals["lost"]),
        customers=[
            {"customer_id": r["customer_id"], "name": r["customer__name"], "lost_at": r["occurred_at"],
             "reason": r["reason"], "value": as_float(r["event_value"]), "detractor": r["detractor"],
             "incident": r["incident"]}
            for r in rows
        ],
    )


def customer_trend(*, filters: MetricFilters, granularity: str = "month") -> list[dict]:
    """Per week/month/quarter of the period (the first and last buckets clipped to the period),
    every bucket listed: [{bucket, new, lost, net, active_at_start, churn_rate}]. The base at the
    start of each bucket is the base at the period's start plus the net of the buckets before it
    (with a segment filter, moves into or out of the segment are not in the per-bucket base)."""
    rows = (
        _events_in_period(filters)
        .annotate(bucket=trunc("occurred_at", granularity))
        .values("bucket")
        .annotate(new=Count("pk", filter=Q(type=Event.Type.NEW)), lost=Count("pk", filter=Q(type=Event.Type.LOST)))
        .order_by("bucket")
    )
    counts = pd.DataFrame(
        [{"bucket": bucket_date(r["bucket"]), "new": r["new"], "lost": r["lost"]} for r in rows],
        columns=["bucket", "new", "lost"],
    ).groupby("bucket").sum()
    frame = counts.reindex(buckets(filters, granularity), fill_value=0)
    frame["net"] = frame["new"] - frame["lost"]
    frame["active_at_start"] = customers_at_start(filters=filters) + frame["net"].cumsum() - frame["net"]
    return [
        {"bucket": day, "new": int(r.new), "lost": int(r.lost), "net": int(r.net),
         "active_at_start": int(r.active_at_start), "churn_rate": rate(int(r.lost), int(r.active_at_start))}
        for day, r in zip(frame.index, frame.itertuples(index=False), strict=True)
    ]


def _events_in_period(filters: MetricFilters) -> QuerySet[Event]:
    """``new`` and ``lost`` events in the period, with the segment filter on the event's segment."""
    start, end = filters.period()
    qs = Event.objects.filter(type__in=[Event.Type.NEW, Event.Type.LOST], occurred_at__gte=start, occurred_at__lt=end)
    if filters.segment is not None:
        qs = qs.filter(segment_id=filters.segment_id())
    return qs

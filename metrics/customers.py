"""Customer-base metrics from the CRM event log (shared/METRICS.md, "Customer-base metrics").

The base at a moment counts the customers acquired before it and not lost before it (``customer_base``);
``new``, ``lost``, ``referral`` and ``segment_move`` figures count the events that occurred in the
period. With a segment filter, an event counts when the customer's segment at the event (for a
referral the referrer's) is that segment, a move when it enters or leaves it, and the base counts the
customers who were in it then.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.db.models import Count, DateTimeField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet, Subquery, Sum

from core.definitions import REFERRAL_CONVERSION_DAYS
from customers.models import Customer, Event
from surveys.models import Response

from .customer_base import ALL, base_at
from .facts import EVENTS, FLAG_COMPLAINT, FLAG_DETRACTOR, FLAG_INCIDENT, FLAG_OPERATIONAL, lost_flags
from .filters import MetricFilters
from .read import kept_until_refresh, read, segments, shared
from .stats import as_float, buckets, rate
from .survey import NO_VALUE

NEW, LOST, REFERRAL, MOVE = Event.Type.NEW, Event.Type.LOST, Event.Type.REFERRAL, Event.Type.SEGMENT_MOVE
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
    revenue: float = 0.0  # the values of the referred parties who became customers
    revenue_share: float | None = None  # % of the period's new value


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
    after_incident: int  # an answer reporting an incident (CES or CSAT at or below its threshold)
    after_either: int  # after any of the four
    rate: float | None  # % of the lost customers who had any in the window
    after_complaint: int = 0
    after_operational: int = 0  # an operational incident event (return, claim, invoice correction)
    customers: list[dict] = field(default_factory=list)


def period_events(*, filters: MetricFilters, type: str) -> QuerySet[Event]:
    """The raw events of ``type`` in the period (and of the segment, as ``facts.EVENTS`` filters)."""
    start, end = filters.period()
    return Event.objects.filter(
        EVENTS.where(filters.resolved(), False), type=type, occurred_at__gte=start, occurred_at__lt=end
    )


EVENT_KEYS = ("type", "reason", "segment_id", "from_segment_id", "to_segment_id")
TAGS = ("flags", "category")  # what the answers around lost events and referrals said: dearer to read raw


@shared
def _events(*, filters: MetricFilters, tagged: bool) -> list[dict]:
    """The period's events counted per key of the fact (and per tag): one read for the event figures."""
    return read(EVENTS, filters, by=EVENT_KEYS + TAGS if tagged else EVENT_KEYS)


def events_by(*, filters: MetricFilters, by: tuple[str, ...]) -> list[dict]:
    """The period's events counted (``count``, ``value``) per type and ``by``: keys of the fact, or a
    segment's name or rank (``segment__name``, ``from_segment__rank``…)."""
    names = segments()

    def value(row: dict, name: str):
        field, _, attribute = name.partition("__")
        return names.get(row[f"{field}_id"], names[None])[attribute] if attribute else row[name]

    totals: dict[tuple, dict] = {}
    for row in _events(filters=filters, tagged=any(tag in by for tag in TAGS)):
        key = (row["type"], *(value(row, name) for name in by))
        found = totals.setdefault(key, {"count": 0, "value": Decimal(0)})
        found["count"] += row["count"]
        found["value"] += row["value"]
    return [{"type": key[0], **dict(zip(by, key[1:], strict=True)), **sums} for key, sums in totals.items()]


def _totals(filters: MetricFilters, type: str) -> dict:
    row = next((r for r in events_by(filters=filters, by=()) if r["type"] == type), {})
    return {"count": row.get("count", 0), "value": as_float(row.get("value")) or 0.0}


def customers_at_start(*, filters: MetricFilters) -> int:
    return base_at(filters.start, segment_id=filters.segment_id())[ALL][0]


def new_customers(*, filters: MetricFilters) -> dict:
    """``new`` events in the period: {count, value}."""
    return _totals(filters, NEW)


def lost_customers(*, filters: MetricFilters) -> dict:
    """``lost`` events in the period: {count, value} (the values when lost)."""
    return _totals(filters, LOST)


def lost_by_reason(*, filters: MetricFilters) -> list[dict]:
    """[{reason, count, value}], most frequent first; a blank reason is NO_VALUE."""
    rows = [r for r in events_by(filters=filters, by=("reason",)) if r["type"] == LOST]
    rows.sort(key=lambda r: (-r["count"], r["reason"]))
    return [
        {"reason": r["reason"] or NO_VALUE, "count": r["count"], "value": as_float(r["value"]) or 0.0} for r in rows
    ]


def _moves(filters: MetricFilters, segment_id: int) -> tuple[int, int]:
    rows = [r for r in events_by(filters=filters, by=("from_segment_id", "to_segment_id")) if r["type"] == MOVE]
    moved_in = sum(r["count"] for r in rows if r["to_segment_id"] == segment_id != r["from_segment_id"])
    moved_out = sum(r["count"] for r in rows if r["from_segment_id"] == segment_id != r["to_segment_id"])
    return moved_in, moved_out


@shared
def customer_base(*, filters: MetricFilters) -> CustomerBase:
    """Customers at start and end, new, lost, churn, retention, revenue churn and growth for the period.
    at_end = at_start + new − lost (+ moves into − moves out of the segment, with a segment filter, so it
    still equals the active count at the end). Without a filter retention = 100 × (at_end − new) / at_start,
    which is 100 − churn; with one it stays 100 − churn: a move out is shown beside them, not a loss."""
    segment_id = filters.segment_id()
    at_start, at_start_value = base_at(filters.start, segment_id=segment_id)[ALL]
    new, lost = _totals(filters, NEW), _totals(filters, LOST)
    moved_in, moved_out = _moves(filters, segment_id) if segment_id is not None else (0, 0)
    at_end = at_start + new["count"] - lost["count"] + moved_in - moved_out
    return CustomerBase(
        at_start=at_start,
        at_start_value=as_float(at_start_value) or 0.0,
        new=new["count"],
        new_value=new["value"],
        lost=lost["count"],
        lost_value=lost["value"],
        at_end=at_end,
        churn_rate=rate(lost["count"], at_start),
        retention_rate=None if not at_start else 100.0 - rate(lost["count"], at_start),
        revenue_churn=rate(lost["value"], at_start_value),
        net_growth=new["count"] - lost["count"],
        growth_rate=rate(at_end - at_start, at_start),
        moved_in=moved_in,
        moved_out=moved_out,
    )


def churn_rate(*, filters: MetricFilters) -> float | None:
    return customer_base(filters=filters).churn_rate


def retention_rate(*, filters: MetricFilters) -> float | None:
    return customer_base(filters=filters).retention_rate


def revenue_churn(*, filters: MetricFilters) -> float | None:
    return customer_base(filters=filters).revenue_churn


def net_growth(*, filters: MetricFilters) -> int:
    return customer_base(filters=filters).net_growth


def growth_rate(*, filters: MetricFilters) -> float | None:
    return customer_base(filters=filters).growth_rate


def _customer_rows(events: QuerySet[Event], limit: int, *extra: str) -> list[dict]:
    rows = events.values(
        "customer_id",
        "customer__external_id",
        "customer__name",
        "occurred_at",
        "reason",
        "value",
        "segment__name",
        *extra,
    )
    return [
        {"customer_id": r["customer_id"], "crm_id": r["customer__external_id"], "name": r["customer__name"], "lost_at": r["occurred_at"], "reason": r["reason"],
         "value": as_float(r["value"]), "segment": r["segment__name"], **{e: r[e] for e in extra}}
        for r in rows.order_by("-occurred_at", "-pk")[:limit]
    ]  # fmt: skip


@shared
def lost_customer_list(*, filters: MetricFilters, limit: int = 200) -> list[dict]:
    """The customers lost in the period, latest first: [{customer_id, name, lost_at, reason, value, segment}]."""
    return _customer_rows(period_events(filters=filters, type=LOST), limit)


def conversions() -> QuerySet[Event]:
    """The ``new`` events that convert the outer referral: the referred party's, within the conversion
    window after the referral."""
    window_end = ExpressionWrapper(OuterRef("occurred_at") + timedelta(days=REFERRAL_CONVERSION_DAYS), DateTimeField())
    return Event.objects.filter(
        type=NEW, customer=OuterRef("customer"), occurred_at__gte=OuterRef("occurred_at"), occurred_at__lte=window_end
    )


def _converted_value() -> Subquery:
    """The value of the referred party when acquired (the first converting ``new`` event's)."""
    return Subquery(conversions().order_by("occurred_at", "pk").values("value")[:1])


@shared
def referral_revenue(*, filters: MetricFilters) -> float:
    """The sum of the values of the referred parties who became customers, for the referrals in the
    period: the value of each converting ``new`` event, counted once however many referrals it converts."""
    referrals = period_events(filters=filters, type=REFERRAL)
    window_start = ExpressionWrapper(
        OuterRef("occurred_at") - timedelta(days=REFERRAL_CONVERSION_DAYS), DateTimeField()
    )
    converts = referrals.filter(
        customer=OuterRef("customer"), occurred_at__lte=OuterRef("occurred_at"), occurred_at__gte=window_start
    )
    found = Event.objects.filter(type=NEW, customer__in=referrals.values("customer_id")).filter(Exists(converts))
    return as_float(found.aggregate(total=Sum("value"))["total"]) or 0.0


@shared
def top_advocates(*, filters: MetricFilters, top: int = TOP_REFERRERS) -> list[dict]:
    """The referrers of the period ranked by converted referrals, then by referrals: [{customer_id,
    crm_id, name, referrals, converted, revenue, last_nps}]; ``revenue`` is the value their converted
    referrals brought, ``last_nps`` their latest NPS answer before the end of the period. One query, kept
    until the read model's next refresh: it looks for each referral's conversion in the raw events."""
    if not top:
        return []
    return kept_until_refresh(f"top-advocates:{top}", filters, lambda: _top_advocates(filters, top))


def _top_advocates(filters: MetricFilters, top: int) -> list[dict]:
    referrer = Customer.objects.filter(pk=OuterRef("referrer_id"))
    latest = Response.objects.filter(
        customer=OuterRef("referrer_id"), nps__isnull=False, submitted_at__lt=filters.period()[1]
    ).order_by("-submitted_at", "-pk")
    rows = (
        period_events(filters=filters, type=REFERRAL)
        .filter(referrer__isnull=False)
        .annotate(converts=Exists(conversions()), brought=_converted_value())
        .values("referrer_id")
        .annotate(
            count=Count("pk"),
            converted=Count("pk", filter=Q(converts=True)),
            revenue=Sum("brought"),
            name=Subquery(referrer.values("name")[:1]),
            crm_id=Subquery(referrer.values("external_id")[:1]),
            last_nps=Subquery(latest.values("nps")[:1]),
        )
        # Ties go by the customer's key, not their name, so an erased name never reorders the list.
        .order_by("-converted", "-count", "referrer_id")[:top]
    )
    return [
        {"customer_id": r["referrer_id"], "crm_id": r["crm_id"], "name": r["name"], "referrals": r["count"],
         "converted": r["converted"], "revenue": as_float(r["revenue"]) or 0.0, "last_nps": r["last_nps"]}
        for r in rows
    ]  # fmt: skip


@shared
def referrals(*, filters: MetricFilters, top: int = TOP_REFERRERS) -> Referrals:
    """``referral`` events in the period by the referrer's segment at the time, the top referrers, and
    the conversion: % of referrals whose referred party had a ``new`` event within the conversion window.
    Kept until the read model's next refresh, like the top advocates: the conversions and the referral
    revenue are looked for in the raw events."""
    return kept_until_refresh(f"referrals:{top}", filters, lambda: _referrals(filters, top))


def _referrals(filters: MetricFilters, top: int) -> Referrals:
    segments = [r for r in events_by(filters=filters, by=("segment__name", "segment__rank")) if r["type"] == REFERRAL]
    segments.sort(key=lambda r: (r["segment__rank"] is None, -(r["segment__rank"] or 0)))
    qs = period_events(filters=filters, type=REFERRAL)
    totals = qs.aggregate(total=Count("pk"), converted=Count("pk", filter=Q(Exists(conversions()))))
    revenue = referral_revenue(filters=filters)
    new_value = _totals(filters, NEW)["value"]
    # The name by a subquery on the groups: a join would pair every referral with the customers first.
    referrer = Customer.objects.filter(pk=OuterRef("referrer_id"))
    top_rows = qs.values("referrer_id").annotate(
        count=Count("pk"),
        name=Subquery(referrer.values("name")[:1]),
        crm_id=Subquery(referrer.values("external_id")[:1]),
    )
    top_rows = top_rows.order_by("-count", "name", "referrer_id")[:top] if top else []
    return Referrals(
        total=totals["total"],
        converted=totals["converted"],
        conversion_rate=rate(totals["converted"], totals["total"]),
        revenue=revenue,
        revenue_share=rate(revenue, new_value),
        by_segment={(r["segment__name"] or NO_VALUE): r["count"] for r in segments},
        top_referrers=[
            {"customer_id": r["referrer_id"], "crm_id": r["crm_id"], "name": r["name"], "referrals": r["count"]}
            for r in top_rows
        ],
    )


@shared
def segment_moves(*, filters: MetricFilters) -> SegmentMoves:
    """``segment_move`` events in the period as a from → to matrix [{from, to, count}]; a move to a
    higher rank is an upgrade, to a lower rank a downgrade."""
    by = ("from_segment__name", "from_segment__rank", "to_segment__name", "to_segment__rank")
    rows = [r for r in events_by(filters=filters, by=by) if r["type"] == MOVE]
    rows.sort(key=lambda r: (r["from_segment__rank"] is None, -(r["from_segment__rank"] or 0),
                             r["to_segment__rank"] is None, -(r["to_segment__rank"] or 0)))  # fmt: skip
    ranked = [r for r in rows if r["from_segment__rank"] is not None and r["to_segment__rank"] is not None]
    return SegmentMoves(
        total=sum(r["count"] for r in rows),
        upgrades=sum(r["count"] for r in ranked if r["to_segment__rank"] > r["from_segment__rank"]),
        downgrades=sum(r["count"] for r in ranked if r["to_segment__rank"] < r["from_segment__rank"]),
        matrix=[
            {"from": r["from_segment__name"] or NO_VALUE, "to": r["to_segment__name"] or NO_VALUE, "count": r["count"]}
            for r in rows
        ],  # fmt: skip
    )


FLAGS = {"detractor": FLAG_DETRACTOR, "incident": FLAG_INCIDENT, "complaint": FLAG_COMPLAINT,
         "operational": FLAG_OPERATIONAL}  # fmt: skip


@shared
def lost_after_incident(*, filters: MetricFilters, limit: int = 200) -> LostAfterIncident:
    """Customers lost in the period who, in the incident window before the loss, gave a detractor answer
    or an answer reporting an incident, logged a complaint, or had an operational incident event
    (``facts.lost_flags``); each counted apart, and once in ``after_either`` whatever they had. Only the
    customer's own answers, complaints and events count."""
    by_flags = {r["flags"]: r["count"] for r in events_by(filters=filters, by=("flags",)) if r["type"] == LOST}
    either = sum(n for flags, n in by_flags.items() if flags)
    flagged = period_events(filters=filters, type=LOST).annotate(flags=lost_flags()).filter(flags__gt=0)

    def after(flag: int) -> int:
        return sum(n for flags, n in by_flags.items() if flags & flag)

    return LostAfterIncident(
        lost=sum(by_flags.values()),
        after_detractor=after(FLAG_DETRACTOR),
        after_incident=after(FLAG_INCIDENT),
        after_complaint=after(FLAG_COMPLAINT),
        after_operational=after(FLAG_OPERATIONAL),
        after_either=either,
        rate=rate(either, sum(by_flags.values())),
        customers=[
            {**row, **{name: bool(row["flags"] & flag) for name, flag in FLAGS.items()}}
            for row in (_customer_rows(flagged, limit, "flags") if limit else [])
        ],
    )


@shared
def customer_trend(*, filters: MetricFilters, granularity: str = "month") -> list[dict]:
    """Per week/month/quarter of the period, every bucket listed: [{bucket, new, lost, moved_in, moved_out,
    net, active_at_start, churn_rate}]. The base at the start of a bucket is the base at the period's start
    plus the net of the buckets before it; with a segment filter the net counts moves into and out of it
    (without one, moves are 0), so the last bucket ends on the period's customers at end."""
    segment_id = filters.segment_id()
    counts: dict = defaultdict(lambda: {NEW: 0, LOST: 0, "in": 0, "out": 0})
    by = ("type", "from_segment_id", "to_segment_id")
    for row in read(EVENTS, filters, by=by, bucket=granularity):
        found = counts[row["bucket"]]
        if row["type"] in (NEW, LOST):
            found[row["type"]] += row["count"]
        elif row["type"] == MOVE and segment_id is not None and row["from_segment_id"] != row["to_segment_id"]:
            found["in"] += row["count"] if row["to_segment_id"] == segment_id else 0
            found["out"] += row["count"] if row["from_segment_id"] == segment_id else 0
    active = customers_at_start(filters=filters)
    result = []
    for day in buckets(filters, granularity):
        c = counts[day]
        net = c[NEW] - c[LOST] + c["in"] - c["out"]
        result.append({"bucket": day, "new": c[NEW], "lost": c[LOST], "moved_in": c["in"], "moved_out": c["out"],
                       "net": net, "active_at_start": active, "churn_rate": rate(c[LOST], active)})  # fmt: skip
        active += net
    return result

"""Complaint figures (shared/METRICS.md, "Complaints, inquiries and operational incidents").

Complaints and inquiries are counted apart; a complaint counts in the period it was received, a
resolution in the period it was resolved. With a segment filter a complaint counts when its customer
was in the segment when it was logged (the segment kept on it); the survey filters select answers, so
they apply only to "incidents and satisfaction".

These are aggregates over the complaints table read through its indexes (received_at, resolved_at,
customer + received_at), not a rollup: a year of 100 000 complaints is one index range per figure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta

from django.db import connections
from django.db.models import (
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
)

from comments.models import ComplaintAnalysis, ComplaintTheme
from complaints.models import Complaint
from core.definitions import (
    COMPLAINT_RATE_PER,
    INCIDENT_EVENT_TYPES,
    INCIDENT_WINDOW_DAYS,
    PASSIVE_MIN,
    PROMOTER_MIN,
    SCALES,
)
from customers.models import Event
from surveys.models import Response

from . import survey
from .comments import theme_names
from .customers import customers_at_start
from .facts import _before, _response_where
from .filters import MetricFilters
from .read import kept_until_refresh, shared
from .stats import median_hours, rate
from .survey import Nps

COMPLAINT, INQUIRY = Complaint.Kind.COMPLAINT, Complaint.Kind.INQUIRY


@dataclass(frozen=True)
class ComplaintRate:
    complaints: int
    at_start: int
    rate: float | None  # complaints per COMPLAINT_RATE_PER customers at start

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ResolutionTime:
    median_hours: float | None
    resolved: int  # complaints resolved in the period

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class IncidentSatisfaction:
    with_incident: Nps
    without_incident: Nps


def _segment(filters: MetricFilters) -> Q:
    segment = filters.segment_id()
    return Q() if segment is None else Q(segment_id=segment)


def received(*, filters: MetricFilters) -> QuerySet[Complaint]:
    """The complaints and inquiries received in the period (and of the segment)."""
    start, end = filters.period()
    return Complaint.objects.filter(_segment(filters), received_at__gte=start, received_at__lt=end)


@shared
def _grouped(*, filters: MetricFilters) -> list[dict]:
    """The period's complaints and inquiries per category and channel: one statement for the counts, by
    category and by channel."""
    rows = (
        received(filters=filters)
        .values("channel", "category__name", "category__name_es", "category__ordering")
        .annotate(complaints=Count("pk", filter=Q(kind=COMPLAINT)), inquiries=Count("pk", filter=Q(kind=INQUIRY)))
        .order_by()
    )
    return list(rows)


def complaint_counts(*, filters: MetricFilters) -> dict[str, int]:
    """{complaints, inquiries} received in the period."""
    rows = _grouped(filters=filters)
    return {kind: sum(r[kind] for r in rows) for kind in ("complaints", "inquiries")}


def complaints_by_category(*, filters: MetricFilters) -> list[dict]:
    """[{category, name_es, complaints, inquiries}] for every category with either in the period, in the
    categories' order."""
    totals: dict[tuple, dict] = {}
    for r in _grouped(filters=filters):
        key = (r["category__ordering"], r["category__name"], r["category__name_es"])
        found = totals.setdefault(key, {"complaints": 0, "inquiries": 0})
        found["complaints"] += r["complaints"]
        found["inquiries"] += r["inquiries"]
    return [{"category": name, "name_es": name_es, **counts} for (_o, name, name_es), counts in sorted(totals.items())]


def complaints_by_channel(*, filters: MetricFilters) -> list[dict]:
    """[{channel, complaints, inquiries}] for every channel, in the channels' order (zeros included)."""
    totals = {channel: {"complaints": 0, "inquiries": 0} for channel in Complaint.Channel.values}
    for r in _grouped(filters=filters):
        totals[r["channel"]]["complaints"] += r["complaints"]
        totals[r["channel"]]["inquiries"] += r["inquiries"]
    return [{"channel": channel, **counts} for channel, counts in totals.items()]


@shared
def complaint_rate(*, filters: MetricFilters) -> ComplaintRate:
    """Complaints received in the period per COMPLAINT_RATE_PER customers active at its start; no data
    without customers at start."""
    complaints = complaint_counts(filters=filters)["complaints"]
    at_start = customers_at_start(filters=filters)
    return ComplaintRate(
        complaints=complaints,
        at_start=at_start,
        rate=COMPLAINT_RATE_PER * complaints / at_start if at_start else None,
    )


@shared
def resolution_time(*, filters: MetricFilters) -> ResolutionTime:
    """The median hours from received to resolved over the complaints (not inquiries) resolved in the
    period (``metrics.stats.median_hours``)."""
    start, end = filters.period()
    resolved = Complaint.objects.filter(_segment(filters), kind=COMPLAINT, resolved_at__gte=start, resolved_at__lt=end)
    hours, n = median_hours(resolved, start="received_at", end="resolved_at")
    return ResolutionTime(median_hours=hours, resolved=n)


@dataclass(frozen=True)
class ComplaintThemes:
    analysed: int  # complaints received in the period whose summary was analysed
    themes: list[dict]  # [{theme_id, theme, complaints, share, negative, negative_share}], most complaints first

    def as_dict(self) -> dict:
        return asdict(self)


@shared
def complaints_by_theme(*, filters: MetricFilters, language: str = "en") -> ComplaintThemes:
    """Complaints (not inquiries) received in the period per theme of their summary: how many, their
    share of the period's analysed complaints (%) and the share of them whose summary reads negative (%).
    A complaint can have several themes, so the shares do not add up to 100."""
    period = received(filters=filters).filter(kind=COMPLAINT).values("pk")
    analysed = ComplaintAnalysis.objects.filter(complaint_id__in=period).count()
    rows = (
        ComplaintTheme.objects.filter(analysis__complaint_id__in=period)
        .values("theme_id")
        .annotate(complaints=Count("pk"), negative=Count("pk", filter=Q(analysis__sentiment="negative")))
        .order_by()
    )
    names = theme_names(language)
    themes = [
        {
            "theme_id": r["theme_id"],
            "theme": names[r["theme_id"]],
            "complaints": r["complaints"],
            "share": rate(r["complaints"], analysed),
            "negative": r["negative"],
            "negative_share": rate(r["negative"], r["complaints"]),
        }
        for r in rows
        if r["theme_id"] in names
    ]
    return ComplaintThemes(analysed=analysed, themes=sorted(themes, key=lambda t: (-t["complaints"], t["theme"])))


def had_incident(moment: str = "submitted_at", customer: str = "customer") -> Q:
    """The outer row's customer had, in the incident window before ``moment``, a complaint (not an
    inquiry) or an operational incident event."""
    at = OuterRef(moment)
    since = _before(at, INCIDENT_WINDOW_DAYS)
    complaint = Complaint.objects.filter(
        customer=OuterRef(customer), kind=COMPLAINT, received_at__lt=at, received_at__gte=since
    )
    operational = Event.objects.filter(
        customer=OuterRef(customer), type__in=INCIDENT_EVENT_TYPES, occurred_at__lt=at, occurred_at__gte=since
    )
    return Q(Exists(complaint)) | Q(Exists(operational))


@shared
def incidents_and_satisfaction(*, filters: MetricFilters) -> IncidentSatisfaction:
    """NPS of the period's identified NPS answers (the survey filters and the segment on the answer apply)
    from customers with an incident in the incident window before the answer, against the others.

    All identified answers come from the read model (the survey figures' own read); the answers after an
    incident are counted by ``_after_incident`` (which reads every answer of the period: kept until the
    read model's next refresh, which answers, complaints and CRM events all move); the others are the
    difference."""
    resolved = filters.resolved()
    totals = dict.fromkeys(nps_scores_all(), 0)
    for row in survey._answers(filters=resolved):
        if row["question"] == "nps" and not row["anonymous"]:
            totals[row["score"]] = totals.get(row["score"], 0) + row["n"]
    with_incident = kept_until_refresh("after-incident", resolved, lambda: _after_incident(filters=resolved))
    without = {score: n - with_incident.get(score, 0) for score, n in totals.items()}
    return IncidentSatisfaction(_nps(with_incident), _nps(without))


def _after_incident(*, filters: MetricFilters) -> dict[int, int]:
    """{NPS score: identified answers in the period after an incident in the window before them}.

    One pass in time order per customer over their answers and incidents (UNION ALL, then a running MAX
    window), not a lookup of each answer's incidents: at a million answers most customers have had an
    incident some time, and probing both incident tables per answer reads several million index pages.
    Each incident row carries the end of its window; an answer follows an incident when the latest window
    begun before it (an incident at the same moment sorts after the answer) still covers it."""
    start, end = filters.period()
    window = timedelta(days=INCIDENT_WINDOW_DAYS)
    no_time = Value(None, output_field=DateTimeField())
    answers = Response.objects.filter(
        _response_where(filters, False),
        customer__isnull=False,
        nps__isnull=False,
        submitted_at__gte=start,
        submitted_at__lt=end,
    ).annotate(c=F("customer_id"), t=F("submitted_at"), o=Value(0), s=F("nps"), u=no_time)
    complaints = Complaint.objects.filter(
        kind=COMPLAINT, customer__isnull=False, received_at__gte=start - window, received_at__lt=end
    ).annotate(
        c=F("customer_id"),
        t=F("received_at"),
        o=Value(1),
        s=Value(None, output_field=IntegerField()),
        u=ExpressionWrapper(F("received_at") + window, output_field=DateTimeField()),
    )
    operational = Event.objects.filter(
        type__in=INCIDENT_EVENT_TYPES, occurred_at__gte=start - window, occurred_at__lt=end
    ).annotate(
        c=F("customer_id"),
        t=F("occurred_at"),
        o=Value(1),
        s=Value(None, output_field=IntegerField()),
        u=ExpressionWrapper(F("occurred_at") + window, output_field=DateTimeField()),
    )
    columns = ("c", "t", "o", "s", "u")
    rows = answers.values_list(*columns).union(
        complaints.values_list(*columns), operational.values_list(*columns), all=True
    )
    sql, params = rows.query.get_compiler(using=rows.db).as_sql()
    query = (
        "SELECT s, COUNT(*) FROM ("
        " SELECT o, s, t, MAX(u) OVER (PARTITION BY c ORDER BY t, o ROWS UNBOUNDED PRECEDING) AS covered_until"
        f" FROM ({sql}) timeline"
        ") marked WHERE o = 0 AND covered_until >= t GROUP BY s"
    )
    with connections[rows.db].cursor() as cursor:
        cursor.execute(query, params)
        return dict(cursor.fetchall())


def nps_scores_all() -> range:
    low, high = SCALES["nps"]
    return range(low, high + 1)


def _nps(counts: dict[int, int]) -> Nps:
    return Nps.from_counts(
        promoters=sum(n for score, n in counts.items() if score >= PROMOTER_MIN),
        passives=sum(n for score, n in counts.items() if PASSIVE_MIN <= score < PROMOTER_MIN),
        detractors=sum(n for score, n in counts.items() if score < PASSIVE_MIN),
    )

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

from django.db.models import BooleanField, Count, DurationField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet

from complaints.models import Complaint
from core.definitions import COMPLAINT_RATE_PER, INCIDENT_EVENT_TYPES, INCIDENT_WINDOW_DAYS, PASSIVE_MIN, PROMOTER_MIN
from customers.models import Event
from surveys.models import Response

from .customers import customers_at_start
from .facts import _before, _response_where
from .filters import MetricFilters
from .read import shared
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
    period. The database sorts the durations and hands back the middle one or two (two queries, whatever
    the number of complaints)."""
    start, end = filters.period()
    resolved = Complaint.objects.filter(_segment(filters), kind=COMPLAINT, resolved_at__gte=start, resolved_at__lt=end)
    n = resolved.count()
    if not n:
        return ResolutionTime(median_hours=None, resolved=0)
    took = ExpressionWrapper(F("resolved_at") - F("received_at"), output_field=DurationField())
    middle = list(
        resolved.annotate(took=took).order_by("took").values_list("took", flat=True)[(n - 1) // 2 : n // 2 + 1]
    )
    hours = [d.total_seconds() / 3600 for d in middle]
    return ResolutionTime(median_hours=sum(hours) / len(hours), resolved=n)


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
    from customers with an incident in the incident window before the answer, against the others."""
    start, end = filters.period()
    answers = Response.objects.filter(
        _response_where(filters.resolved(), False),
        customer__isnull=False,
        nps__isnull=False,
        submitted_at__gte=start,
        submitted_at__lt=end,
    ).annotate(incident=ExpressionWrapper(had_incident(), output_field=BooleanField()))
    return _split(answers)


def _split(answers: QuerySet[Response]) -> IncidentSatisfaction:
    counts = {}
    for incident, label in ((True, "with"), (False, "without")):
        side = Q(incident=True) if incident else Q(incident=False)
        for category, q in (
            ("promoters", Q(nps__gte=PROMOTER_MIN)),
            ("passives", Q(nps__gte=PASSIVE_MIN, nps__lt=PROMOTER_MIN)),
            ("detractors", Q(nps__lt=PASSIVE_MIN)),
        ):
            counts[f"{label}_{category}"] = Count("pk", filter=side & q)
    found = answers.aggregate(**counts)
    return IncidentSatisfaction(
        *(
            Nps.from_counts(**{c: found[f"{label}_{c}"] for c in ("promoters", "passives", "detractors")})
            for label in ("with", "without")
        )
    )

"""Every metric computed straight from the raw rows, the way shared/METRICS.md words it, with nothing
rolled up: the reference the read model is held to (``test_read_model``). Deliberately plain: one
query per figure, a correlated subquery per customer where the definition is per customer."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import BigIntegerField, Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from core.days import day_start
from core.definitions import CATEGORY_WINDOW_DAYS, NO_RESPONSE, SCORE_QUESTIONS, nps_category
from customers.models import Customer, Event
from metrics.facts import FLAG_DETRACTOR, FLAG_INCIDENT, lost_flags, nps_category_at
from metrics.filters import MetricFilters
from metrics.survey import scores_from
from surveys.models import AttributeScore, Invitation, Response

CATEGORIES = ("promoter", "passive", "detractor", NO_RESPONSE)


# --- surveys --------------------------------------------------------------------------------------------


def responses(filters: MetricFilters) -> QuerySet[Response]:
    start, end = filters.period()
    qs = Response.objects.filter(submitted_at__gte=start, submitted_at__lt=end)
    if filters.segment is not None:
        qs = qs.filter(segment_id=filters.segment_id())
    if filters.survey:
        qs = qs.filter(survey__slug=filters.survey)
    for name in ("survey_type", "touchpoint", "audience"):
        if getattr(filters, name):
            qs = qs.filter(**{name: getattr(filters, name)})
    return qs


def answer_counts(filters: MetricFilters) -> dict:
    counts: dict = {}
    for question in SCORE_QUESTIONS:
        rows = responses(filters).exclude(**{question: None}).values(question).annotate(n=Count("pk"))
        counts[question] = {r[question]: r["n"] for r in rows}
    commented = responses(filters).exclude(comment="").values("nps").annotate(n=Count("pk"))
    counts["comment"] = {r["nps"]: r["n"] for r in commented}
    return {q: c for q, c in counts.items() if c}


def survey_scores(filters: MetricFilters):
    return scores_from(answer_counts(filters))


def breakdown(filters: MetricFilters, column: str) -> dict:
    keys = responses(filters).values_list(column, flat=True).distinct()
    result = {}
    for key in keys:
        scores = scores_from({
            q: {r[q]: r["n"] for r in responses(filters).filter(**{column: key}).exclude(**{q: None}).values(q).annotate(n=Count("pk"))}
            for q in SCORE_QUESTIONS
        })  # fmt: skip
        result[key] = (scores.nps, scores.csat, scores.ces)
    return result


def answer_pairs(filters: MetricFilters) -> dict:
    return {
        question: Counter({
            (r["overall"], r[question]): r["n"]
            for r in responses(filters).exclude(overall=None).exclude(**{question: None}).values("overall", question).annotate(n=Count("pk"))
        })
        for question in ("nps", "likelihood_switch", "likelihood_repurchase")
    }  # fmt: skip


def attribute_counts(filters: MetricFilters) -> Counter:
    start, end = filters.period()
    qs = AttributeScore.objects.filter(submitted_at__gte=start, submitted_at__lt=end)
    if filters.segment is not None:
        qs = qs.filter(segment_id=filters.segment_id())
    if filters.survey:
        qs = qs.filter(survey__slug=filters.survey)
    for name in ("survey_type", "touchpoint", "audience"):
        if getattr(filters, name):
            qs = qs.filter(**{f"response__{name}": getattr(filters, name)})
    rows = qs.values("attribute", "score", "response__nps").annotate(n=Count("pk"))
    return Counter({(r["attribute"], r["score"], r["response__nps"]): r["n"] for r in rows})


def response_rate(filters: MetricFilters) -> tuple[int, int]:
    start, end = filters.period()
    qs = Invitation.objects.filter(status=Invitation.Status.SENT, sent_at__gte=start, sent_at__lt=end)
    if filters.segment is not None:
        qs = qs.filter(segment_id=filters.segment_id())
    if filters.survey:
        qs = qs.filter(survey__slug=filters.survey)
    for name in ("survey_type", "touchpoint", "audience"):
        if getattr(filters, name):
            qs = qs.filter(**{f"survey__{name}": getattr(filters, name)})
    row = qs.aggregate(sent=Count("pk"), responded=Count("pk", filter=Q(response__isnull=False)))
    return row["sent"], row["responded"]


# --- the customer base -----------------------------------------------------------------------------------


def segment_at(moment: datetime) -> Coalesce:
    """The target of the customer's last segment move before ``moment``, else the origin of their first
    move after it, else their current segment."""
    moves = Event.objects.filter(customer=OuterRef("pk"), type=Event.Type.SEGMENT_MOVE)
    before = moves.filter(occurred_at__lt=moment).order_by("-occurred_at", "-pk").values("to_segment")[:1]
    after = moves.filter(occurred_at__gte=moment).order_by("occurred_at", "pk").values("from_segment")[:1]
    return Coalesce(Subquery(before), Subquery(after), F("segment"), output_field=BigIntegerField())


def category_at(moment: datetime) -> Coalesce:
    """The customer's NPS category at ``moment`` from their latest answer in the 365 days before it."""
    latest = (
        Response.objects.filter(
            customer=OuterRef("pk"),
            nps__isnull=False,
            submitted_at__lt=moment,
            submitted_at__gte=moment - timedelta(days=CATEGORY_WINDOW_DAYS),
        )
        .order_by("-submitted_at", "-pk")
        .values("nps")[:1]
    )
    return Subquery(latest)


def active_at(moment: datetime, *, segment_id: int | None = None) -> QuerySet[Customer]:
    qs = (
        Customer.objects.exclude(status=Customer.Status.PROSPECT)
        .filter(acquired_at__lt=moment)
        .filter(Q(lost_at__isnull=True) | Q(lost_at__gte=moment))
        .annotate(segment_then=segment_at(moment), nps_then=category_at(moment))
    )
    return qs.filter(segment_then=segment_id) if segment_id is not None else qs


def base_at(moment: datetime, *, segment_id: int | None = None) -> dict[str, tuple[int, Decimal]]:
    """{category: (customers, sum of values)} and "all" at ``moment``; categories worked out in Python."""
    found = {c: [0, Decimal(0)] for c in CATEGORIES}
    for nps, value in active_at(moment, segment_id=segment_id).values_list("nps_then", "value"):
        found[nps_category(nps)][0] += 1
        found[nps_category(nps)][1] += value
    result = {c: (n, v) for c, (n, v) in found.items()}
    result["all"] = (sum(n for n, _v in result.values()), sum((v for _n, v in result.values()), Decimal(0)))
    return result


def events(filters: MetricFilters, type: str) -> QuerySet[Event]:
    start, end = filters.period()
    qs = Event.objects.filter(type=type, occurred_at__gte=start, occurred_at__lt=end)
    if filters.segment is not None:
        segment = filters.segment_id()
        if type == Event.Type.SEGMENT_MOVE:
            qs = qs.filter(Q(from_segment_id=segment) | Q(to_segment_id=segment))
        else:
            qs = qs.filter(segment_id=segment)
    return qs


def customer_base(filters: MetricFilters) -> dict:
    segment = filters.segment_id()
    start, end = filters.period()
    at_start, at_start_value = base_at(start, segment_id=segment)["all"]
    new = events(filters, Event.Type.NEW).aggregate(n=Count("pk"), v=Sum("value"))
    lost = events(filters, Event.Type.LOST).aggregate(n=Count("pk"), v=Sum("value"))
    moves = events(filters, Event.Type.SEGMENT_MOVE)
    moved_in = moves.filter(to_segment_id=segment).exclude(from_segment_id=segment).count() if segment else 0
    moved_out = moves.filter(from_segment_id=segment).exclude(to_segment_id=segment).count() if segment else 0
    return {
        "at_start": at_start,
        "at_start_value": float(at_start_value),
        "new": new["n"],
        "new_value": float(new["v"] or 0),
        "lost": lost["n"],
        "lost_value": float(lost["v"] or 0),
        "moved_in": moved_in,
        "moved_out": moved_out,
        "active_at_end": active_at(end, segment_id=segment).count(),
    }


def events_by(filters: MetricFilters, type: str, *fields: str) -> Counter:
    return Counter(
        {tuple(r[f] for f in fields): r["n"] for r in events(filters, type).values(*fields).annotate(n=Count("pk"))}
    )


def lost_flags_counts(filters: MetricFilters) -> Counter:
    rows = events(filters, Event.Type.LOST).annotate(flags=lost_flags()).values("flags").annotate(n=Count("pk"))
    return Counter({r["flags"]: r["n"] for r in rows})


# --- combined ----------------------------------------------------------------------------------------------


def churn_by_category(filters: MetricFilters) -> dict[str, tuple[int, int]]:
    start, end = filters.period()
    lost = Event.objects.filter(
        customer=OuterRef("pk"), type=Event.Type.LOST, occurred_at__gte=start, occurred_at__lt=end
    )
    result = {c: [0, 0] for c in CATEGORIES}
    for nps, was_lost in (
        active_at(start, segment_id=filters.segment_id())
        .annotate(was_lost=Exists(lost))
        .values_list("nps_then", "was_lost")
    ):
        result[nps_category(nps)][0] += 1
        result[nps_category(nps)][1] += bool(was_lost)
    return {c: tuple(v) for c, v in result.items()}


def referrals_by_category(filters: MetricFilters) -> Counter:
    rows = (
        events(filters, Event.Type.REFERRAL)
        .annotate(category=nps_category_at(OuterRef("occurred_at"), customer="referrer"))
        .values("category")
        .annotate(n=Count("pk"))
    )
    return Counter({r["category"]: r["n"] for r in rows})


def as_of(filters: MetricFilters, today) -> datetime:
    return day_start(min(filters.end, today) + timedelta(days=1))


def detractors(filters: MetricFilters, today) -> list[tuple[int, Decimal]]:
    """(customer id, value) of the detractors at the end of the period, largest value first."""
    moment = as_of(filters, today)
    rows = active_at(moment, segment_id=filters.segment_id()).values_list("pk", "value", "nps_then")
    return sorted(
        ((pk, value) for pk, value, nps in rows if nps_category(nps) == "detractor"), key=lambda r: (-r[1], r[0])
    )


def flags_of(flags: int) -> tuple[bool, bool]:
    return bool(flags & FLAG_DETRACTOR), bool(flags & FLAG_INCIDENT)

"""Survey metrics (shared/METRICS.md, "Survey metrics"), aggregated in the database.

Every function takes the filters and respects all of them: the period (``submitted_at``), the
segment snapshot on the response, the survey slug, the survey type, touchpoint and audience
snapshots. A blank answer is left out of that question's denominator (``Count(column)`` counts
non-null values only).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import date

import pandas as pd
from django.db.models import Avg, Count, F, Q, QuerySet

from surveys.models import AttributeScore, Invitation, Response, Survey, SurveyType

from ..filters import MetricFilters
from .base import NO_VALUE, as_float, bucket_date, buckets, rate, trunc

Z_95 = 1.96

# Satmetrix response-rate benchmarks quoted in METRICS.md, by (audience, survey type).
RESPONSE_RATE_BENCHMARKS: dict[tuple[str, str], float] = {
    ("b2b", SurveyType.RELATIONAL): 32.0,
    ("b2b", SurveyType.TRANSACTIONAL): 23.0,
    ("b2c", SurveyType.RELATIONAL): 13.0,
    ("b2c", SurveyType.TRANSACTIONAL): 16.0,
}

SCALES: dict[str, tuple[int, int]] = {
    "nps": (0, 10), "csat": (1, 5), "ces": (1, 7),
    "likelihood_switch": (0, 10), "likelihood_repurchase": (0, 10), "overall": (1, 5),
}
BREAKDOWNS: dict[str, str] = {"segment": "segment__name", "touchpoint": "touchpoint", "survey_type": "survey_type"}


# --- results -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Nps:
    promoters: int
    passives: int
    detractors: int
    responses: int
    score: float | None
    margin_of_error: float | None

    @classmethod
    def from_counts(cls, *, promoters: int, passives: int, detractors: int) -> Nps:
        n = promoters + passives + detractors
        score = rate(promoters - detractors, n)
        se = nps_standard_error(promoters=promoters, detractors=detractors, n=n)
        return cls(promoters, passives, detractors, n, score, None if se is None else Z_95 * se)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class NpsChange:
    current: Nps
    previous: Nps
    change: float | None
    z: float | None
    significant: bool | None


@dataclass(frozen=True)
class Csat:
    score: float | None  # % of answers 4 or 5
    mean: float | None
    responses: int


@dataclass(frozen=True)
class Ces:
    mean: float | None
    easy_pct: float | None  # % of answers 5-7
    responses: int


@dataclass(frozen=True)
class LikelihoodSwitch:
    mean: float | None
    at_risk_pct: float | None  # % of answers 7-10
    responses: int


@dataclass(frozen=True)
class LikelihoodRepurchase:
    mean: float | None
    likely_pct: float | None  # % of answers 9-10
    responses: int


@dataclass(frozen=True)
class Overall:
    mean: float | None
    responses: int


@dataclass(frozen=True)
class SurveyScores:
    """All the score metrics of one set of responses, from one aggregate query."""

    nps: Nps
    csat: Csat
    ces: Ces
    likelihood_switch: LikelihoodSwitch
    likelihood_repurchase: LikelihoodRepurchase
    overall: Overall


@dataclass(frozen=True)
class ResponseRate:
    sent: int
    responses: int
    rate: float | None
    benchmark: float | None  # Satmetrix, when the audience and survey type are known


# --- querysets ---------------------------------------------------------------------------------


def filtered_responses(*, filters: MetricFilters) -> QuerySet[Response]:
    """The responses submitted in the period that match every dimension of the filters."""
    start, end = filters.period()
    qs = Response.objects.filter(submitted_at__gte=start, submitted_at__lt=end)
    if filters.segment is not None:
        qs = qs.filter(segment_id=filters.segment_id())
    if filters.survey:
        qs = qs.filter(survey__slug=filters.survey)
    if filters.survey_type:
        qs = qs.filter(survey_type=filters.survey_type)
    if filters.touchpoint:
        qs = qs.filter(touchpoint=filters.touchpoint)
    if filters.audience:
        qs = qs.filter(audience=filters.audience)
    return qs


def filtered_attribute_scores(*, filters: MetricFilters) -> QuerySet[AttributeScore]:
    start, end = filters.period()
    qs = AttributeScore.objects.filter(submitted_at__gte=start, submitted_at__lt=end)
    if filters.segment is not None:
        qs = qs.filter(segment_id=filters.segment_id())
    if filters.survey:
        qs = qs.filter(survey__slug=filters.survey)
    if filters.survey_type:
        qs = qs.filter(response__survey_type=filters.survey_type)
    if filters.touchpoint:
        qs = qs.filter(response__touchpoint=filters.touchpoint)
    if filters.audience:
        qs = qs.filter(response__audience=filters.audience)
    return qs


def filtered_sent_invitations(*, filters: MetricFilters) -> QuerySet[Invitation]:
    """Invitations sent in the period: status "sent" only (queued, failed and bounced ones were
    not sent), matched on the invitation's segment snapshot and its survey's dimensions."""
    start, end = filters.period()
    qs = Invitation.objects.filter(status=Invitation.Status.SENT, sent_at__gte=start, sent_at__lt=end)
    if filters.segment is not None:
        qs = qs.filter(segment_id=filters.segment_id())
    if filters.survey:
        qs = qs.filter(survey__slug=filters.survey)
    if filters.survey_type:
        qs = qs.filter(survey__survey_type=filters.survey_type)
    if filters.touchpoint:
        qs = qs.filter(survey__touchpoint=filters.touchpoint)
    if filters.audience:
        qs = qs.filter(survey__audience=filters.audience)
    return qs


# --- aggregation -------------------------------------------------------------------------------


def _score_aggregates() -> dict:
    """Every count and mean the score metrics need, as aggregate expressions for one query."""
    return {
        "nps_promoters": Count("pk", filter=Q(nps__gte=9)),
        "nps_passives": Count("pk", filter=Q(nps__gte=7, nps__lte=8)),
        "nps_detractors": Count("pk", filter=Q(nps__lte=6)),
        "csat_n": Count("csat"),
        "csat_satisfied": Count("pk", filter=Q(csat__gte=4)),
        "csat_mean": Avg("csat"),
        "ces_n": Count("ces"),
        "ces_easy": Count("pk", filter=Q(ces__gte=5)),
        "ces_mean": Avg("ces"),
        "switch_n": Count("likelihood_switch"),
        "switch_at_risk": Count("pk", filter=Q(likelihood_switch__gte=7)),
        "switch_mean": Avg("likelihood_switch"),
        "repurchase_n": Count("likelihood_repurchase"),
        "repurchase_likely": Count("pk", filter=Q(likelihood_repurchase__gte=9)),
        "repurchase_mean": Avg("likelihood_repurchase"),
        "overall_n": Count("overall"),
        "overall_mean": Avg("overall"),
    }


def _scores_from_row(row: dict) -> SurveyScores:
    return SurveyScores(
        nps=Nps.from_counts(
            promoters=row["nps_promoters"], passives=row["nps_passives"], detractors=row["nps_detractors"]
        ),
        csat=Csat(score=rate(row["csat_satisfied"], row["csat_n"]), mean=as_float(row["csat_mean"]),
                  responses=row["csat_n"]),
        ces=Ces(mean=as_float(row["ces_mean"]), easy_pct=rate(row["ces_easy"], row["ces_n"]), responses=row["ces_n"]),
        likelihood_switch=LikelihoodSwitch(
            mean=as_float(row["switch_mean"]), at_risk_pct=rate(row["switch_at_risk"], row["switch_n"]),
            responses=row["switch_n"],
        ),
        likelihood_repurchase=LikelihoodRepurchase(
            mean=as_float(row["repurchase_mean"]), likely_pct=rate(row["repurchase_likely"], row["repurchase_n"]),
            responses=row["repurchase_n"],
        ),
        overall=Overall(mean=as_float(row["overall_mean"]), responses=row["overall_n"]),
    )


def survey_scores(*, filters: MetricFilters) -> SurveyScores:
    """NPS, CSAT, CES, switch, repurchase and overall in one pass over the responses."""
    return _scores_from_row(filtered_responses(filters=filters).aggregate(**_score_aggregates()))


# --- one function per metric -------------------------------------------------------------------


def nps_standard_error(*, promoters: int, detractors: int, n: int) -> float | None:
    """SE = 100 × √(var / n), var = p + d − (p − d)²; None for n < 2 (METRICS.md)."""
    if n < 2:
        return None
    p, d = promoters / n, detractors / n
    variance = max(p + d - (p - d) ** 2, 0.0)
    return 100.0 * math.sqrt(variance / n)


def nps(*, filters: MetricFilters) -> Nps:
    """Promoters 9-10, passives 7-8, detractors 0-6; score = 100 × (P − D) / answered; 95 % MoE."""
    row = filtered_responses(filters=filters).aggregate(
        promoters=Count("pk", filter=Q(nps__gte=9)),
        passives=Count("pk", filter=Q(nps__gte=7, nps__lte=8)),
        detractors=Count("pk", filter=Q(nps__lte=6)),
    )
    return Nps.from_counts(**row)


def nps_significance(*, filters: MetricFilters, previous: MetricFilters | None = None) -> NpsChange:
    """Compares the NPS of the period with ``previous`` (default: the period just before):
    z = (NPS₁ − NPS₂) / √(SE₁² + SE₂²); significant when |z| > 1.96. z is None when either
    period has fewer than 2 answers or both standard errors are zero."""
    current = nps(filters=filters)
    before = nps(filters=previous or filters.previous_period())
    change = None if current.score is None or before.score is None else current.score - before.score
    se1 = nps_standard_error(promoters=current.promoters, detractors=current.detractors, n=current.responses)
    se2 = nps_standard_error(promoters=before.promoters, detractors=before.detractors, n=before.responses)
    if change is None or se1 is None or se2 is None or se1 == se2 == 0:
        return NpsChange(current, before, change, None, None)
    z = change / math.sqrt(se1**2 + se2**2)
    return NpsChange(current, before, change, z, abs(z) > Z_95)


def csat(*, filters: MetricFilters) -> Csat:
    """CSAT % = 100 × answers 4-5 / answered, and the mean (1-5)."""
    return survey_scores(filters=filters).csat


def ces(*, filters: MetricFilters) -> Ces:
    """CES mean (1-7) and % easy = 100 × answers 5-7 / answered."""
    return survey_scores(filters=filters).ces


def likelihood_switch(*, filters: MetricFilters) -> LikelihoodSwitch:
    """Mean (0-10) and % at risk = 100 × answers 7-10 / answered."""
    return survey_scores(filters=filters).likelihood_switch


def likelihood_repurchase(*, filters: MetricFilters) -> LikelihoodRepurchase:
    """Mean (0-10) and % likely = 100 × answers 9-10 / answered."""
    return survey_scores(filters=filters).likelihood_repurchase


def overall(*, filters: MetricFilters) -> Overall:
    """Mean overall experience (1-5)."""
    return survey_scores(filters=filters).overall


def attribute_ratings(*, filters: MetricFilters) -> list[dict]:
    """Mean rating (1-5) per attribute: [{attribute, mean, responses}], by attribute name."""
    rows = (
        filtered_attribute_scores(filters=filters)
        .values("attribute")
        .annotate(mean=Avg("score"), responses=Count("pk"))
        .order_by("attribute")
    )
    return [{"attribute": r["attribute"], "mean": as_float(r["mean"]), "responses": r["responses"]} for r in rows]


def response_rate_benchmark(*, audience: str | None, survey_type: str | None) -> float | None:
    return RESPONSE_RATE_BENCHMARKS.get((audience, survey_type)) if audience and survey_type else None


def response_rate(*, filters: MetricFilters) -> ResponseRate:
    """100 × responses / invitations sent in the period; a response counts whenever it arrives.
    The benchmark is given when the filters pin down the audience and survey type (directly or
    through the survey)."""
    row = filtered_sent_invitations(filters=filters).aggregate(
        sent=Count("pk"), responses=Count("pk", filter=Q(response__isnull=False))
    )
    audience, survey_type = filters.audience, filters.survey_type
    if filters.survey:
        survey = Survey.objects.filter(slug=filters.survey).values("audience", "survey_type").first()
        if survey:
            audience, survey_type = audience or survey["audience"], survey_type or survey["survey_type"]
    return ResponseRate(
        sent=row["sent"], responses=row["responses"], rate=rate(row["responses"], row["sent"]),
        benchmark=response_rate_benchmark(audience=audience, survey_type=survey_type),
    )


def survey_trend(*, filters: MetricFilters, granularity: str = "month") -> list[dict]:
    """Per week/month/quarter (local time) of the period, every bucket listed even when empty:
    [{bucket (first day), nps, nps_margin_of_error, nps_responses, csat, csat_responses,
    ces_mean, ces_responses}]."""
    rows = (
        filtered_responses(filters=filters)
        .annotate(bucket=trunc("submitted_at", granularity))
        .values("bucket")
        .annotate(**_score_aggregates())
        .order_by("bucket")
    )
    by_bucket = {bucket_date(r.pop("bucket")): _scores_from_row(r) for r in rows}
    result = []
    for day in buckets(filters, granularity):
        scores = by_bucket.get(day) or _scores_from_row(_EMPTY_ROW)
        result.append({
            "bucket": day,
            "nps": scores.nps.score,
            "nps_margin_of_error": scores.nps.margin_of_error,
            "nps_responses": scores.nps.responses,
            "csat": scores.csat.score,
            "csat_responses": scores.csat.responses,
            "ces_mean": scores.ces.mean,
            "ces_responses": scores.ces.responses,
        })
    return result


_EMPTY_ROW: dict = {
    "nps_promoters": 0, "nps_passives": 0, "nps_detractors": 0, "csat_n": 0, "csat_satisfied": 0, "csat_mean": None,
    "ces_n": 0, "ces_easy": 0, "ces_mean": None, "switch_n": 0, "switch_at_risk": 0, "switch_mean": None,
    "repurchase_n": 0, "repurchase_likely": 0, "repurchase_mean": None, "overall_n": 0, "overall_mean": None,
}


def score_distribution(*, filters: MetricFilters, question: str = "nps") -> list[dict]:
    """How many answers each score got, every score of the scale listed: [{score, count}]."""
    if question not in SCALES:
        raise ValueError(f"Unknown question {question!r}; use one of {', '.join(SCALES)}.")
    low, high = SCALES[question]
    rows = (
        filtered_responses(filters=filters)
        .filter(**{f"{question}__isnull": False})
        .values(question)
        .annotate(count=Count("pk"))
        .order_by(question)
    )
    counts = {r[question]: r["count"] for r in rows}
    return [{"score": s, "count": counts.get(s, 0)} for s in range(low, high + 1)]


def survey_breakdown(*, filters: MetricFilters, by: str) -> list[dict]:
    """NPS (with MoE), CSAT and CES per segment snapshot, touchpoint or survey type:
    [{key, nps: Nps, csat: Csat, ces: Ces}]; a blank segment is keyed NO_VALUE. Segments come
    highest rank first, other keys alphabetically."""
    if by not in BREAKDOWNS:
        raise ValueError(f"Unknown breakdown {by!r}; use one of {', '.join(BREAKDOWNS)}.")
    column = BREAKDOWNS[by]
    values = [column, "segment__rank"] if by == "segment" else [column]
    rows = (
        filtered_responses(filters=filters)
        .values(*values)
        .annotate(**_score_aggregates())
        .order_by(*([F("segment__rank").desc(nulls_last=True)] if by == "segment" else [column]))
    )
    result = []
    for r in rows:
        key = r.pop(column)
        r.pop("segment__rank", None)
        scores = _scores_from_row(r)
        result.append({"key": NO_VALUE if key is None else key, "nps": scores.nps, "csat": scores.csat,
                       "ces": scores.ces})
    return result


def nps_by(*, filters: MetricFilters, by: str) -> dict[str, float | None]:
    """{key: NPS score} for a breakdown (see ``survey_breakdown``)."""
    return {row["key"]: row["nps"].score for row in survey_breakdown(filters=filters, by=by)}


def trend_frame(trend: list[dict]) -> pd.DataFrame:
    """A trend as a DataFrame indexed by bucket start, for the chart builders."""
    frame = pd.DataFrame(trend)
    return frame.set_index("bucket") if not frame.empty else frame


def period_label(day: date, granularity: str) -> str:
    """A short label for a bucket: 2026-W07, 2026-02, 2026-Q1."""
    if granularity == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if granularity == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    return f"{day.year}-{day.month:02d}"

"""Survey metrics (shared/METRICS.md, "Survey metrics"), from the score, pair, attribute and invitation
facts. Every function respects all the filters: the period (``submitted_at``; ``sent_at`` for the
response rate), the segment snapshot, the survey, its type, touchpoint and audience. A blank answer is
not counted, so it is left out of that question's denominator."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import date

import pandas as pd

from core.definitions import (
    CES_EASY_MIN,
    CSAT_SATISFIED_MIN,
    PASSIVE_MIN,
    PROMOTER_MIN,
    REPURCHASE_LIKELY_MIN,
    RESPONSE_RATE_BENCHMARKS,
    SCALES,
    SWITCH_AT_RISK_MIN,
    Z_95,
    nps_scores,
)
from surveys.models import Survey

from .facts import ATTRIBUTES, INVITATIONS, PAIRS, SCORES
from .filters import MetricFilters
from .read import read, segments, shared
from .stats import buckets, rate

NO_VALUE = "(none)"  # the key for a blank segment or reason in JSON objects
BREAKDOWNS = ("segment", "touchpoint", "survey_type")
Counts = dict[str, dict[int | None, int]]  # {question: {score: answers}}


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
        se = nps_standard_error(promoters=promoters, detractors=detractors, n=n)
        return cls(
            promoters, passives, detractors, n, rate(promoters - detractors, n), None if se is None else Z_95 * se
        )

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
    score: float | None  # % of satisfied answers
    mean: float | None
    responses: int


@dataclass(frozen=True)
class Ces:
    mean: float | None
    easy_pct: float | None
    responses: int


@dataclass(frozen=True)
class LikelihoodSwitch:
    mean: float | None
    at_risk_pct: float | None
    responses: int


@dataclass(frozen=True)
class LikelihoodRepurchase:
    mean: float | None
    likely_pct: float | None
    responses: int


@dataclass(frozen=True)
class Overall:
    mean: float | None
    responses: int


@dataclass(frozen=True)
class SurveyScores:
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


# --- from answer counts to figures --------------------------------------------------------------


def _n(counts: dict, minimum: int | None = None) -> int:
    return sum(n for score, n in counts.items() if score is not None and (minimum is None or score >= minimum))


def _mean(counts: dict) -> float | None:
    n = _n(counts)
    return sum(score * k for score, k in counts.items() if score is not None) / n if n else None


def scores_from(counts: Counts) -> SurveyScores:
    nps = counts.get("nps", {})
    csat, ces = counts.get("csat", {}), counts.get("ces", {})
    switch, repurchase = counts.get("likelihood_switch", {}), counts.get("likelihood_repurchase", {})
    overall = counts.get("overall", {})
    return SurveyScores(
        nps=Nps.from_counts(
            promoters=_n(nps, PROMOTER_MIN),
            passives=_n(nps, PASSIVE_MIN) - _n(nps, PROMOTER_MIN),
            detractors=_n(nps) - _n(nps, PASSIVE_MIN),
        ),  # fmt: skip
        csat=Csat(score=rate(_n(csat, CSAT_SATISFIED_MIN), _n(csat)), mean=_mean(csat), responses=_n(csat)),
        ces=Ces(mean=_mean(ces), easy_pct=rate(_n(ces, CES_EASY_MIN), _n(ces)), responses=_n(ces)),
        likelihood_switch=LikelihoodSwitch(
            mean=_mean(switch), at_risk_pct=rate(_n(switch, SWITCH_AT_RISK_MIN), _n(switch)), responses=_n(switch)
        ),
        likelihood_repurchase=LikelihoodRepurchase(
            mean=_mean(repurchase),
            likely_pct=rate(_n(repurchase, REPURCHASE_LIKELY_MIN), _n(repurchase)),
            responses=_n(repurchase),
        ),
        overall=Overall(mean=_mean(overall), responses=_n(overall)),
    )


def _counts(rows: list[dict]) -> Counts:
    counts: Counts = defaultdict(dict)
    for row in rows:
        counts[row["question"]][row["score"]] = counts[row["question"]].get(row["score"], 0) + row["n"]
    return counts


def nps_standard_error(*, promoters: int, detractors: int, n: int) -> float | None:
    """SE = 100 × √(var / n), var = p + d − (p − d)²; None for n < 2."""
    if n < 2:
        return None
    p, d = promoters / n, detractors / n
    return 100.0 * math.sqrt(max(p + d - (p - d) ** 2, 0.0) / n)


# --- one function per metric ------------------------------------------------------------------------


@shared
def _answers(*, filters: MetricFilters) -> list[dict]:
    """The period's answers per segment, touchpoint, survey type, question and score: one read for the
    scores and every breakdown of them."""
    return read(SCORES, filters, by=("segment_id", "anonymous", "touchpoint", "survey_type", "question", "score"))


@shared
def answer_counts(*, filters: MetricFilters) -> Counts:
    """Answers per question and score in the period ("comment": responses with a comment, by NPS answer)."""
    return _counts(_answers(filters=filters))


@shared
def survey_scores(*, filters: MetricFilters) -> SurveyScores:
    """NPS, CSAT, CES, switch, repurchase and overall experience."""
    return scores_from(answer_counts(filters=filters))


def nps(*, filters: MetricFilters) -> Nps:
    return survey_scores(filters=filters).nps


def csat(*, filters: MetricFilters) -> Csat:
    return survey_scores(filters=filters).csat


def ces(*, filters: MetricFilters) -> Ces:
    return survey_scores(filters=filters).ces


def likelihood_switch(*, filters: MetricFilters) -> LikelihoodSwitch:
    return survey_scores(filters=filters).likelihood_switch


def likelihood_repurchase(*, filters: MetricFilters) -> LikelihoodRepurchase:
    return survey_scores(filters=filters).likelihood_repurchase


def overall(*, filters: MetricFilters) -> Overall:
    return survey_scores(filters=filters).overall


def nps_change(current: Nps, before: Nps) -> NpsChange:
    """z = (NPS₁ − NPS₂) / √(SE₁² + SE₂²); significant when |z| > Z_95. z is None when either period has
    fewer than 2 answers or both standard errors are zero."""
    change = None if current.score is None or before.score is None else current.score - before.score
    se1 = nps_standard_error(promoters=current.promoters, detractors=current.detractors, n=current.responses)
    se2 = nps_standard_error(promoters=before.promoters, detractors=before.detractors, n=before.responses)
    if change is None or se1 is None or se2 is None or se1 == se2 == 0:
        return NpsChange(current, before, change, None, None)
    z = change / math.sqrt(se1**2 + se2**2)
    return NpsChange(current, before, change, z, abs(z) > Z_95)


def nps_significance(*, filters: MetricFilters, previous: MetricFilters | None = None) -> NpsChange:
    """The NPS of the period against ``previous`` (default: the period just before)."""
    return nps_change(nps(filters=filters), nps(filters=previous or filters.previous_period()))


def score_distribution(*, filters: MetricFilters, question: str = "nps") -> list[dict]:
    """How many answers each score got, every score of the scale listed: [{score, count}]."""
    if question not in SCALES or question == "attribute":
        raise ValueError(f"Unknown question {question!r}; use one of {', '.join(SCALES)}.")
    low, high = SCALES[question]
    counts = answer_counts(filters=filters).get(question, {})
    return [{"score": s, "count": counts.get(s, 0)} for s in range(low, high + 1)]


def comment_count(*, filters: MetricFilters, category: str = "") -> int:
    """Responses in the period with a comment (of that NPS category: promoter, passive, detractor)."""
    comments = answer_counts(filters=filters).get("comment", {})
    if not category:
        return sum(comments.values())
    return sum(n for score, n in comments.items() if score in nps_scores(category))


@shared
def survey_trend(*, filters: MetricFilters, granularity: str = "month") -> list[dict]:
    """Per week/month/quarter of the period, every bucket listed even when empty: [{bucket (first day),
    nps, nps_margin_of_error, nps_responses, csat, csat_responses, ces_mean, ces_responses}]."""
    by_bucket: dict[date, list[dict]] = defaultdict(list)
    for row in read(SCORES, filters, by=("question", "score"), bucket=granularity):
        by_bucket[row["bucket"]].append(row)
    result = []
    for day in buckets(filters, granularity):
        scores = scores_from(_counts(by_bucket.get(day, [])))
        result.append({
            "bucket": day, "nps": scores.nps.score, "nps_margin_of_error": scores.nps.margin_of_error,
            "nps_responses": scores.nps.responses, "csat": scores.csat.score, "csat_responses": scores.csat.responses,
            "ces_mean": scores.ces.mean, "ces_responses": scores.ces.responses,
        })  # fmt: skip
    return result


@shared
def survey_breakdown(*, filters: MetricFilters, by: str) -> list[dict]:
    """NPS (with MoE), CSAT and CES per segment snapshot, touchpoint or survey type: [{key, nps, csat,
    ces}]; a blank segment is NO_VALUE. Segments come highest rank first, other keys alphabetically.
    By segment, anonymous answers are left out: they have no segment, they are not "no segment"."""
    if by not in BREAKDOWNS:
        raise ValueError(f"Unknown breakdown {by!r}; use one of {', '.join(BREAKDOWNS)}.")
    names = segments()
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in _answers(filters=filters):
        if by == "segment" and row["anonymous"]:
            continue
        key = (names[row["segment_id"]]["name"], names[row["segment_id"]]["rank"]) if by == "segment" else (row[by],)
        groups[key].append(row)
    if by == "segment":
        order = sorted(groups, key=lambda k: (k[1] is None, -(k[1] or 0)))
    else:
        order = sorted(groups, key=lambda k: (k[0] is None, k[0] or ""))
    result = []
    for key in order:
        scores = scores_from(_counts(groups[key]))
        result.append({"key": NO_VALUE if key[0] is None else key[0], "nps": scores.nps, "csat": scores.csat,
                       "ces": scores.ces})  # fmt: skip
    return result


@shared
def answer_pairs(*, filters: MetricFilters) -> dict[str, pd.DataFrame]:
    """Per key metric: the distinct (overall experience, answer) pairs of the responses that answered
    both, with their counts."""
    rows = read(PAIRS, filters, by=("question", "overall", "score"))
    return {
        question: pd.DataFrame(
            sorted((r["overall"], r["score"], r["n"]) for r in rows if r["question"] == question and r["n"]),
            columns=["overall", question, "count"],
        )
        for question in ("nps", "likelihood_switch", "likelihood_repurchase")
    }


@shared
def attribute_counts(*, filters: MetricFilters) -> list[dict]:
    """Attribute ratings per attribute, score and NPS answer of the same response."""
    return read(ATTRIBUTES, filters, by=("attribute", "score", "nps"))


def attribute_ratings(*, filters: MetricFilters) -> list[dict]:
    """Mean rating per attribute: [{attribute, mean, responses}], by attribute name."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in attribute_counts(filters=filters):
        totals[row["attribute"]][0] += row["score"] * row["n"]
        totals[row["attribute"]][1] += row["n"]
    return [{"attribute": a, "mean": s / n, "responses": n} for a, (s, n) in sorted(totals.items())]


def attribute_nps_pairs(*, filters: MetricFilters) -> pd.DataFrame:
    """The distinct (attribute, rating, NPS answer of the same response) with their counts."""
    rows = sorted(
        (r["attribute"], r["score"], r["nps"], r["n"])
        for r in attribute_counts(filters=filters)
        if r["nps"] is not None
    )
    return pd.DataFrame(rows, columns=["attribute", "score", "response__nps", "count"])


def response_rate_benchmark(*, audience: str | None, survey_type: str | None) -> float | None:
    return RESPONSE_RATE_BENCHMARKS.get((audience, survey_type)) if audience and survey_type else None


@shared
def response_rate(*, filters: MetricFilters) -> ResponseRate:
    """100 × responses / invitations sent in the period; a response counts whenever it arrives. The
    benchmark is given when the filters pin down the audience and survey type (directly or through the
    survey)."""
    totals = next(iter(read(INVITATIONS, filters)), {"sent": 0, "responded": 0})
    audience, survey_type = filters.audience, filters.survey_type
    if filters.survey:
        survey = Survey.objects.filter(slug=filters.survey).values("audience", "survey_type").first()
        if survey:
            audience, survey_type = audience or survey["audience"], survey_type or survey["survey_type"]
    return ResponseRate(
        sent=totals["sent"], responses=totals["responded"], rate=rate(totals["responded"], totals["sent"]),
        benchmark=response_rate_benchmark(audience=audience, survey_type=survey_type),
    )  # fmt: skip


def filtered_responses(*, filters: MetricFilters):
    """The raw responses of the period that match every filter (the comment list, the exports)."""
    start, end = filters.period()
    return SCORES.source().filter(
        SCORES.where(filters.resolved(), False), submitted_at__gte=start, submitted_at__lt=end
    )

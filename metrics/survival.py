"""Retention curves by NPS category (shared/METRICS.md, "Survival and churn risk").

The period chooses the cohort: each identified customer's latest NPS answer in the period (among the
answers the filters select) starts their clock, and the answer's category is their group. A ``lost``
event of the customer at or after the answer ends the clock (an event); otherwise today censors it.
Durations are whole days (site time) from the answer's day.

The estimates come from scikit-survival (a maintained survival library): the Kaplan–Meier product
limit with its 95 % interval (Greenwood's variance on the log(−log) scale, which keeps the interval
inside 0-1), and the log-rank test of promoters against detractors.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import numpy as np
from django.db.models import F, OuterRef, Subquery, Window
from django.db.models.functions import RowNumber, TruncDate

from core.days import site_timezone, today
from core.definitions import CATEGORIES, CONFIDENCE_LEVEL, RETENTION_DAYS, nps_category
from customers.models import Event

from .filters import MetricFilters
from .read import kept_until_refresh, shared
from .survey import filtered_responses


@dataclass(frozen=True)
class RetentionCurve:
    category: str
    customers: int  # in the cohort
    lost: int  # events
    # The step curve: [{day, retention, lower, upper, at_risk}], from day 0 to the longest follow-up.
    points: list[dict] = field(default_factory=list)
    # Retention at each of RETENTION_DAYS: {day: {retention, lower, upper, at_risk}}; None past the
    # longest follow-up (the curve says nothing there).
    at_days: dict[int, dict | None] = field(default_factory=dict)


@dataclass(frozen=True)
class RetentionByCategory:
    as_of: date  # the day that censors the clocks still running
    curves: dict[str, RetentionCurve]
    logrank_p: float | None  # promoters against detractors; None without both groups or without a loss
    logrank_chi2: float | None = None


def cohort(*, filters: MetricFilters) -> list[tuple[str, int, bool]]:
    """(category, days followed, lost) per customer of the cohort: one query. Each customer's latest
    answer is the first in their window of answers newest first; their loss, the earliest ``lost`` event
    from that answer on; both days in site time."""
    answers = filtered_responses(filters=filters).filter(customer__isnull=False, nps__isnull=False)
    newest_first = Window(
        RowNumber(), partition_by=[F("customer")], order_by=[F("submitted_at").desc(), F("pk").desc()]
    )
    lost = Event.objects.filter(
        type=Event.Type.LOST, customer=OuterRef("customer"), occurred_at__gte=OuterRef("submitted_at")
    ).order_by("occurred_at")  # by time alone: the (customer, type, occurred_at) index answers by itself
    zone = site_timezone()
    rows = (
        answers.annotate(newest=newest_first)
        .filter(newest=1)
        .annotate(
            answer_day=TruncDate("submitted_at", tzinfo=zone),
            lost_day=TruncDate(Subquery(lost.values("occurred_at")[:1]), tzinfo=zone),
        )
        .values_list("nps", "answer_day", "lost_day")
    )
    now = today()
    return [
        (nps_category(nps), max(((lost_day or now) - answered).days, 0), lost_day is not None)
        for nps, answered, lost_day in rows
    ]


def _finite(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def _curve(category: str, days: np.ndarray, lost: np.ndarray) -> RetentionCurve:
    from sksurv.nonparametric import kaplan_meier_estimator  # heavy import: only when drawn

    if not len(days):
        return RetentionCurve(category=category, customers=0, lost=0, at_days=dict.fromkeys(RETENTION_DAYS))
    times, survival, interval = kaplan_meier_estimator(
        lost, days.astype(float), conf_type="log-log", conf_level=CONFIDENCE_LEVEL
    )
    # Followed at least t days: everyone past the first duration ≥ t in the sorted durations.
    ordered = np.sort(days)
    at_risk = (len(ordered) - np.searchsorted(ordered, times, side="left")).tolist()
    points = [{"day": 0, "retention": 1.0, "lower": 1.0, "upper": 1.0, "at_risk": len(days)}]
    points += [
        {"day": int(t), "retention": _finite(s), "lower": _finite(lo), "upper": _finite(hi), "at_risk": n}
        for t, s, lo, hi, n in zip(times, survival, interval[0], interval[1], at_risk, strict=True)
    ]
    longest = int(days.max())
    at_days: dict[int, dict | None] = {}
    for day in RETENTION_DAYS:
        if day > longest:
            at_days[day] = None
            continue
        point = [p for p in points if p["day"] <= day][-1]  # the step curve is right-continuous
        at_days[day] = {**point, "at_risk": int((days >= day).sum())}
        del at_days[day]["day"]
    return RetentionCurve(category=category, customers=len(days), lost=int(lost.sum()), points=points, at_days=at_days)


def _logrank(groups: dict[str, tuple[np.ndarray, np.ndarray]]) -> tuple[float | None, float | None]:
    from sksurv.compare import compare_survival

    promoters, detractors = groups["promoter"], groups["detractor"]
    if not len(promoters[0]) or not len(detractors[0]) or not (promoters[1].any() or detractors[1].any()):
        return None, None
    outcome = np.array(
        list(zip(np.concatenate([promoters[1], detractors[1]]), np.concatenate([promoters[0], detractors[0]]).astype(float), strict=True)),
        dtype=[("lost", "?"), ("days", "<f8")],
    )  # fmt: skip
    labels = np.array(["promoter"] * len(promoters[0]) + ["detractor"] * len(detractors[0]))
    try:
        chi2, p = compare_survival(outcome, labels)
    except np.linalg.LinAlgError:
        # No variance to test against: at every loss only one of the two groups was still followed.
        return None, None
    return _finite(p), _finite(chi2)


@shared
def retention_by_nps_category(*, filters: MetricFilters) -> RetentionByCategory:
    """Kaplan–Meier retention per NPS category of the cohort's answers, retention at RETENTION_DAYS with
    its interval, and the log-rank p-value of promoters against detractors. Kept until the read model's
    next refresh (``kept_until_refresh``): the cohort reads every customer's latest answer and loss."""
    return kept_until_refresh("retention-by-category", filters, lambda: _retention(filters))


def _retention(filters: MetricFilters) -> RetentionByCategory:
    found: dict[str, list[tuple[int, bool]]] = defaultdict(list)
    for category, days, lost in cohort(filters=filters):
        found[category].append((days, lost))
    groups = {
        c: (np.array([d for d, _l in found[c]], dtype=int), np.array([lost for _d, lost in found[c]], dtype=bool))
        for c in CATEGORIES
    }
    p, chi2 = _logrank(groups)
    return RetentionByCategory(
        as_of=today(),
        curves={c: _curve(c, *groups[c]) for c in CATEGORIES},
        logrank_p=p,
        logrank_chi2=chi2,
    )

"""Combined metrics: surveys joined to the customer base (shared/METRICS.md, "Combined metrics").

A customer's NPS category at time t comes from their latest NPS answer before t within the last
365 days, otherwise "no response"; it is computed in the database as a correlated subquery, so
grouping a customer base by category is one query. Anonymous responses never count here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd
from django.db.models import (
    Avg,
    Case,
    CharField,
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from crm_sync.models import Event
from surveys.models import Response

from ..filters import MetricFilters
from .base import as_float, rate, weighted_spearman
from .customers import active_customers_at, period_events
from .survey import attribute_ratings, filtered_attribute_scores, filtered_responses, survey_breakdown

CATEGORY_WINDOW_DAYS = 365
CATEGORIES = ("promoter", "passive", "detractor", "no_response")
LINKED_QUESTIONS = ("nps", "likelihood_switch", "likelihood_repurchase")


@dataclass(frozen=True)
class CategoryChurn:
    at_start: int
    lost: int
    churn_rate: float | None


@dataclass(frozen=True)
class RevenueAtRisk:
    as_of: datetime
    value: float
    customers: int
    detractors: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class Correlation:
    rho: float | None
    n: int


# --- NPS category in the database --------------------------------------------------------------


def _answers_before(moment, *, customer: str):
    if isinstance(moment, datetime):
        since = moment - timedelta(days=CATEGORY_WINDOW_DAYS)
    else:
        since = ExpressionWrapper(moment - timedelta(days=CATEGORY_WINDOW_DAYS), output_field=DateTimeField())
    return Response.objects.filter(
        customer=OuterRef(customer), nps__isnull=False, submitted_at__lt=moment, submitted_at__gte=since
    ).order_by("-submitted_at", "-pk")


def last_nps_before(moment, *, customer: str = "pk") -> Subquery:
    """The customer's latest NPS answer before ``moment`` (a datetime or an expression such as
    ``OuterRef("occurred_at")``) and within the 365 days before it; NULL when there is none."""
    return Subquery(_answers_before(moment, customer=customer).values("nps")[:1])


def nps_category(score_field: str = "nps") -> Case:
    """promoter 9-10 / passive 7-8 / detractor 0-6 / no_response, from an NPS column or annotation."""
    return Case(
        When(**{f"{score_field}__gte": 9}, then=Value("promoter")),
        When(**{f"{score_field}__gte": 7}, then=Value("passive")),
        When(**{f"{score_field}__isnull": False}, then=Value("detractor")),
        default=Value("no_response"),
        output_field=CharField(),
    )


def nps_category_at(moment, *, customer: str = "pk") -> Coalesce:
    """The customer's NPS category at ``moment`` as one correlated subquery (the category is worked
    out inside it, so the subquery runs once per customer, not once per CASE branch)."""
    latest = _answers_before(moment, customer=customer).annotate(category=nps_category("nps"))
    return Coalesce(Subquery(latest.values("category")[:1]), Value("no_response"), output_field=CharField())


def _as_of(filters: MetricFilters) -> datetime:
    """"Current" for a report on a period: the end of the period, or now if that is earlier."""
    _, end = filters.period()
    return min(end, timezone.now())


def customers_by_category(moment: datetime, *, segment_id: int | None = None):
    """The customers active at ``moment`` annotated with ``category`` (their NPS category then)."""
    return (
        active_customers_at(moment, segment_id=segment_id).annotate(category=nps_category_at(moment))
    )


# --- one function per metric -------------------------------------------------------------------


def nps_by_segment(*, filters: MetricFilters) -> dict[str, float | None]:
    """NPS score per segment snapshot on the responses: {segment name: score}."""
    return {row["key"]: row["nps"].score for row in survey_breakdown(filters=filters, by="segment")}


def csat_by_segment(*, filters: MetricFilters) -> dict[str, float | None]:
    """CSAT % per segment snapshot: {segment name: score}."""
    return {row["key"]: row["csat"].score for row in survey_breakdown(filters=filters, by="segment")}


def ces_by_segment(*, filters: MetricFilters) -> dict[str, float | None]:
    """Mean CES per segment snapshot: {segment name: mean}."""
    return {row["key"]: row["ces"].mean for row in survey_breakdown(filters=filters, by="segment")}


def churn_by_nps_category(*, filters: MetricFilters) -> dict[str, CategoryChurn]:
    """Customers at start grouped by their NPS category at ``start``: how many there were, how many
    had a ``lost`` event in the period, and the churn rate, for every category."""
    start, end = filters.period()
    lost_in_period = Event.objects.filter(
        customer=OuterRef("pk"), type=Event.Type.LOST, occurred_at__gte=start, occurred_at__lt=end
    )
    rows = (
        customers_by_category(start, segment_id=filters.segment_id())
        .annotate(lost_in_period=Exists(lost_in_period))
        .values("category")
        .annotate(at_start=Count("pk"), lost=Count("pk", filter=Q(lost_in_period=True)))
        .order_by("category")
    )
    found = {r["category"]: r for r in rows}
    result = {}
    for category in CATEGORIES:
        row = found.get(category, {"at_start": 0, "lost": 0})
        result[category] = CategoryChurn(
            at_start=row["at_start"], lost=row["lost"], churn_rate=rate(row["lost"], row["at_start"])
        )
    return result


def referrals_by_nps_category(*, filters: MetricFilters) -> dict[str, int]:
    """Referrals in the period by the referrer's NPS category at the time of the referral."""
    rows = (
        period_events(filters=filters, type=Event.Type.REFERRAL)
        .annotate(category=nps_category_at(OuterRef("occurred_at"), customer="referrer"))
        .values("category")
        .annotate(count=Count("pk"))
        .order_by("category")
    )
    found = {r["category"]: r["count"] for r in rows}
    return {category: found.get(category, 0) for category in CATEGORIES}


def revenue_at_risk(*, filters: MetricFilters, limit: int = 200) -> RevenueAtRisk:
    """Sum of the values of the active customers whose current NPS category is detractor, with the
    list (largest value first). "Current" is the end of the period, or now if earlier, so a report on
    a past period can be reproduced."""
    moment = _as_of(filters)
    detractors = customers_by_category(moment, segment_id=filters.segment_id()).filter(category="detractor")
    totals = detractors.aggregate(value=Sum("value"), customers=Count("pk"))
    rows = (
        detractors.annotate(last_nps=last_nps_before(moment))
        .values("pk", "name", "value", "segment__name", "last_nps")
        .order_by("-value", "pk")[:limit]
    )
    return RevenueAtRisk(
        as_of=moment,
        value=as_float(totals["value"]) or 0.0,
        customers=totals["customers"],
        detractors=[{"customer_id": r["pk"], "name": r["name"], "value": as_float(r["value"]),
                     "segment": r["segment__name"], "nps": r["last_nps"]} for r in rows],
    )


def value_by_nps_category(*, filters: MetricFilters) -> dict[str, dict]:
    """Count and mean value of the active customers per current NPS category (as of the end of the
    period, or now): {category: {customers, mean_value}}."""
    rows = (
        customers_by_category(_as_of(filters), segment_id=filters.segment_id())
        .values("category")
        .annotate(customers=Count("pk"), mean_value=Avg("value"))
        .order_by("category")
    )
    found = {r["category"]: r for r in rows}
    return {
        category: {"customers": found[category]["customers"] if category in found else 0,
                   "mean_value": as_float(found[category]["mean_value"]) if category in found else None}
        for category in CATEGORIES
    }


def _pairs(qs, x: str, y: str) -> pd.DataFrame:
    """The distinct (x, y) answer pairs with their counts: at most 11 × 11 rows whatever the data."""
    rows = qs.filter(**{f"{x}__isnull": False, f"{y}__isnull": False}).values(x, y).annotate(count=Count("pk"))
    return pd.DataFrame(list(rows.order_by(x, y)), columns=[x, y, "count"])


def key_metric_links(*, filters: MetricFilters) -> dict[str, Correlation]:
    """Spearman's rho (with n) between overall experience and each of likelihood to recommend (nps),
    to switch and to repurchase, over the responses that answered both."""
    qs = filtered_responses(filters=filters)
    result = {}
    for question in LINKED_QUESTIONS:
        rho, n = weighted_spearman(_pairs(qs, "overall", question), "overall", question)
        result[question] = Correlation(rho=rho, n=n)
    return result


def driver_importance(*, filters: MetricFilters) -> list[dict]:
    """Per attribute: Spearman's rho between the attribute rating and the NPS answer of the same
    response (importance, with n), beside the attribute's mean rating (performance):
    [{attribute, importance, n, mean, responses}], most important first."""
    table = pd.DataFrame(
        list(
            filtered_attribute_scores(filters=filters)
            .filter(response__nps__isnull=False)
            .values("attribute", "score", "response__nps")
            .annotate(count=Count("pk"))
            .order_by("attribute", "score", "response__nps")
        ),
        columns=["attribute", "score", "response__nps", "count"],
    )
    importance = {
        attribute: weighted_spearman(group, "score", "response__nps")
        for attribute, group in table.groupby("attribute", sort=True)
    }
    result = []
    for rating in attribute_ratings(filters=filters):
        rho, n = importance.get(rating["attribute"], (None, 0))
        result.append({"attribute": rating["attribute"], "importance": rho, "n": n,
                       "mean": rating["mean"], "responses": rating["responses"]})
    return sorted(result, key=lambda r: (r["importance"] is None, -(r["importance"] or 0), r["attribute"]))

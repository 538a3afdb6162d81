"""Combined metrics: surveys joined to the customer base (shared/METRICS.md, "Combined metrics").

A customer's NPS category at a moment comes from their latest NPS answer within the category window
before it (core.definitions), otherwise "no response"; anonymous answers never count here. "Current" for a period is the end of its
last day, or of today when it ends later: the customer base then (``customer_base.base_at``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import OuterRef, Q, Subquery

from core.days import day_start, today
from core.definitions import CATEGORIES as SCORED_CATEGORIES
from core.definitions import LINKED_QUESTIONS, NO_RESPONSE
from customers.models import Customer, Event
from surveys.models import Response

from .customer_base import base_at, covers, pending_customers, pending_spells, spells_covering
from .customers import LOST, REFERRAL, events_by
from .drivers import driver_relative_weights
from .filters import MetricFilters
from .models import CustomerSpell
from .read import segments, shared
from .stats import as_float, rate, weighted_spearman
from .survey import answer_pairs, attribute_nps_pairs, attribute_ratings, survey_breakdown

CATEGORIES = (*SCORED_CATEGORIES, NO_RESPONSE)


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


def as_of_day(filters: MetricFilters) -> date:
    """The day whose 00:00 is "current" for the period: the end of its last day, or of today."""
    return min(filters.end, today()) + timedelta(days=1)


def nps_by_segment(*, filters: MetricFilters) -> dict[str, float | None]:
    """NPS per segment snapshot on the responses: {segment name: score}."""
    return {row["key"]: row["nps"].score for row in survey_breakdown(filters=filters, by="segment")}


def csat_by_segment(*, filters: MetricFilters) -> dict[str, float | None]:
    return {row["key"]: row["csat"].score for row in survey_breakdown(filters=filters, by="segment")}


def ces_by_segment(*, filters: MetricFilters) -> dict[str, float | None]:
    return {row["key"]: row["ces"].mean for row in survey_breakdown(filters=filters, by="segment")}


def _spells_at(day: date, *, segment_id: int | None, **conditions) -> tuple:
    """The spells covering ``day`` (and in the segment) as (stored ones of customers without a pending
    change: a queryset, the pending customers' as their raw rows give them now: a list)."""
    stored = CustomerSpell.objects.filter(spells_covering(day), **conditions).exclude(
        customer_id__in=pending_customers()
    )
    fresh = [
        s for s in pending_spells()[1]
        if covers(s, day) and all(getattr(s, k) == v for k, v in conditions.items())
    ]  # fmt: skip
    if segment_id is not None:
        stored = stored.filter(segment_id=segment_id)
        fresh = [s for s in fresh if s.segment_id == segment_id]
    return stored, fresh


@shared
def churn_by_nps_category(*, filters: MetricFilters) -> dict[str, CategoryChurn]:
    """Customers at start grouped by their NPS category at ``start``: how many there were, how many had
    a ``lost`` event in the period, and the churn rate, for every category."""
    segment_id = filters.segment_id()
    base = base_at(filters.start, segment_id=segment_id)
    start, end = filters.period()
    lost = Event.objects.filter(type=LOST, occurred_at__gte=start, occurred_at__lt=end).values("customer_id")
    # Each lost customer's spell at the start, one index probe each: the lost are few beside the base.
    then = CustomerSpell.objects.filter(customer_id=OuterRef("pk"), first_day__lte=filters.start).order_by("-first_day")
    if segment_id is not None:
        then = then.filter(segment_id=segment_id)
    then = then.filter(Q(end_day__isnull=True) | Q(end_day__gt=filters.start)).values("category")[:1]
    counts = dict.fromkeys(CATEGORIES, 0)
    lost_customers = Customer.objects.filter(pk__in=lost).exclude(pk__in=pending_customers())
    for category in lost_customers.annotate(category=Subquery(then)).values_list("category", flat=True):
        if category:
            counts[category] += 1
    fresh = _spells_at(filters.start, segment_id=segment_id)[1]
    if fresh:
        lost_pending = set(
            lost.filter(customer_id__in=[s.customer_id for s in fresh]).values_list("customer_id", flat=True)
        )
        for spell in fresh:
            counts[spell.category] += spell.customer_id in lost_pending
    return {
        category: CategoryChurn(at_start=base[category][0], lost=counts[category], churn_rate=rate(counts[category], base[category][0]))
        for category in CATEGORIES
    }  # fmt: skip


def referrals_by_nps_category(*, filters: MetricFilters) -> dict[str, int]:
    """Referrals in the period by the referrer's NPS category when they referred."""
    found = {r["category"]: r["count"] for r in events_by(filters=filters, by=("category",)) if r["type"] == REFERRAL}
    return {category: found.get(category, 0) for category in CATEGORIES}


@shared
def revenue_at_risk(*, filters: MetricFilters, limit: int = 200) -> RevenueAtRisk:
    """The sum of the values of the customers who are detractors at the end of the period (or of today),
    with the list, largest value first."""
    day, segment_id = as_of_day(filters), filters.segment_id()
    count, value = base_at(day, segment_id=segment_id)["detractor"]
    stored, fresh = _spells_at(day, segment_id=segment_id, category="detractor")
    top = [*stored.order_by("-value", "customer_id")[:limit], *fresh] if limit else []
    top = sorted(top, key=lambda s: (-s.value, s.customer_id))[:limit]
    moment = day_start(day)
    latest = Response.objects.filter(customer=OuterRef("pk"), nps__isnull=False, submitted_at__lt=moment)
    customers = Customer.objects.filter(pk__in=[s.customer_id for s in top]).annotate(
        last_nps=Subquery(latest.order_by("-submitted_at", "-pk").values("nps")[:1])
    )
    names = {c.pk: (c.name, c.last_nps, c.external_id) for c in customers}
    return RevenueAtRisk(
        as_of=moment,
        value=as_float(value) if count else 0.0,
        customers=count,
        detractors=[
            {
                "customer_id": s.customer_id,
                "crm_id": names[s.customer_id][2],
                "name": names[s.customer_id][0],
                "value": as_float(s.value),
                "segment": segments()[s.segment_id]["name"],
                "nps": names[s.customer_id][1],
            }
            for s in top
        ],  # fmt: skip
    )


def value_by_nps_category(*, filters: MetricFilters) -> dict[str, dict]:
    """Count and mean value of the customers per NPS category at the end of the period (or of today):
    {category: {customers, mean_value}}."""
    base = base_at(as_of_day(filters), segment_id=filters.segment_id())
    return {
        category: {"customers": base[category][0], "mean_value": as_float(base[category][1] / base[category][0]) if base[category][0] else None}
        for category in CATEGORIES
    }  # fmt: skip


@shared
def key_metric_links(*, filters: MetricFilters) -> dict[str, Correlation]:
    """Spearman's rho (with n) between overall experience and each of likelihood to recommend (nps), to
    switch and to repurchase, over the responses that answered both."""
    tables = answer_pairs(filters=filters)
    return {q: Correlation(*weighted_spearman(tables[q], "overall", q)) for q in LINKED_QUESTIONS}


@shared
def driver_importance(*, filters: MetricFilters) -> list[dict]:
    """Per attribute: Spearman's rho between its rating and the NPS answer of the same response
    (importance, with n), beside its mean rating (performance), and its relative weight (% of R², with
    its 95 % bootstrap interval, whether it is significant, and the sample's n: ``metrics.drivers``):
    [{attribute, importance, n, mean, responses, relative_weight, lower, upper, significant,
    weights_n}], most important first."""
    table = attribute_nps_pairs(filters=filters)
    importance = {
        attribute: weighted_spearman(group, "score", "response__nps")
        for attribute, group in table.groupby("attribute", sort=True)
    }
    weights = driver_relative_weights(filters=filters)
    found = weights.by_attribute()
    result = []
    for rating in attribute_ratings(filters=filters):
        rho, n = importance.get(rating["attribute"], (None, 0))
        driver = found.get(rating["attribute"])
        result.append({"attribute": rating["attribute"], "importance": rho, "n": n, "mean": rating["mean"],
                       "responses": rating["responses"],
                       "relative_weight": driver.weight_pct if driver else None,
                       "lower": driver.lower_pct if driver else None,
                       "upper": driver.upper_pct if driver else None,
                       "significant": driver.significant if driver else None,
                       "weights_n": weights.n if driver else 0})  # fmt: skip
    return sorted(result, key=lambda r: (r["importance"] is None, -(r["importance"] or 0), r["attribute"]))

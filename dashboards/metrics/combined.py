"""Combined metrics: surveys joined to the customer base (shared/METRICS.md, "Combined metrics").

A customer's NPS category at time t comes from their latest NPS answer before t within the last
365 days, otherwise "no response"; it is computed in the database as a correlated subquery, so
grouping a customer base by category is one query. Anonymous responses never count here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import pandas as pd
from django.db import connection
from django.db.models import (
    Avg,
    Case,
    CharField,
    Count,
    DateTimeField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone

from crm_sync.models import Customer, Event
from surveys.models import Response

from ..customer_state import customer_state_at, state_day
from ..filters import MetricFilters, day_start, site_timezone
from .base import as_float, current_time, rate, shared, weighted_spearman
from .customers import active_customers_at, one_snapshot, period_events, segment_at
from .survey import (
    answer_pairs,
    attribute_nps_pairs,
    attribute_ratings,
    filtered_attribute_scores,
    filtered_responses,
    survey_breakdown,
)

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


def _answers_in_window_before(moment: datetime) -> bool:
    """Whether any customer answered the NPS question in the 365 days before ``moment`` (the window of
    ``_answers_before``): without one, every customer's category at ``moment`` is no_response."""
    since = moment - timedelta(days=CATEGORY_WINDOW_DAYS)
    return Response.objects.filter(
        customer__isnull=False, nps__isnull=False, submitted_at__lt=moment, submitted_at__gte=since
    ).exists()


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
    """ "Current" for a report on a period: the end of the period, or now if that is earlier."""
    _, end = filters.period()
    return min(end, current_time())


# --- "now" from the customers' latest NPS answer ---------------------------------------------------
#
# When the moment is now (the period ends today or later), a customer's category comes from
# Customer.last_nps / last_nps_at (their latest answer, kept current by the survey services, see
# crm_sync.rollups) instead of a subquery per customer: the latest answer before now within 365 days
# is the latest answer overall when that was given before now and within the 365 days. The rare
# customer whose latest answer is stamped at or after now (an import of future-dated rows) gets the
# subquery, so the result equals the definition in every case.


def _category_conditions(moment: datetime) -> dict[str, Q]:
    """The category at ``moment`` (= now) of a customer whose latest answer was given before it, from
    the columns, as one condition per category: no answer within the 365 days is no_response, else
    the score's category (a negated lookup on a nullable column is true for NULL in Django, so a
    customer without last_nps_at falls through to the score, as it would in a CASE)."""
    stale = Q(last_nps_at__lt=moment - timedelta(days=CATEGORY_WINDOW_DAYS))
    return {
        "promoter": ~stale & Q(last_nps__gte=9),
        "passive": ~stale & Q(last_nps__gte=7, last_nps__lt=9),
        "detractor": ~stale & Q(last_nps__lt=7),
        "no_response": stale | Q(last_nps__isnull=True),
    }


def _categories_from_columns(customers, moment: datetime) -> list[dict]:
    """[{category, customers, total, mean_value}] of these customers by ``_category_conditions``, as
    conditional aggregates in one row rather than a GROUP BY on the CASE: PostgreSQL cannot tell that
    the CASE has four values, so it sorted every customer by it (spilling to disk past work_mem at
    100 000 customers), where the aggregates are one (parallel) pass."""
    aggregates = {}
    for category, condition in _category_conditions(moment).items():
        aggregates[f"{category}__n"] = Count("pk", filter=condition)
        aggregates[f"{category}__total"] = Sum("value", filter=condition)
    figures = customers.order_by().aggregate(**aggregates)
    return [
        {"category": category, "customers": n, "total": figures[f"{category}__total"],
         "mean_value": figures[f"{category}__total"] / n}
        for category in CATEGORIES if (n := figures[f"{category}__n"])
    ]  # fmt: skip


def _detractors_at(moment: datetime, *, segment_id: int | None, now: bool) -> list:
    """The active detractors at ``moment`` as two querysets: those whose
    latest answer was given before ``moment`` (their category is read from the columns, through the
    customer_detractor_answer index) and the others by the subquery: those with a later answer and,
    for a past moment, also those without a recorded answer, so that a reproducible past report stays
    exact even for responses stored without the survey services. For now, a customer without a
    recorded answer has none (the services and the rebuild keep the columns)."""
    since = moment - timedelta(days=CATEGORY_WINDOW_DAYS)
    active = active_customers_at(moment, segment_id=segment_id)
    from_columns = active.filter(last_nps__lte=6, last_nps_at__gte=since, last_nps_at__lt=moment)
    probed = Q(last_nps_at__gte=moment) if now else Q(last_nps_at__gte=moment) | Q(last_nps_at__isnull=True)
    others = active.filter(probed).annotate(category=nps_category_at(moment)).filter(category="detractor")
    return [from_columns, others]


def customers_by_category(moment: datetime, *, segment_id: int | None = None):
    """The customers active at ``moment`` annotated with ``category`` (their NPS category then)."""
    return active_customers_at(moment, segment_id=segment_id).annotate(category=nps_category_at(moment))


def _state_at(moment: datetime, *, now: datetime, segment_id: int | None) -> dict | None:
    """{category: (customers, value)} of the active customers at ``moment`` (in segment ``segment_id``
    then) from the customer state per day, when it can answer: a past moment that starts a day, or
    now with a segment filter (``_state_now``); else None. Without a segment filter "now" is cheaper
    from the customers' latest-answer columns (the callers' own path)."""
    if moment == now:
        return None if segment_id is None else _state_now(now=now, segment_id=segment_id)
    day = state_day(moment)
    return None if day is None else customer_state_at(day, segment_id=segment_id)


@shared
def _state_now(*, now: datetime, segment_id: int | None) -> dict | None:
    """Now = the state at 00:00 today, corrected for the customers whose figures may differ between
    then and now: acquired or lost since, moved since, answered since, or whose answer left the 365-day
    window since.
    Changes to customers and events since the state was built make it stale (None); live answers do
    not, which is why they are looked up here. Both moments' figures of those customers come from the
    same per-customer definitions as the raw path, so the result is the raw result."""
    with one_snapshot():
        return _corrected_state(now, segment_id=segment_id)


def _corrected_state(now: datetime, *, segment_id: int | None) -> dict | None:
    today = timezone.localdate(now, site_timezone())
    state = customer_state_at(today, segment_id=segment_id)
    if state is None:
        return None
    midnight = day_start(today)
    window = timedelta(days=CATEGORY_WINDOW_DAYS)
    moved = Event.objects.filter(type=Event.Type.SEGMENT_MOVE, occurred_at__gte=midnight, occurred_at__lt=now)
    answered = Response.objects.filter(customer__isnull=False, nps__isnull=False).filter(
        Q(submitted_at__gte=midnight, submitted_at__lt=now)
        # The same arithmetic as _answers_before, so exactly the answers that left the window.
        | Q(submitted_at__gte=midnight - window, submitted_at__lt=now - window)
    )
    # The ids first (a few thousand, each part through its index), then the customers by primary key.
    acquired_or_lost = Customer.objects.filter(
        Q(acquired_at__gte=midnight, acquired_at__lt=now) | Q(lost_at__gte=midnight, lost_at__lt=now)
    )
    changed = set(
        acquired_or_lost.values_list("pk", flat=True).union(
            moved.values_list("customer_id", flat=True),
            answered.values_list("customer_id", flat=True),
        )
    )
    corrected = {category: list(figures) for category, figures in state.items() if category != "all"}
    if not changed:
        return {category: (n, value) for category, (n, value) in corrected.items()}
    # As a set-returning subquery, which PostgreSQL joins through the primary key (a literal list of
    # thousands of ids is estimated as costly as a scan of the whole table). PostgreSQL only, as the state.
    changed_ids = RawSQL("SELECT unnest(%s::bigint[])", [sorted(changed)])
    for moment, sign in ((midnight, -1), (now, 1)):
        # Grouped by the segment then, not filtered on it: a filter on it would be evaluated for every
        # customer before the (long) list of ids; a grouping key only for the rows that pass.
        rows = (
            active_customers_at(moment)
            .filter(pk__in=changed_ids)
            .annotate(category=nps_category_at(moment), segment_then=segment_at(moment))
            .values("segment_then", "category")
            .annotate(n=Count("pk"), value=Sum("value"))
            .order_by()
        )
        for row in rows:
            if segment_id is not None and row["segment_then"] != segment_id:
                continue
            corrected[row["category"]][0] += sign * row["n"]
            corrected[row["category"]][1] += sign * (row["value"] or Decimal(0))
    return {category: (n, value) for category, (n, value) in corrected.items()}


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


@shared
def churn_by_nps_category(*, filters: MetricFilters) -> dict[str, CategoryChurn]:
    """Customers at start grouped by their NPS category at ``start``: how many there were, how many
    had a ``lost`` event in the period, and the churn rate, for every category."""
    start, end = filters.period()
    segment_id = filters.segment_id()
    with one_snapshot():
        state = customer_state_at(filters.start, segment_id=segment_id)
        if state is None:
            rows = _churn_rows(start, end, segment_id=segment_id)
        else:
            # The customers at start per category from the state; the category then of the few who
            # were lost in the period, one lookup each.
            # The ids as a set-returning subquery (the state is PostgreSQL's), which PostgreSQL joins
            # through the primary key, like changed_ids above: as an IN (subquery) it hashed every
            # customer of the table (a quarter at 100 000 customers: 69 -> 35 ms).
            lost_sql, lost_params = (
                Event.objects.filter(type=Event.Type.LOST, occurred_at__gte=start, occurred_at__lt=end)
                .values("customer_id")
                .query.sql_with_params()
            )
            lost_ids = RawSQL(f"SELECT unnest(ARRAY({lost_sql}))", lost_params)
            # With no answer at all in the 365 days before start (a period from the first answers on:
            # "all time"), every customer was no_response then: one index probe instead of a subquery
            # per lost customer (tens of thousands over all time).
            answered = _answers_in_window_before(start)
            category = nps_category_at(start) if answered else Value("no_response", output_field=CharField())
            lost = {
                r["category"]: r["lost"]
                for r in active_customers_at(start, segment_id=segment_id)
                .filter(pk__in=lost_ids)
                .annotate(category=category)
                .values("category")
                .annotate(lost=Count("pk"))
                .order_by()
            }
            rows = [{"category": c, "at_start": state[c][0], "lost": lost.get(c, 0)} for c in CATEGORIES]
    found = {r["category"]: r for r in rows}
    result = {}
    for category in CATEGORIES:
        row = found.get(category, {"at_start": 0, "lost": 0})
        result[category] = CategoryChurn(
            at_start=row["at_start"], lost=row["lost"], churn_rate=rate(row["lost"], row["at_start"])
        )
    return result


def _churn_rows(start: datetime, end: datetime, *, segment_id: int | None) -> list[dict]:
    """[{category, at_start, lost}] in one statement: each customer's latest answer before ``start``
    within 365 days is found in one pass over the answers of that window (ROW_NUMBER() over the
    (customer, submitted_at) index, on PostgreSQL and SQLite alike) and joined to the customers at
    start, instead of a correlated subquery per customer. Same definition as nps_category_at."""
    customers_sql, customers_params = (
        active_customers_at(start, segment_id=segment_id).values(customer_pk=F("pk")).query.sql_with_params()
    )
    db_datetime = connection.ops.adapt_datetimefield_value
    responses, events = Response._meta.db_table, Event._meta.db_table
    sql = f"""
        SELECT CASE WHEN latest.nps >= 9 THEN 'promoter' WHEN latest.nps >= 7 THEN 'passive'
                    WHEN latest.nps IS NOT NULL THEN 'detractor' ELSE 'no_response' END AS category,
               COUNT(*) AS at_start,
               COUNT(lost.customer_id) AS lost
        FROM ({customers_sql}) AS base
        LEFT JOIN (
            SELECT customer_id, nps FROM (
                SELECT customer_id, nps,
                       ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY submitted_at DESC, id DESC) AS position
                FROM {responses}
                WHERE customer_id IS NOT NULL AND nps IS NOT NULL AND submitted_at >= %s AND submitted_at < %s
            ) AS answers WHERE position = 1
        ) AS latest ON latest.customer_id = base.customer_pk
        LEFT JOIN (
            SELECT DISTINCT customer_id FROM {events}
            WHERE type = %s AND occurred_at >= %s AND occurred_at < %s
        ) AS lost ON lost.customer_id = base.customer_pk
        GROUP BY 1
    """
    params = [
        *customers_params,
        db_datetime(start - timedelta(days=CATEGORY_WINDOW_DAYS)),
        db_datetime(start),
        Event.Type.LOST.value,
        db_datetime(start),
        db_datetime(end),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [
            {"category": category, "at_start": at_start, "lost": lost} for category, at_start, lost in cursor.fetchall()
        ]


@shared
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


@shared
def revenue_at_risk(*, filters: MetricFilters, limit: int = 200) -> RevenueAtRisk:
    """Sum of the values of the active customers whose current NPS category is detractor, with the
    list (largest value first). "Current" is the end of the period, or now if earlier, so a report on
    a past period can be reproduced."""
    now = current_time()
    moment = min(filters.period()[1], now)
    segment_id = filters.segment_id()
    parts = _detractors_at(moment, segment_id=segment_id, now=moment == now)
    state = _state_at(moment, now=now, segment_id=segment_id)
    if state is not None:
        count, value = state["detractor"]
    else:
        # The totals of both parts in one query (UNION ALL); the list from each part, merged. COUNT(*),
        # not COUNT(id), so the first part is an index-only scan of customer_detractor_answer (which
        # holds no id): 19 -> 6 ms over a year of answers at 100 000 customers.
        totals = [
            part.annotate(one=Value(1)).values("one").annotate(value=Sum("value"), customers=Count("*")).order_by()
            for part in parts
        ]
        totals = list(totals[0].union(*totals[1:], all=True))
        value = sum((row["value"] or Decimal(0) for row in totals), Decimal(0))
        count = sum(row["customers"] for row in totals)
    columns, others = parts
    rows = (
        []
        if not limit
        else [
            *columns.annotate(nps=F("last_nps"))
            .values("pk", "name", "value", "segment__name", "nps")
            .order_by("-value", "pk")[:limit],
            *others.annotate(nps=last_nps_before(moment))
            .values("pk", "name", "value", "segment__name", "nps")
            .order_by("-value", "pk")[:limit],
        ]
    )
    rows = sorted(rows, key=lambda r: (-r["value"], r["pk"]))[:limit]
    return RevenueAtRisk(
        as_of=moment,
        value=as_float(value) if count else 0.0,
        customers=count,
        detractors=[
            {
                "customer_id": r["pk"],
                "name": r["name"],
                "value": as_float(r["value"]),
                "segment": r["segment__name"],
                "nps": r["nps"],
            }
            for r in rows
        ],
    )


@shared
def value_by_nps_category(*, filters: MetricFilters) -> dict[str, dict]:
    """Count and mean value of the active customers per current NPS category (as of the end of the
    period, or now): {category: {customers, mean_value}}."""
    now = current_time()
    moment = min(filters.period()[1], now)
    state = _state_at(moment, now=now, segment_id=filters.segment_id())
    if state is not None:
        rows = [
            {"category": category, "customers": n, "mean_value": value / n}
            for category, (n, value) in state.items()
            if category in CATEGORIES and n
        ]
    elif moment != now:
        rows = (
            customers_by_category(moment, segment_id=filters.segment_id())
            .values("category")
            .annotate(customers=Count("pk"), mean_value=Avg("value"))
            .order_by("category")
        )
    else:
        # Two queries, so that neither carries a subquery per customer: the customers whose latest
        # answer is before now (the columns), and the few with a later one (the subquery).
        active = active_customers_at(moment, segment_id=filters.segment_id())
        rows = _categories_from_columns(active.filter(Q(last_nps_at__isnull=True) | Q(last_nps_at__lt=moment)), moment)
        later = list(
            active.filter(last_nps_at__gte=moment)
            .annotate(category=nps_category_at(moment))
            .values("category")
            .annotate(customers=Count("pk"), total=Sum("value"))
            .order_by("category")
        )
        if later:
            # The mean of the union: Σ value / n, exact in Decimal (AVG() when there is one part).
            merged: dict[str, dict] = {}
            for r in [*rows, *later]:
                m = merged.setdefault(r["category"], {"category": r["category"], "customers": 0, "total": Decimal(0)})
                m["customers"] += r["customers"]
                m["total"] += r["total"] or 0
            rows = [{**m, "mean_value": m["total"] / m["customers"]} for m in merged.values()]
    found = {r["category"]: r for r in rows}
    return {
        category: {
            "customers": found[category]["customers"] if category in found else 0,
            "mean_value": as_float(found[category]["mean_value"]) if category in found else None,
        }
        for category in CATEGORIES
    }


@shared
def key_metric_links(*, filters: MetricFilters) -> dict[str, Correlation]:
    """Spearman's rho (with n) between overall experience and each of likelihood to recommend (nps),
    to switch and to repurchase, over the responses that answered both."""
    tables = answer_pairs(filters=filters)
    result = {}
    for question in LINKED_QUESTIONS:
        rho, n = weighted_spearman(tables[question], "overall", question)
        result[question] = Correlation(rho=rho, n=n)
    return result


@shared
def driver_importance(*, filters: MetricFilters) -> list[dict]:
    """Per attribute: Spearman's rho between the attribute rating and the NPS answer of the same
    response (importance, with n), beside the attribute's mean rating (performance):
    [{attribute, importance, n, mean, responses}], most important first."""
    table = attribute_nps_pairs(filters=filters)
    importance = {
        attribute: weighted_spearman(group, "score", "response__nps")
        for attribute, group in table.groupby("attribute", sort=True)
    }
    result = []
    for rating in attribute_ratings(filters=filters):
        rho, n = importance.get(rating["attribute"], (None, 0))
        result.append(
            {
                "attribute": rating["attribute"],
                "importance": rho,
                "n": n,
                "mean": rating["mean"],
                "responses": rating["responses"],
            }
        )
    return sorted(result, key=lambda r: (r["importance"] is None, -(r["importance"] or 0), r["attribute"]))


# --- the raw references (tests hold the rollup path to them) ---------------------------------------


def _pairs(qs, x: str, y: str) -> pd.DataFrame:
    """The distinct (x, y) answer pairs with their counts: at most 11 × 11 rows whatever the data."""
    rows = qs.filter(**{f"{x}__isnull": False, f"{y}__isnull": False}).values(x, y).annotate(count=Count("pk"))
    return pd.DataFrame(list(rows.order_by(x, y)), columns=[x, y, "count"])


def _raw_key_metric_links(*, filters: MetricFilters) -> dict[str, Correlation]:
    qs = filtered_responses(filters=filters)
    return {
        question: Correlation(*weighted_spearman(_pairs(qs, "overall", question), "overall", question))
        for question in LINKED_QUESTIONS
    }


def _raw_driver_importance_table(*, filters: MetricFilters) -> pd.DataFrame:
    return pd.DataFrame(
        list(
            filtered_attribute_scores(filters=filters)
            .filter(response__nps__isnull=False)
            .values("attribute", "score", "response__nps")
            .annotate(count=Count("pk"))
            .order_by("attribute", "score", "response__nps")
        ),
        columns=["attribute", "score", "response__nps", "count"],
    )

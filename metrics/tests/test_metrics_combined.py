"""Combined metrics against hand-computed data (shared/METRICS.md, "Combined metrics")."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from customers.models import Customer, Event
from metrics import combined
from metrics.filters import MetricFilters
from metrics.stats import weighted_spearman
from metrics.tests.factories import (
    AttributeScoreFactory,
    CustomerFactory,
    ResponseFactory,
    SegmentFactory,
    at,
    event,
)

pytestmark = pytest.mark.django_db


def spearman(x, y) -> float:
    """The textbook Spearman rho on raw rows: Pearson's r of the average ranks (no scipy needed)."""
    return x.rank().corr(y.rank())


JANUARY = MetricFilters(start=date(2026, 1, 1), end=date(2026, 1, 31))


def member(name: str, value: str, *, lost: str | None = None, acquired: str = "2024-01-01") -> Customer:
    c = CustomerFactory(
        name=name,
        value=Decimal(value),
        acquired_at=at(acquired),
        lost_at=at(lost) if lost else None,
        status=Customer.Status.LOST if lost else Customer.Status.ACTIVE,
    )
    event(Event.Type.NEW, c, at(acquired))
    if lost:
        event(Event.Type.LOST, c, at(lost))
    return c


def nps_answer(c: Customer | None, when, score: int | None, **kwargs):
    return ResponseFactory(customer=c, submitted_at=when, nps=score, **kwargs)


@pytest.fixture
def categorised():
    people = {
        "P1": member("P1", "1000", lost="2026-01-15"),
        "P2": member("P2", "1000"),
        "Pa1": member("Pa1", "2000"),
        "D1": member("D1", "1000", lost="2026-01-20"),
        "D2": member("D2", "5000"),
        "N1": member("N1", "1000", lost="2026-01-03"),
        "N2": member("N2", "400"),
        "N3": member("N3", "3000"),
        "J": member("J", "9000", acquired="2026-01-10"),  # new in January: not in the base at start
    }
    nps_answer(people["P1"], at("2025-12-01"), 10)
    nps_answer(people["P2"], at("2025-06-01"), 3)
    nps_answer(people["P2"], at("2025-11-01"), 9)  # the latest answer wins
    nps_answer(people["Pa1"], at("2025-10-01"), 8)
    nps_answer(people["Pa1"], at("2026-01-05"), 0)  # after start: a detractor by the end
    nps_answer(people["D1"], at("2025-12-31", 23, 59, 59), 2)
    nps_answer(people["D2"], at("2025-02-01"), 6)  # 334 days before start, 365 days before the end
    nps_answer(people["N1"], at("2024-12-01"), 10)  # more than 365 days before start
    nps_answer(people["N2"], at("2025-12-01"), None, csat=5)  # no NPS answer
    nps_answer(people["N3"], at("2026-01-01", 0), 10)  # not *before* start
    nps_answer(None, at("2025-12-01"), 0)  # anonymous: never in combined metrics
    return people


def test_churn_by_nps_category(categorised):
    result = combined.churn_by_nps_category(filters=JANUARY)

    assert result == {
        "promoter": combined.CategoryChurn(at_start=2, lost=1, churn_rate=50.0),  # P1 (lost), P2
        "passive": combined.CategoryChurn(at_start=1, lost=0, churn_rate=0.0),  # Pa1
        "detractor": combined.CategoryChurn(at_start=2, lost=1, churn_rate=50.0),  # D1 (lost), D2
        "no_response": combined.CategoryChurn(at_start=3, lost=1, churn_rate=pytest.approx(100 / 3)),  # N1-3
    }


def test_churn_by_nps_category_empty_groups_are_none():
    result = combined.churn_by_nps_category(filters=JANUARY)
    assert all(c == combined.CategoryChurn(0, 0, None) for c in result.values())


def test_revenue_at_risk_and_value_by_category(categorised):
    # As of the end of January: Pa1 (0 on Jan 5) and D2 (6, within 365 days) are detractors.
    risk = combined.revenue_at_risk(filters=JANUARY)

    assert (risk.value, risk.customers) == (7000.0, 2)
    assert [(row["name"], row["value"], row["nps"]) for row in risk.detractors] == [
        ("D2", 5000.0, 6),
        ("Pa1", 2000.0, 0),
    ]
    assert risk.as_of == at("2026-02-01", 0)
    assert combined.value_by_nps_category(filters=JANUARY) == {
        "promoter": {"customers": 2, "mean_value": 2000.0},  # P2 1000, N3 3000
        "passive": {"customers": 0, "mean_value": None},
        "detractor": {"customers": 2, "mean_value": 3500.0},
        "no_response": {"customers": 2, "mean_value": 4700.0},  # N2 400, J 9000
    }


def test_revenue_at_risk_is_zero_without_detractors():
    member("Happy", "1000")
    assert combined.revenue_at_risk(filters=JANUARY) == combined.RevenueAtRisk(
        as_of=at("2026-02-01", 0), value=0.0, customers=0, detractors=[]
    )


def test_referrals_by_referrer_category_at_referral_time(categorised):
    referred = [CustomerFactory(status=Customer.Status.PROSPECT, acquired_at=None) for _ in range(4)]
    event(Event.Type.REFERRAL, referred[0], at("2026-01-04"), referrer=categorised["Pa1"])  # passive then
    event(Event.Type.REFERRAL, referred[1], at("2026-01-10"), referrer=categorised["Pa1"])  # detractor by then
    event(Event.Type.REFERRAL, referred[2], at("2026-01-10"), referrer=categorised["P2"])
    event(Event.Type.REFERRAL, referred[3], at("2026-01-10"), referrer=categorised["N2"])

    assert combined.referrals_by_nps_category(filters=JANUARY) == {
        "promoter": 1,
        "passive": 1,
        "detractor": 1,
        "no_response": 1,
    }


def test_scores_by_segment_snapshot():
    gold, silver = SegmentFactory(name="Gold", rank=3), SegmentFactory(name="Silver", rank=2)
    nps_answer(CustomerFactory(), at("2026-01-10"), 10, segment=gold, csat=5, ces=7)
    nps_answer(CustomerFactory(), at("2026-01-10"), 5, segment=gold, csat=2, ces=1)
    nps_answer(CustomerFactory(), at("2026-01-10"), 9, segment=silver, csat=4)
    nps_answer(None, at("2026-01-10"), 0, csat=1, ces=1)  # anonymous: left out, not "(none)"

    assert combined.nps_by_segment(filters=JANUARY) == {"Gold": 0.0, "Silver": 100.0}
    assert combined.csat_by_segment(filters=JANUARY) == {"Gold": 50.0, "Silver": 100.0}
    assert combined.ces_by_segment(filters=JANUARY) == {"Gold": 4.0, "Silver": None}


def test_key_metric_links_hand_computed():
    # overall 1, 2, 3 against switch 1, 3, 2: rank differences 0, 1, 1 → rho = 1 − 6 × 2 / (3 × 8) = 0.5.
    for overall, switch in [(1, 1), (2, 3), (3, 2)]:
        ResponseFactory(submitted_at=at("2026-01-10"), overall=overall, likelihood_switch=switch)
    # overall against NPS, with ties.
    pairs = [(5, 10), (5, 10), (5, 9), (4, 9), (4, 7), (3, 8), (2, 3), (1, 0), (4, 9)]
    for overall, score in pairs:
        ResponseFactory(submitted_at=at("2026-01-10"), overall=overall, nps=score)
    ResponseFactory(submitted_at=at("2026-01-10"), overall=5)  # answered only one of the two
    ResponseFactory(submitted_at=at("2026-01-10"), nps=0)

    links = combined.key_metric_links(filters=JANUARY)

    assert links["likelihood_switch"] == combined.Correlation(rho=pytest.approx(0.5), n=3)
    expanded = pd.DataFrame(pairs, columns=["overall", "nps"])
    assert links["nps"].n == 9
    assert links["nps"].rho == pytest.approx(spearman(expanded["overall"], expanded["nps"]))
    assert links["likelihood_repurchase"] == combined.Correlation(rho=None, n=0)


# A constant rating leaves the relative weights undefined (metrics/tests/test_drivers.py has them).
NO_WEIGHTS = {"relative_weight": None, "lower": None, "upper": None, "significant": None, "weights_n": 0}


def test_driver_importance_against_attribute_mean():
    rows = [(5, 10), (4, 9), (4, 8), (2, 3), (1, 0)]
    for rating, score in rows:
        response = ResponseFactory(submitted_at=at("2026-01-10"), nps=score)
        AttributeScoreFactory(response=response, attribute="delivery speed", score=rating)
        AttributeScoreFactory(response=response, attribute="price", score=3)  # constant: no correlation
    no_nps = ResponseFactory(submitted_at=at("2026-01-10"), nps=None)
    AttributeScoreFactory(response=no_nps, attribute="delivery speed", score=1)  # in the mean, not the rho

    result = combined.driver_importance(filters=JANUARY)

    expanded = pd.DataFrame(rows, columns=["rating", "nps"])
    assert result == [
        {
            "attribute": "delivery speed",
            "n": 5,
            "mean": pytest.approx(17 / 6),
            "responses": 6,
            "importance": pytest.approx(spearman(expanded["rating"], expanded["nps"])),
            **NO_WEIGHTS,
        },
        {"attribute": "price", "importance": None, "n": 5, "mean": 3.0, "responses": 5, **NO_WEIGHTS},
    ]


def test_weighted_spearman_equals_spearman_on_expanded_rows():
    rng = np.random.default_rng(5)
    raw = pd.DataFrame({"x": rng.integers(1, 6, 400), "y": rng.integers(0, 11, 400)})
    raw["y"] = (raw["y"] + 2 * raw["x"]).clip(upper=10)  # correlated, with many ties
    table = raw.groupby(["x", "y"]).size().rename("count").reset_index()

    rho, n = weighted_spearman(table, "x", "y")

    assert n == 400
    assert rho == pytest.approx(spearman(raw["x"], raw["y"]))
    assert weighted_spearman(table.iloc[:0], "x", "y") == (None, 0)

"""Retention curves by NPS category (Kaplan–Meier) against a product limit worked out by hand
(shared/METRICS.md, "Survival and churn risk")."""

from __future__ import annotations

import math
from datetime import date, timedelta
from statistics import NormalDist

import pytest
import time_machine

from customers.models import Event
from metrics import survival
from metrics.filters import MetricFilters
from metrics.tests.factories import CustomerFactory, ResponseFactory, at, event

pytestmark = pytest.mark.django_db

TODAY = date(2026, 12, 31)
PERIOD = MetricFilters(start=date(2025, 1, 1), end=TODAY)
LOST = Event.Type.LOST


@pytest.fixture(autouse=True)
def frozen_today():
    with time_machine.travel(at(TODAY, 15), tick=False):
        yield


def follow(score: int, days: int, *, lost: bool) -> None:
    """A customer whose latest answer (``score``) is followed for ``days``: lost that many days after
    the answer, or answered that many days before today (censored today)."""
    customer = CustomerFactory()
    answered = date(2025, 6, 1) if lost else TODAY - timedelta(days=days)
    ResponseFactory(customer=customer, nps=score, submitted_at=at(answered, 10))
    if lost:
        event(LOST, customer, at(answered + timedelta(days=days), 9))


@pytest.fixture
def cohort():
    """Promoters: lost at 10 and 100 days; censored at 50, 200, 400.
    Detractors: lost at 5, 20, 30; censored at 60, 400. Passives: one, censored at 30."""
    for days, lost in ((10, True), (50, False), (100, True), (200, False), (400, False)):
        follow(10, days, lost=lost)
    for days, lost in ((5, True), (20, True), (30, True), (60, False), (400, False)):
        follow(3, days, lost=lost)
    follow(8, 30, lost=False)


def loglog_interval(s: float, greenwood_sum: float) -> tuple[float, float]:
    """The 95 % interval of S on the log(−log) scale: S^exp(±z·√(Σ d/(n(n−d)) / ln(S)²)), z = 1.959964
    (the exact 97.5 % normal quantile, as the library uses, not the rounded 1.96)."""
    spread = NormalDist().inv_cdf(0.975) * math.sqrt(greenwood_sum / math.log(s) ** 2)
    return s ** math.exp(spread), s ** math.exp(-spread)


def test_kaplan_meier_retention_at_fixed_days_matches_the_hand_computed_product_limit(cohort):
    result = survival.retention_by_nps_category(filters=PERIOD)
    promoters, detractors = result.curves["promoter"], result.curves["detractor"]
    assert (promoters.customers, promoters.lost, detractors.customers, detractors.lost) == (5, 2, 5, 3)

    # Promoters. Day 10: 5 at risk, 1 lost: S = 4/5 = 0.8. Day 50: censored (3 left at risk).
    # Day 100: 3 at risk, 1 lost: S = 0.8 × 2/3 = 0.5333. So S(90) = 0.8, S(180) = S(365) = 0.5333.
    # Greenwood: Σ d / (n (n − d)) = 1/(5·4) = 0.05 at 90; + 1/(3·2) = 0.2167 from 100 on.
    at_90, at_180, at_365 = (promoters.at_days[d] for d in (90, 180, 365))
    assert at_90["retention"] == pytest.approx(0.8)
    assert at_180["retention"] == pytest.approx(0.8 * 2 / 3) and at_365["retention"] == pytest.approx(0.8 * 2 / 3)
    assert (at_90["lower"], at_90["upper"]) == pytest.approx(loglog_interval(0.8, 0.05))  # 0.2038, 0.9692
    assert (at_180["lower"], at_180["upper"]) == pytest.approx(loglog_interval(0.8 * 2 / 3, 0.05 + 1 / 6))
    assert (at_90["at_risk"], at_180["at_risk"], at_365["at_risk"]) == (3, 2, 1)

    # Detractors. Day 5: 5 at risk: S = 0.8; day 20: 4 at risk: 0.8 × 3/4 = 0.6; day 30: 3 at risk:
    # 0.6 × 2/3 = 0.4; then only censoring: S(90) = S(180) = S(365) = 0.4.
    # Greenwood: 1/(5·4) + 1/(4·3) + 1/(3·2) = 0.05 + 0.0833 + 0.1667 = 0.3.
    for day in (90, 180, 365):
        assert detractors.at_days[day]["retention"] == pytest.approx(0.4)
    low, high = detractors.at_days[90]["lower"], detractors.at_days[90]["upper"]
    assert (low, high) == pytest.approx(loglog_interval(0.4, 0.3))

    # Passives: one customer followed 30 days, so nothing is known at 90 days or later.
    assert result.curves["passive"].customers == 1
    assert result.curves["passive"].at_days == {90: None, 180: None, 365: None}

    # Log-rank, promoters against detractors, at each loss (day: at risk P/D, lost P/D, expected P, variance):
    #   5: 5/5, 0/1, 5/10 = 0.5,      (5·5·1·9)/(10²·9) = 0.25
    #  10: 5/4, 1/0, 5/9  = 0.5556,   (5·4·1·8)/(9²·8)  = 0.2469
    #  20: 4/4, 0/1, 4/8  = 0.5,      0.25
    #  30: 4/3, 0/1, 4/7  = 0.5714,   (4·3)/7²          = 0.2449
    # 100: 3/1, 1/0, 3/4  = 0.75,     (3·1)/4²          = 0.1875
    # observed 2, expected 2.8770, variance 1.1793: χ² = (2 − 2.8770)² / 1.1793 = 0.6522; p = 0.419.
    expected = 0.5 + 5 / 9 + 0.5 + 4 / 7 + 0.75
    variance = 0.25 + 20 / 81 + 0.25 + 12 / 49 + 3 / 16
    chi2 = (2 - expected) ** 2 / variance
    assert result.logrank_chi2 == pytest.approx(chi2)
    assert result.logrank_p == pytest.approx(math.erfc(math.sqrt(chi2 / 2)))  # χ² with 1 degree of freedom
    assert result.logrank_p == pytest.approx(0.419, abs=0.001)


def test_the_curve_steps_down_at_each_loss(cohort):
    points = survival.retention_by_nps_category(filters=PERIOD).curves["detractor"].points
    assert [(p["day"], round(p["retention"], 4)) for p in points] == [
        (0, 1.0), (5, 0.8), (20, 0.6), (30, 0.4), (60, 0.4), (400, 0.4),
    ]  # fmt: skip


def test_the_cohort_is_each_customers_latest_answer_in_the_period():
    moved = CustomerFactory()
    ResponseFactory(customer=moved, nps=2, submitted_at=at("2026-03-01"))
    ResponseFactory(customer=moved, nps=9, submitted_at=at("2026-06-01"))  # latest in the period: promoter
    ResponseFactory(customer=moved, nps=0, submitted_at=at("2024-12-01"))  # before the period
    event(LOST, moved, at("2026-07-01"))  # 30 days after the latest answer
    ResponseFactory(customer=None, nps=0, submitted_at=at("2026-06-01"))  # anonymous: not in the cohort
    earlier_loss = CustomerFactory()
    event(LOST, earlier_loss, at("2026-01-01"))  # lost before answering: the clock runs to today
    ResponseFactory(customer=earlier_loss, nps=5, submitted_at=at("2026-12-01"))

    assert sorted(survival.cohort(filters=PERIOD)) == [("detractor", 30, False), ("promoter", 30, True)]


def test_no_cohort_gives_empty_curves_and_no_p_value():
    result = survival.retention_by_nps_category(filters=PERIOD)
    assert result.logrank_p is None
    assert all(c.customers == 0 and c.at_days == {90: None, 180: None, 365: None} for c in result.curves.values())


def test_log_rank_without_variance_gives_no_p_value():
    """One promoter lost on day 5, one detractor censored on day 1: at the only loss no detractor is
    still followed, so the test has nothing to compare (a singular covariance), and says so."""
    import numpy as np

    promoters = (np.array([5]), np.array([True]))
    detractors = (np.array([1]), np.array([False]))
    assert survival._logrank({"promoter": promoters, "detractor": detractors}) == (None, None)


def test_days_followed_are_counted_between_site_time_days(settings):
    settings.TIME_ZONE = "America/Mexico_City"  # UTC-6: 20:00 there is 02:00 the next day in UTC
    lost, censored = CustomerFactory(), CustomerFactory()
    ResponseFactory(customer=lost, nps=3, submitted_at=at("2026-06-01", 20))
    event(LOST, lost, at("2026-06-11", 1))  # ten site-time days later (nine by UTC days)
    ResponseFactory(customer=censored, nps=10, submitted_at=at(TODAY - timedelta(days=30), 21))
    assert sorted(survival.cohort(filters=PERIOD)) == [("detractor", 10, True), ("promoter", 30, False)]


@pytest.mark.refreshes_itself
def test_the_curves_are_kept_until_the_next_refresh_that_changes_something(cohort):
    """The Value page reads the stored curves: a new answer counts from the next refresh (within the
    minute the beat task takes), and a refresh with nothing new keeps them."""
    from metrics.refresh import metrics_refresh

    metrics_refresh()
    first = survival.retention_by_nps_category(filters=PERIOD)
    assert first.curves["promoter"].customers == 5
    follow(10, 30, lost=False)
    assert survival.retention_by_nps_category(filters=PERIOD).curves["promoter"].customers == 5
    with time_machine.travel(at(TODAY, 15) + timedelta(minutes=1), tick=False):
        metrics_refresh()
        assert survival.retention_by_nps_category(filters=PERIOD).curves["promoter"].customers == 6

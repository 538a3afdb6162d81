"""Customer value and advocacy against hand-computed data (shared/METRICS.md, "Customer value and
advocacy"): CLV with its annual churn rate and expected lifetime, referral revenue and its share of new
value, top advocates."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from core.definitions import CLV_LIFETIME_CAP_YEARS
from customers.models import Event
from metrics import customers, value
from metrics.filters import MetricFilters
from metrics.tests.factories import ResponseFactory, SegmentFactory, at, event
from metrics.tests.test_metrics_customers import customer

pytestmark = pytest.mark.django_db

JANUARY = MetricFilters(start=date(2026, 1, 1), end=date(2026, 1, 31))
NEW, REFERRAL = Event.Type.NEW, Event.Type.REFERRAL


@pytest.fixture
def base():
    """The churn window of a period ending 2026-01-31 is 2025-02-01 … 2026-01-31 (365 days).

    customer  segment  acquired    lost        value  at window start  lost in window  active at end
    A         Gold     2024-01-01  -           1000   yes              -               yes
    B         Gold     2024-03-01  2025-06-01  3000   yes              yes             -
    C         Gold     2024-05-01  -           2000   yes              -               yes
    D         Gold     2024-06-01  2024-12-01  5000   - (lost before)  -               -
    E         Silver   2024-02-01  -            500   yes              -               yes
    F         Silver   2025-03-01  -            700   - (new in it)    -               yes
    G         Gold     2025-10-01  2026-02-10  4000   - (new in it)    - (after end)   yes
    """
    gold, silver = SegmentFactory(name="Gold", rank=2), SegmentFactory(name="Silver", rank=1)
    customer("2024-01-01", value="1000", segment=gold)
    customer("2024-03-01", lost="2025-06-01", value="3000", segment=gold)
    customer("2024-05-01", value="2000", segment=gold)
    customer("2024-06-01", lost="2024-12-01", value="5000", segment=gold)
    customer("2024-02-01", value="500", segment=silver)
    customer("2025-03-01", value="700", segment=silver)
    customer("2025-10-01", lost="2026-02-10", value="4000", segment=gold)
    return gold, silver


def test_clv_overall_is_mean_value_at_end_times_expected_lifetime(base):
    # At start A, B, C, E = 4; lost B = 1: churn 25 %, lifetime 1 / 0.25 = 4 years.
    # Active at the end of 2026-01-31: A, C, E, F, G = 8200 / 5 = 1640; CLV = 1640 × 4 = 6560.
    clv = value.customer_lifetime_value(filters=JANUARY)
    assert (clv.at_start, clv.lost, clv.active) == (4, 1, 5)
    assert clv.churn_rate == pytest.approx(25.0)
    assert clv.expected_lifetime == pytest.approx(4.0) and not clv.capped
    assert clv.mean_value == pytest.approx(1640.0)
    assert clv.clv == pytest.approx(6560.0)


def test_clv_per_segment_has_its_own_churn_and_no_data_without_churn(base):
    # Gold: at start A, B, C = 3, lost B: churn 33.3 %, lifetime 3 years; active A, C, G = 7000 / 3; CLV 7000.
    # Silver: at start E, nobody lost: churn 0, so no lifetime and no CLV; active E, F, mean 600.
    gold, silver = value.clv_by_segment(filters=JANUARY)
    assert (gold.segment, gold.at_start, gold.lost, gold.active) == ("Gold", 3, 1, 3)
    assert gold.churn_rate == pytest.approx(100 / 3)
    assert gold.expected_lifetime == pytest.approx(3.0)
    assert gold.clv == pytest.approx(7000.0)
    assert (silver.segment, silver.at_start, silver.lost, silver.churn_rate) == ("Silver", 1, 0, 0.0)
    assert (silver.expected_lifetime, silver.clv) == (None, None)
    assert silver.mean_value == pytest.approx(600.0)
    assert value.customer_lifetime_value(filters=MetricFilters(start=JANUARY.start, end=JANUARY.end, segment=base[0].pk)).clv == pytest.approx(7000.0)  # fmt: skip


def test_expected_lifetime_is_capped():
    assert value.expected_lifetime(None) == (None, False)
    assert value.expected_lifetime(0.0) == (None, False)
    assert value.expected_lifetime(100 / CLV_LIFETIME_CAP_YEARS) == (pytest.approx(CLV_LIFETIME_CAP_YEARS), False)
    assert value.expected_lifetime(5.0) == (CLV_LIFETIME_CAP_YEARS, True)  # 20 years, capped
    assert value.expected_lifetime(50.0) == (pytest.approx(2.0), False)


def test_clv_without_customers_is_no_data():
    clv = value.customer_lifetime_value(filters=JANUARY)
    assert (clv.churn_rate, clv.expected_lifetime, clv.mean_value, clv.clv) == (None, None, None, None)
    assert value.clv_by_segment(filters=JANUARY) == []


@pytest.fixture
def referrals():
    """January 2026.

    referral  referrer  referred  referred's new event         converts  value brought
    r1        Ana       p1        2026-01-20, 900              yes       900
    r2        Ana       p2        2026-05-01 (101 days later)  no        -
    r3        Ana       p3        never                        no        -
    r4        Iker      p4        2026-02-10, 300              yes       300
    r5        Iker      p5        2026-01-25, 600              yes       600
    r6        Iker      p5        (a second referral of p5)    yes       (p5 counted once in the total)
    r0        Ana       p0        2025-12-02 (before period)   -         -
    Referral revenue: 900 + 300 + 600 = 1800. New value in January: Bo 2000 (not referred) + p1 900 +
    p5 600 = 3500; share = 100 × 1800 / 3500 = 51.43 %. Top advocates: Iker (3 converted of 3 referrals,
    300 + 600 + 600 = 1500 brought), then Ana (1 of 3, 900); Iker's latest NPS before February is 9
    (the 3 of 2025-12 is older), Ana never answered.
    """
    ana = customer("2025-06-01", name="Ana")
    iker = customer("2025-05-01", name="Iker")
    customer("2026-01-10", value="2000", name="Bo")
    p1, p2, p3, p4, p5, p0 = (customer(None, name=f"p{i}") for i in (1, 2, 3, 4, 5, 0))
    event(REFERRAL, p1, at("2026-01-05"), referrer=ana)
    event(NEW, p1, at("2026-01-20"), value=Decimal("900"))
    event(REFERRAL, p2, at("2026-01-21"), referrer=ana)
    event(NEW, p2, at("2026-05-01"), value=Decimal("5000"))
    event(REFERRAL, p3, at("2026-01-22"), referrer=ana)
    event(REFERRAL, p4, at("2026-01-15"), referrer=iker)
    event(NEW, p4, at("2026-02-10"), value=Decimal("300"))
    event(REFERRAL, p5, at("2026-01-16"), referrer=iker)
    event(REFERRAL, p5, at("2026-01-17"), referrer=iker)
    event(NEW, p5, at("2026-01-25"), value=Decimal("600"))
    event(REFERRAL, p0, at("2025-12-01"), referrer=ana)
    event(NEW, p0, at("2025-12-02"), value=Decimal("7000"))
    ResponseFactory(customer=iker, nps=3, submitted_at=at("2025-12-01"))
    ResponseFactory(customer=iker, nps=9, submitted_at=at("2026-01-30"))
    ResponseFactory(customer=iker, nps=0, submitted_at=at("2026-02-02"))  # after the period
    return ana, iker


def test_referral_revenue_and_share_of_new_value(referrals):
    assert customers.referral_revenue(filters=JANUARY) == pytest.approx(1800.0)
    result = customers.referrals(filters=JANUARY)
    assert (result.total, result.converted) == (6, 4)
    assert result.revenue == pytest.approx(1800.0)
    assert result.revenue_share == pytest.approx(100 * 1800 / 3500)


def test_top_advocates_rank_by_converted_then_referrals(referrals):
    ana, iker = referrals
    assert customers.top_advocates(filters=JANUARY) == [
        {"customer_id": iker.pk, "crm_id": iker.external_id, "name": "Iker", "referrals": 3, "converted": 3,
         "revenue": 1500.0, "last_nps": 9},
        {"customer_id": ana.pk, "crm_id": ana.external_id, "name": "Ana", "referrals": 3, "converted": 1,
         "revenue": 900.0, "last_nps": None},
    ]  # fmt: skip
    assert customers.top_advocates(filters=JANUARY, top=1)[0]["name"] == "Iker"
    assert customers.top_advocates(filters=JANUARY, top=0) == []


@pytest.mark.refreshes_itself
def test_referrals_and_advocates_are_kept_until_the_next_refresh_that_changes_something(referrals):
    """Both look for each referral's conversion in the raw events: a new referral counts from the read
    model's next refresh (within the minute the beat task takes)."""
    from metrics.refresh import metrics_refresh

    ana, _iker = referrals
    metrics_refresh()
    assert customers.referrals(filters=JANUARY).total == 6
    assert customers.top_advocates(filters=JANUARY)[1]["referrals"] == 3
    event(REFERRAL, customer(None, name="p6"), at("2026-01-23"), referrer=ana)
    assert customers.referrals(filters=JANUARY).total == 6
    assert customers.top_advocates(filters=JANUARY)[1]["referrals"] == 3
    with time_machine.travel(timezone.now() + timedelta(minutes=1), tick=False):
        metrics_refresh()
        assert customers.referrals(filters=JANUARY).total == 7
        assert customers.top_advocates(filters=JANUARY)[1]["referrals"] == 4


def test_referral_revenue_without_referrals_is_zero_and_share_no_data():
    result = customers.referrals(filters=JANUARY)
    assert (result.revenue, result.revenue_share) == (0.0, None)
    assert customers.top_advocates(filters=JANUARY) == []


def test_advocacy_index_is_the_mean_of_each_response_mean_of_its_components():
    # (NPS, CSAT, trust) → per response, the mean of its answers mapped to 0-100:
    answered = [
        (10, 5, None),  # (100 + 100) / 2 = 100
        (6, None, 3),  # (60 + 50) / 2 = 55
        (0, 1, 1),  # (0 + 0 + 0) / 3 = 0
        (8, 4, 5),  # (80 + 75 + 100) / 3 = 85
        (None, 2, 4),  # (25 + 75) / 2 = 50
        (9, None, None),  # one component: not counted
        (None, None, None),
    ]
    for nps, csat, trust in answered:
        ResponseFactory(submitted_at=at("2026-01-12"), nps=nps, csat=csat, trust=trust)
    ResponseFactory(submitted_at=at("2026-02-01"), nps=10, csat=5)  # after the period

    result = value.advocacy_index(filters=JANUARY)

    assert result == value.AdvocacyIndex(index=pytest.approx((100 + 55 + 0 + 85 + 50) / 5), n=5)
    assert result.index == pytest.approx(58.0)


def test_advocacy_index_without_enough_components_is_no_data():
    ResponseFactory(submitted_at=at("2026-01-12"), nps=10)
    ResponseFactory(submitted_at=at("2026-01-12"), trust=5)
    assert value.advocacy_index(filters=JANUARY) == value.AdvocacyIndex(index=None, n=0)

"""Customer-base metrics against hand-computed event logs (shared/METRICS.md, "Customer-base metrics")."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from customers.models import Customer, Event
from metrics import customers
from metrics.filters import MetricFilters
from metrics.tests import reference
from metrics.tests.factories import CustomerFactory, ResponseFactory, SegmentFactory, at, event

pytestmark = pytest.mark.django_db

JANUARY = MetricFilters(start=date(2026, 1, 1), end=date(2026, 1, 31))
NEW, LOST, REFERRAL, MOVE = Event.Type.NEW, Event.Type.LOST, Event.Type.REFERRAL, Event.Type.SEGMENT_MOVE


def customer(
    acquired: str | None,
    *,
    lost: str | None = None,
    value="1000",
    reason="",
    segment=None,
    new_event=True,
    **kwargs,
) -> Customer:
    """A customer whose fields and events agree, as the CRM sync keeps them. Dates are local noon
    unless given as 'YYYY-MM-DDTHH:MM'."""

    def when(text):
        day, _, clock = text.partition("T")
        hour, minute = (int(p) for p in (clock or "12:00").split(":"))
        return at(day, hour, minute)

    status = (
        Customer.Status.PROSPECT if acquired is None else (Customer.Status.LOST if lost else Customer.Status.ACTIVE)
    )
    c = CustomerFactory(
        acquired_at=when(acquired) if acquired else None,
        lost_at=when(lost) if lost else None,
        status=status,
        value=Decimal(value),
        lost_reason=reason,
        segment=segment,
        **kwargs,
    )
    if acquired and new_event:
        event(NEW, c, when(acquired), value=Decimal(value))
    if lost:
        event(LOST, c, when(lost), reason=reason, value=Decimal(value))
    return c


@pytest.fixture
def january_base():
    gold, silver, bronze = (
        SegmentFactory(name="Gold", rank=3),
        SegmentFactory(name="Silver", rank=2),
        SegmentFactory(name="Bronze", rank=1),
    )
    base = {
        "A": customer("2025-06-01", value="1000", segment=gold),
        "B": customer("2025-07-01", lost="2026-01-10", reason="price", value="2000", segment=silver),
        "C": customer("2025-08-01", lost="2025-12-15", reason="price", value="500"),  # lost before start
        "D": customer("2026-01-01T00:00", value="3000", segment=gold),  # new at the first instant
        "E": customer("2026-01-20", lost="2026-01-28", reason="service", value="400"),  # new and lost
        "F": customer(None),  # a prospect: never in the base
        # Lost at the first instant: in the base at start, and lost in the period.
        "G": customer("2025-01-01", lost="2026-01-01T00:00", reason="price", value="600"),
        "H": customer("2026-02-01T00:00", value="700"),  # acquired the instant after the period
        "I": customer("2025-05-01", value="1500", segment=bronze),
    }
    return base


def test_customer_base_hand_computed(january_base):
    result = customers.customer_base(filters=JANUARY)

    # At start: A, B, G, I (value 1000 + 2000 + 600 + 1500). New: D, E. Lost: B, E, G.
    assert (result.at_start, result.at_start_value) == (4, 5100.0)
    assert (result.new, result.new_value) == (2, 3400.0)
    assert (result.lost, result.lost_value) == (3, 3000.0)
    assert result.at_end == 3
    assert result.churn_rate == 75.0
    assert result.retention_rate == 25.0  # (3 − 2) / 4
    assert result.revenue_churn == pytest.approx(100 * 3000 / 5100)
    assert (result.net_growth, result.growth_rate) == (-1, -25.0)
    assert customers.churn_rate(filters=JANUARY) == 75.0
    assert customers.customers_at_start(filters=JANUARY) == 4


def test_customers_at_end_equals_active_count_at_end(january_base):
    result = customers.customer_base(filters=JANUARY)
    assert result.at_end == reference.customer_base(JANUARY)["active_at_end"] == 3  # A, D, I
    assert Customer.objects.filter(pk__in=[january_base[k].pk for k in "ADI"]).count() == 3


@pytest.mark.parametrize("tz", ["UTC", "America/Mexico_City"])
def test_customers_at_end_equals_active_count_in_any_time_zone(settings, tz):
    settings.TIME_ZONE = tz
    customer("2025-12-31T23:59")
    customer("2026-01-01T00:00", lost="2026-01-31T23:59")
    customer("2026-01-31T23:59")
    customer("2026-02-01T00:00")
    customer("2025-11-01", lost="2026-02-01T00:00")

    result = customers.customer_base(filters=JANUARY)

    assert (result.at_start, result.new, result.lost) == (2, 2, 1)
    assert result.at_end == reference.customer_base(JANUARY)["active_at_end"] == 3


def test_lost_by_reason_and_list(january_base):
    assert customers.lost_by_reason(filters=JANUARY) == [
        {"reason": "price", "count": 2, "value": 2600.0},
        {"reason": "service", "count": 1, "value": 400.0},
    ]
    listed = customers.lost_customer_list(filters=JANUARY)
    assert [row["customer_id"] for row in listed] == [january_base[k].pk for k in "EBG"]
    assert listed[0]["reason"] == "service" and listed[2]["value"] == 600.0


def test_empty_base_gives_none_rates():
    result = customers.customer_base(filters=JANUARY)
    assert (result.at_start, result.new, result.lost, result.at_end) == (0, 0, 0, 0)
    assert (result.churn_rate, result.retention_rate, result.revenue_churn, result.growth_rate) == (None,) * 4
    assert customers.referrals(filters=JANUARY).conversion_rate is None
    assert customers.lost_after_incident(filters=JANUARY).rate is None


def test_referrals_by_segment_top_referrers_and_conversion():
    gold, bronze = SegmentFactory(name="Gold", rank=3), SegmentFactory(name="Bronze", rank=1)
    a = customer("2025-06-01", segment=gold, name="Ana")
    i = customer("2025-05-01", segment=bronze, name="Iker")
    p1, p2, p3, p0 = (customer(None) for _ in range(4))
    event(REFERRAL, p1, at("2026-01-05"), referrer=a, segment=gold)
    event(NEW, p1, at("2026-04-05", 11))  # 89 days and 23 h later: converted
    event(REFERRAL, p2, at("2026-01-06"), referrer=i, segment=bronze)
    event(NEW, p2, at("2026-05-01"))  # too late
    event(REFERRAL, p3, at("2026-01-07"), referrer=a, segment=gold)  # never converts
    event(REFERRAL, p0, at("2025-12-01"), referrer=a, segment=gold)  # before the period
    event(NEW, p0, at("2025-12-20"))

    result = customers.referrals(filters=JANUARY)

    assert (result.total, result.converted) == (3, 1)
    assert result.conversion_rate == pytest.approx(100 / 3)
    assert result.by_segment == {"Gold": 2, "Bronze": 1}
    assert result.top_referrers == [
        {"customer_id": a.pk, "crm_id": a.external_id, "name": "Ana", "referrals": 2},
        {"customer_id": i.pk, "crm_id": i.external_id, "name": "Iker", "referrals": 1},
    ]
    assert (
        customers.referrals(filters=MetricFilters(start=JANUARY.start, end=JANUARY.end, segment=bronze.pk)).total == 1
    )


def test_segment_moves_matrix_upgrades_downgrades():
    gold, silver, bronze = (
        SegmentFactory(name="Gold", rank=3),
        SegmentFactory(name="Silver", rank=2),
        SegmentFactory(name="Bronze", rank=1),
    )
    for source, target, day in [(bronze, silver, 10), (silver, gold, 11), (gold, bronze, 12), (bronze, silver, 13)]:
        c = customer("2025-01-01", segment=target)
        event(MOVE, c, at(f"2026-01-{day}"), from_segment=source, to_segment=target, segment=target)
    c = customer("2025-01-01", segment=gold)
    event(MOVE, c, at("2026-02-01"), from_segment=silver, to_segment=gold)  # after the period

    result = customers.segment_moves(filters=JANUARY)

    assert (result.total, result.upgrades, result.downgrades) == (4, 3, 1)
    assert result.matrix == [
        {"from": "Gold", "to": "Bronze", "count": 1},
        {"from": "Silver", "to": "Gold", "count": 1},
        {"from": "Bronze", "to": "Silver", "count": 2},
    ]
    silver_only = customers.segment_moves(
        filters=MetricFilters(start=JANUARY.start, end=JANUARY.end, segment=silver.pk)
    )
    assert (silver_only.total, silver_only.upgrades) == (3, 3)


def test_segment_filter_rebuilds_segment_at_start_and_keeps_at_end_identity():
    gold, silver, bronze = (
        SegmentFactory(name="Gold", rank=3),
        SegmentFactory(name="Silver", rank=2),
        SegmentFactory(name="Bronze", rank=1),
    )
    s1 = customer("2025-03-01", segment=gold)  # Silver at start, moved up to Gold on Jan 10
    event(MOVE, s1, at("2026-01-10"), from_segment=silver, to_segment=gold, segment=gold)
    customer("2025-03-01", segment=silver)
    s3 = customer("2025-03-01", segment=bronze)  # Silver all January; moved down in February
    event(MOVE, s3, at("2026-02-10"), from_segment=silver, to_segment=bronze, segment=bronze)
    customer("2026-01-15", segment=silver)  # new in Silver
    customer("2025-03-01", lost="2026-01-20", segment=silver)  # lost in Silver

    in_silver = MetricFilters(start=JANUARY.start, end=JANUARY.end, segment=silver.pk)
    in_gold = MetricFilters(start=JANUARY.start, end=JANUARY.end, segment="Gold")
    silver_base, gold_base = customers.customer_base(filters=in_silver), customers.customer_base(filters=in_gold)

    assert (silver_base.at_start, silver_base.new, silver_base.lost, silver_base.moved_out) == (4, 1, 1, 1)
    assert silver_base.at_end == reference.customer_base(in_silver)["active_at_end"] == 3
    # Churn and retention stay each other's complement; the move out is shown beside them, not folded in.
    assert silver_base.churn_rate == 25.0 and silver_base.retention_rate == 75.0
    assert silver_base.at_end == 4 + 1 + 0 - 1 - 1  # at start + new + moved in − lost − moved out
    (january,) = customers.customer_trend(filters=in_silver, granularity="month")
    assert (january["new"], january["lost"], january["moved_in"], january["moved_out"]) == (1, 1, 0, 1)
    assert january["net"] == -1 and january["active_at_start"] == 4
    (gold_january,) = customers.customer_trend(filters=in_gold, granularity="month")
    assert (gold_january["moved_in"], gold_january["net"]) == (1, 1)
    assert (gold_base.at_start, gold_base.moved_in, gold_base.at_end) == (0, 1, 1)
    assert gold_base.at_end == reference.customer_base(in_gold)["active_at_end"]
    assert gold_base.churn_rate is None


def test_lost_after_an_incident():
    def lost_customer(**kwargs):
        return customer("2025-01-01", lost="2026-01-20", reason="other", **kwargs)

    l1, l2, l3, l4, l5, l6 = (lost_customer(name=f"L{i}") for i in range(1, 7))
    ResponseFactory(customer=l1, submitted_at=at("2026-01-01"), nps=5)  # detractor
    ResponseFactory(customer=l2, submitted_at=at("2025-12-01"), ces=2, nps=8)  # incident (hard to get help)
    ResponseFactory(customer=l3, submitted_at=at("2025-10-01"), nps=3)  # more than 90 days before
    ResponseFactory(customer=l3, submitted_at=at("2026-01-10"), nps=10, csat=3, ces=4)
    ResponseFactory(customer=l4, submitted_at=at("2026-01-21"), csat=1)  # after the loss
    ResponseFactory(customer=l5, submitted_at=at("2026-01-05"), nps=2, csat=2)  # both
    ResponseFactory(customer=l6, submitted_at=at("2025-11-10"), nps=4)  # both, in two answers
    ResponseFactory(customer=l6, submitted_at=at("2026-01-02"), nps=9, ces=1)
    ResponseFactory(customer=None, submitted_at=at("2026-01-05"), nps=0)

    result = customers.lost_after_incident(filters=JANUARY)

    assert (result.lost, result.after_detractor, result.after_incident, result.after_either) == (6, 3, 3, 4)
    assert result.rate == pytest.approx(100 * 4 / 6)
    assert sorted(row["name"] for row in result.customers) == ["L1", "L2", "L5", "L6"]
    flags = {row["name"]: (row["detractor"], row["incident"]) for row in result.customers}
    assert flags == {"L1": (True, False), "L2": (False, True), "L5": (True, True), "L6": (True, True)}


def test_monthly_customer_trend():
    for _ in range(4):
        customer("2025-06-01")
    customer("2026-01-05")
    customer("2026-01-06", lost="2026-03-02")
    customer("2025-06-01", lost="2026-01-20")
    customer("2025-06-01", lost="2026-03-30")
    quarter = MetricFilters(start=date(2026, 1, 1), end=date(2026, 3, 31))

    trend = customers.customer_trend(filters=quarter, granularity="month")

    assert trend == [  # fmt: skip
        {
            "bucket": date(2026, 1, 1),
            "new": 2,
            "lost": 1,
            "moved_in": 0,
            "moved_out": 0,
            "net": 1,
            "active_at_start": 6,
            "churn_rate": 100 / 6,
        },
        {
            "bucket": date(2026, 2, 1),
            "new": 0,
            "lost": 0,
            "moved_in": 0,
            "moved_out": 0,
            "net": 0,
            "active_at_start": 7,
            "churn_rate": 0.0,
        },
        {
            "bucket": date(2026, 3, 1),
            "new": 0,
            "lost": 2,
            "moved_in": 0,
            "moved_out": 0,
            "net": -2,
            "active_at_start": 7,
            "churn_rate": pytest.approx(200 / 7),
        },
    ]
    assert customers.customer_base(filters=quarter).at_end == 5


def test_lost_after_a_complaint_or_an_operational_incident():
    from complaints.tests.factories import complaint

    def lost_customer(name):
        return customer("2025-01-01", lost="2026-01-20", reason="other", name=name)

    l1, l2, l3, l4, l5, l6, l7 = (lost_customer(f"L{i}") for i in range(1, 8))
    complaint(at("2026-01-10"), customer=l1)  # a complaint
    complaint(at("2026-01-10"), customer=l2, kind="inquiry")  # an inquiry is no incident
    event("claim", l3, at("2025-12-01"))  # an operational incident
    event("support_contact", l4, at("2026-01-10"))  # an operational event, not an incident
    complaint(at("2025-10-01"), customer=l5)  # more than 90 days before
    ResponseFactory(customer=l6, submitted_at=at("2026-01-01"), nps=4)  # all three for L6
    complaint(at("2026-01-19"), customer=l6)
    event("invoice_correction", l6, at("2026-01-18"))
    complaint(at("2026-01-21"), customer=l7)  # after the loss
    complaint(at("2026-01-10"))  # nobody's

    result = customers.lost_after_incident(filters=JANUARY)

    assert (result.lost, result.after_detractor, result.after_incident) == (7, 1, 0)
    assert (result.after_complaint, result.after_operational, result.after_either) == (2, 2, 3)
    assert result.rate == pytest.approx(100 * 3 / 7)
    found = {r["name"]: (r["detractor"], r["incident"], r["complaint"], r["operational"]) for r in result.customers}
    assert found == {
        "L1": (False, False, True, False),
        "L3": (False, False, False, True),
        "L6": (True, False, True, True),
    }

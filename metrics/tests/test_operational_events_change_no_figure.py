"""Operational events (returns, claims, invoice corrections, service changes, support contacts) sit in the
same event log as the customer-base events, but no customer-base figure counts them: the figures of a
hand-computed base are the same with them present, from the raw rows and from the rollups (conftest runs
each test both ways). "Lost after an incident" is left out on purpose: incidents do count there."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.definitions import OPERATIONAL_EVENT_TYPES
from metrics import customers
from metrics.tests.factories import SegmentFactory, at, event
from metrics.tests.test_metrics_customers import JANUARY, MOVE, REFERRAL, customer

pytestmark = pytest.mark.django_db


def figures() -> dict:
    base = customers.customer_base(filters=JANUARY)
    moves = customers.segment_moves(filters=JANUARY)
    found = customers.referrals(filters=JANUARY)
    found = (found.total, found.converted, found.conversion_rate, found.by_segment, found.top_referrers,
             found.revenue)  # fmt: skip
    return {
        "base": (base.at_start, base.at_start_value, base.new, base.new_value, base.lost, base.lost_value,
                 base.at_end, base.churn_rate, base.retention_rate, base.revenue_churn, base.net_growth),
        "lost_by_reason": customers.lost_by_reason(filters=JANUARY),
        "lost_list": [row["customer_id"] for row in customers.lost_customer_list(filters=JANUARY)],
        "moves": (moves.total, moves.upgrades, moves.downgrades, moves.matrix),
        "referrals": found,
        "trend": customers.customer_trend(filters=JANUARY, granularity="month"),
    }  # fmt: skip


def test_customer_base_figures_are_unchanged_by_operational_events():
    gold, silver = SegmentFactory(name="Gold", rank=2), SegmentFactory(name="Silver", rank=1)
    a = customer("2025-06-01", value="1000", segment=gold)
    b = customer("2025-07-01", lost="2026-01-10", reason="price", value="2000", segment=silver)
    d = customer("2026-01-05", value="3000", segment=silver)
    prospect = customer(None)
    event(MOVE, d, at("2026-01-20"), from_segment=silver, to_segment=gold, segment=gold, value=Decimal("3000"))
    event(REFERRAL, prospect, at("2026-01-12"), referrer=a, segment=gold)
    before = figures()
    # By hand: at start A, B (3000); new D (3000); lost B (2000); one upgrade; one referral, not converted.
    assert before["base"][:7] == (2, 3000.0, 1, 3000.0, 1, 2000.0, 2)
    assert before["base"][7] == 50.0
    assert before["moves"][:3] == (1, 1, 0)
    assert before["referrals"][:2] == (1, 0)

    for i, kind in enumerate(OPERATIONAL_EVENT_TYPES):
        # In the period, before it, for a lost customer and for a prospect, with and without a value.
        for who in (a, b, d, prospect):
            event(kind, who, at(f"2026-01-{10 + i:02d}"), value=Decimal("150") if i % 2 else None, reason="x")
            event(kind, who, at(f"2025-12-{10 + i:02d}"))
    assert figures() == before

"""The digest's churn-risk section: expected revenue at risk and the five largest relationship signals by
value × risk with their reason, from the current run as the Value page reads it; nothing without a
trained model."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from churn.models import ChurnRiskRun, ChurnRiskScore
from cxmetrics.tests.factories import cx_manager
from digests.content import churn_risk_section, digest_content
from digests.services import digest_send, digest_subscription_set, digests_schedule
from metrics.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

NOVEMBER = {"frequency": "monthly", "start": date(2026, 11, 1), "end": date(2026, 11, 30)}


def _run(status=ChurnRiskRun.Status.COMPLETE, **fields) -> ChurnRiskRun:
    return ChurnRiskRun.objects.create(status=status, finished_at=timezone.now(), **fields)


@pytest.fixture
def scored():
    """Seven scored customers; six with a signal. Value × risk: A 900 (NPS fell 4), B 800 (downgraded),
    C 700 (incident), D 600 (no signal), E 500 (incident), F 400 (NPS fell 3 and downgraded), G 300
    (incident): the five signals shown are A, B, C, E and F."""
    run = _run(expected_revenue_at_risk=Decimal("4200.00"), customers_scored=7, signals=6, auc=0.8)
    signals = {"A": {"nps_drop": 4}, "B": {"downgraded": True}, "C": {"incident": True}, "D": {},
               "E": {"incident": True}, "F": {"nps_drop": 3, "downgraded": True}, "G": {"incident": True}}  # fmt: skip
    for i, (name, extra) in enumerate(signals.items()):
        customer = CustomerFactory(name=f"Customer {name}", value=Decimal("2000"))
        at_risk = 900 - 100 * i
        ChurnRiskScore.objects.create(run=run, customer=customer, probability=at_risk / 2000, value=customer.value,
                                      value_at_risk=at_risk, **extra)  # fmt: skip
    return run


def test_without_a_model_the_digest_has_no_churn_section():
    assert digest_content(**NOVEMBER).churn is None
    _run(status=ChurnRiskRun.Status.NOT_ENOUGH_HISTORY, train_losses=12)
    assert churn_risk_section() is None


def test_the_section_gives_expected_revenue_at_risk_and_the_five_largest_signals(scored):
    churn = digest_content(**NOVEMBER).churn
    assert churn["expected_revenue_at_risk"] == 4200.0 and churn["customers_scored"] == 7
    assert [s["name"] for s in churn["signals"]] == [f"Customer {n}" for n in "ABCEF"]
    a = churn["signals"][0]
    assert (a["value_at_risk"], a["value"], a["risk"], a["nps_drop"]) == (900, 2000.0, 0.45, 4)


def test_the_email_says_it_with_each_signals_reason(scored):
    digest_subscription_set(user=cx_manager("ana"), frequency="monthly", language="en")
    (pk,) = digests_schedule(day=date(2026, 12, 3)).queued
    assert digest_send(delivery_id=pk) == "sent"
    message = mail.outbox[0]
    body = message.body
    assert "Expected revenue at risk: €4,200" in body and "over the 7 active customers scored" in body
    assert "- Customer A: €900 (€2,000 × 45\u00a0%) · NPS fell 4 points" in body
    assert "Customer F: €400 (€2,000 × 20\u00a0%) · NPS fell 3 points; downgraded in the last 365 days" in body
    assert "Customer C: €700 (€2,000 × 35\u00a0%) · incident in the last 90 days" in body
    assert "Customer D" not in body and "Customer G" not in body
    html = message.alternatives[0][0]
    assert "data-churn" in html and "Customer A</a>: €900" in html

"""seed_demo writes rows in bulk, bypassing the ORM: its timestamps must be stored the way Django
stores them (on SQLite, naive UTC "YYYY-MM-DD HH:MM:SS"), or the database's date functions (Trunc*,
datetime ± interval) return NULL and every trend and 90-day window comes out empty."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from cxmetrics.demo import seed_demo
from metrics import customers, survey
from metrics.filters import MetricFilters


@pytest.fixture
def demo(db):
    seed_demo(customers=300, months=6, seed=1)
    today = timezone.localdate()
    return MetricFilters(start=today - timedelta(days=179), end=today)


def test_the_trend_of_the_demo_data_adds_up_to_the_period(demo):
    trend = survey.survey_trend(filters=demo, granularity="month")
    assert sum(row["nps_responses"] for row in trend) == survey.survey_scores(filters=demo).nps.responses > 0


def test_demo_referrals_convert(demo):
    # seed_demo makes every referred customer's ``new`` event 5-80 days after the referral.
    assert customers.referrals(filters=demo).converted > 0

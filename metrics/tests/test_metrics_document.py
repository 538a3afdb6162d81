"""The metrics document: its exact shape and figures for a hand-computed January."""

from __future__ import annotations

import json
import math
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Customer, Event
from metrics.document import metrics_document
from metrics.filters import MetricFilters
from metrics.stats import is_too_few
from metrics.tests.conftest import refresh_if
from metrics.tests.factories import CustomerFactory, ResponseFactory, at, event, small_dataset

pytestmark = pytest.mark.django_db

JANUARY = MetricFilters(start=date(2026, 1, 1), end=date(2026, 1, 31))

EXPECTED = {
    "period": {"start": "2026-01-01", "end": "2026-01-31"},
    "currency": "EUR",
    # A's 10 and the anonymous 8 (B answered in December). p = .5, d = 0: var = .25.
    "nps": {
        "score": 50.0,
        "promoters": 1,
        "passives": 1,
        "detractors": 0,
        "responses": 2,
        "margin_of_error": pytest.approx(196 * math.sqrt(0.25 / 2)),
    },
    "csat": {"score": 100.0, "mean": 5.0, "responses": 1},
    "ces": {"mean": 6.0, "easy_pct": 100.0, "responses": 1},
    "likelihood_switch": {"mean": 1.0, "at_risk_pct": 0.0, "responses": 1},
    "likelihood_repurchase": {"mean": 10.0, "likely_pct": 100.0, "responses": 1},
    "overall": {"mean": 5.0, "responses": 1},
    "attribute_ratings": [],
    # No benchmark: the filters pin neither the audience nor the survey type.
    "response_rate": {"sent": 2, "responses": 1, "rate": 50.0, "benchmark": None},
    # At start A and B (1000 + 2000); C new (500); B lost (2000).
    "customers": {
        "at_start": 2,
        "new": 1,
        "lost": 1,
        "moved_in": 0,
        "moved_out": 0,
        "at_end": 2,
        "churn_rate": 50.0,
        "retention_rate": 50.0,
        "revenue_churn": pytest.approx(200 / 3),
        "net_growth": 0,
        "growth_rate": 0.0,
        "new_value": 500.0,
        "lost_value": 2000.0,
        "lost_by_reason": {"price": 1},
        "lost_value_by_reason": {"price": 2000.0},
    },
    # B, lost on 10 January, answered 4 (a detractor) and a CSAT of 2 (an incident) on 20 December, and
    # complained on 5 January.
    "lost_after_incident": {"lost": 1, "after_detractor": 1, "after_incident": 1, "after_complaint": 1,
                            "after_operational_incident": 0, "after_either": 1, "rate": 100.0},
    "referrals": {
        "total": 1,
        "converted": 0,
        "by_segment": {"Gold": 1},
        "conversion_rate": 0.0,
        "top_referrers": [{"customer_id": "A-CRM", "name": "A", "referrals": 1}],
    },
    "segment_moves": {"upgrades": 1, "downgrades": 0, "matrix": [{"from": "Silver", "to": "Gold", "count": 1}]},
    "combined": {
        # The anonymous 8 is left out: it has no segment; it is not "(none)".
        "nps_by_segment": {"Gold": 100.0},
        "csat_by_segment": {"Gold": 100.0},
        "ces_by_segment": {"Gold": 6.0},
        # A referred on 8 January after answering 10 on the 3rd.
        "referrals_by_nps_category": {"promoter": 1, "passive": 0, "detractor": 0, "no_response": 0},
        # Active at the end: A (a promoter, 1000) and C (no answer, 500).
        "value_by_nps_category": {
            "promoter": {"customers": 1, "mean_value": 1000.0},
            "passive": {"customers": 0, "mean_value": None},
            "detractor": {"customers": 0, "mean_value": None},
            "no_response": {"customers": 1, "mean_value": 500.0},
        },
        # One response answered overall experience: too few pairs for a correlation.
        "key_metric_links": {
            "nps": {"rho": None, "n": 1},
            "likelihood_switch": {"rho": None, "n": 1},
            "likelihood_repurchase": {"rho": None, "n": 1},
        },
        "driver_importance": [],
        "driver_weights": {"r_squared": None, "n": 0, "eligible": 0, "sample_max": 10000, "resamples": 0,
                           "method": "relative weights (Johnson), percentile bootstrap 95 % intervals"},
        # At start B was a detractor (4 in December) and A had not answered yet.
        "churn_by_nps_category": {
            "promoter": {"at_start": 0, "lost": 0, "churn_rate": None},
            "passive": {"at_start": 0, "lost": 0, "churn_rate": None},
            "detractor": {"at_start": 1, "lost": 1, "churn_rate": 100.0},
            "no_response": {"at_start": 1, "lost": 0, "churn_rate": 0.0},
        },
        "revenue_at_risk": 0.0,
        "revenue_at_risk_customers": 0,
    },
    "value": {
        # The churn window (2025-02-01 … 2026-01-31) starts before anyone was acquired: no churn rate, so
        # no lifetime and no CLV. Active at the end: A (1000) and C (500, moved up to Gold): mean 750.
        "clv": {"at_start": 0, "lost": 1, "churn_rate": None, "expected_lifetime": None, "capped": False,
                "active": 2, "mean_value": 750.0, "clv": None},
        "clv_by_segment": {
            "Gold": {"at_start": 0, "lost": 0, "churn_rate": None, "expected_lifetime": None, "capped": False,
                     "active": 2, "mean_value": 750.0, "clv": None},
            "Silver": {"at_start": 0, "lost": 1, "churn_rate": None, "expected_lifetime": None, "capped": False,
                       "active": 0, "mean_value": None, "clv": None},
        },
        # A's referral never converted; January's new value is C's 500.
        "referral_revenue": 0.0,
        "referral_revenue_share": 0.0,
        # A's January answer (NPS 10 → 100, CSAT 5 → 100) counts; the anonymous NPS 8 alone does not.
        "advocacy_index": {"index": 100.0, "n": 1},
        "top_advocates": [
            {"customer_id": "A-CRM", "name": "A", "referrals": 1, "converted": 0, "revenue": 0.0, "last_nps": 10}
        ],
        # No churn-risk model has been trained (churn/tests cover a trained one).
        "churn_risk": {"status": "not_trained", "trained_at": None, "model": "", "features": [], "auc": None,
                       "auc_weak": True, "test_cutoff": None, "test_customers": 0, "test_losses": 0,
                       "train_losses": 0, "calibration": [], "customers_scored": 0,
                       "expected_revenue_at_risk": None, "relationship_signals": [],
                       "relationship_signals_total": 0},
    },
    # No cases, and no identified detractor answered in January (B's 4 is December's).
    "loop": {
        "cases": {"opened": 0, "closed": 0, "open_at_end": 0, "hours_to_first_contact": None,
                  "hours_to_close": None, "sla_breaches": 0, "sla_base": 0, "sla_breach_rate": None},
        "loop_closure": {"detractor_answers": 0, "closed_contacted": 0, "rate": None},
        "loop_outcome": {"contacted": 0, "contacted_churned": 0, "others": 0, "others_churned": 0,
                         "contacted_churn_rate": None, "others_churn_rate": None, "difference": None,
                         "ci_low": None, "ci_high": None, "no_data": True,
                         "label": "association, not proof of effect"},
    },
    # No comment analysed yet (comments_catch_up not run): the section is there, empty.
    "comments": {
        "analysed": 0,
        "sentiment": {"negative": 0, "neutral": 0, "positive": 0, "net_sentiment": None},
        "themes": {},
        "emerging": [],
    },
    # B's complaint (billing, by phone, resolved after 24 hours) and an anonymous inquiry (delivery, web).
    "follow_up": {
        "complaints": {
            "complaints": 1,
            "inquiries": 1,
            "by_category": {"delivery": {"complaints": 0, "inquiries": 1},
                            "billing": {"complaints": 1, "inquiries": 0}},
            "by_channel": {"phone": {"complaints": 1, "inquiries": 0}, "email": {"complaints": 0, "inquiries": 0},
                           "web": {"complaints": 0, "inquiries": 1}, "in_person": {"complaints": 0, "inquiries": 0},
                           "social": {"complaints": 0, "inquiries": 0}, "other": {"complaints": 0, "inquiries": 0}},
            # 1 complaint / 2 customers at start × 1 000.
            # No complaint summary was analysed: no themes.
            "by_theme": {"analysed": 0, "themes": {}},
            "complaint_rate": {"complaints": 1, "at_start": 2, "rate": 500.0},
            "resolution_time": {"median_hours": 24.0, "resolved": 1},
            # A's 10 is January's one identified NPS answer; A had no incident.
            "incidents_and_satisfaction": {
                "with_incident": {"score": None, "promoters": 0, "passives": 0, "detractors": 0, "responses": 0,
                                  "margin_of_error": None},
                "without_incident": {"score": 100.0, "promoters": 1, "passives": 0, "detractors": 0,
                                     "responses": 1, "margin_of_error": None},
            },
        },
    },
}  # fmt: skip


def test_document_hand_computed():
    data = small_dataset()
    Customer.objects.filter(pk=data["a"].pk).update(external_id="A-CRM")
    document = metrics_document(JANUARY)
    # The retention clocks run to today: only the cohort is fixed. A is January's one identified
    # answer (a promoter, still a customer); B answered in December.
    retention = document["value"].pop("retention_by_nps_category")
    assert {c: (r["customers"], r["lost"]) for c, r in retention["curves"].items()} == {
        "promoter": (1, 0), "passive": (0, 0), "detractor": (0, 0),
    }  # fmt: skip
    assert retention["logrank_p_promoters_vs_detractors"] is None
    assert document == EXPECTED
    assert json.loads(json.dumps(document)) == document  # plain JSON: no Decimal, date or NaN


def test_empty_document_has_nulls_not_zeros():
    document = metrics_document(JANUARY)
    assert document["nps"] == {
        "score": None,
        "promoters": 0,
        "passives": 0,
        "detractors": 0,
        "responses": 0,
        "margin_of_error": None,
    }
    assert document["csat"]["score"] is None and document["response_rate"]["rate"] is None
    assert document["customers"]["churn_rate"] is None and document["customers"]["growth_rate"] is None
    assert document["referrals"] == {
        "total": 0,
        "converted": 0,
        "by_segment": {},
        "conversion_rate": None,
        "top_referrers": [],
    }
    assert document["lost_after_incident"]["rate"] is None
    assert document["combined"]["revenue_at_risk"] == 0.0
    json.dumps(document, allow_nan=False)


def test_document_respects_segment_filter():
    data = small_dataset()
    document = metrics_document(MetricFilters(start=JANUARY.start, end=JANUARY.end, segment=data["gold"].pk))
    assert document["nps"]["responses"] == 1
    assert document["customers"]["at_start"] == 1  # A
    assert document["customers"]["new"] == 0  # C joined in Silver
    assert document["customers"]["at_end"] == 2  # A, and C who moved up to Gold


def test_is_too_few(settings):
    assert is_too_few(29) and not is_too_few(30) and is_too_few(None)
    settings.DASHBOARD_MIN_RESPONSES = 5
    assert not is_too_few(5)


@pytest.mark.counts_queries
def test_query_count_does_not_grow_with_the_data(read_path):
    data = small_dataset()
    refresh_if(read_path)
    with CaptureQueriesContext(connection) as small:
        metrics_document(JANUARY)
    for i in range(25):
        c = CustomerFactory(segment=data["gold"], acquired_at=at("2025-03-01"))
        ResponseFactory(customer=c, segment=data["gold"], submitted_at=at("2026-01-10"), nps=i % 11, csat=1 + i % 5)
        event(Event.Type.REFERRAL, CustomerFactory(acquired_at=None, status="prospect"), at("2026-01-12"), referrer=c)
    refresh_if(read_path)
    with CaptureQueriesContext(connection) as large:
        document = metrics_document(JANUARY)
    assert document["nps"]["responses"] == 27 and document["referrals"]["total"] == 26
    # One statement per figure, plus the fill states, the pending changes and the pending customers'
    # rows (read once for the document), whatever the number of rows behind the figures. CLV reads the
    # base and the events of its churn window once overall and once per segment (two segments here).
    # The loop section: the case counts, the two median times (a count and the middle rows each, in the
    # database), the closure rate, the outcome. The
    # comments section: sentiment and theme mentions of the period and of the previous one (emerging
    # themes), and the theme names. The complaint figures: one for the counts, two for the median
    # resolution time, one for the NPS after an incident, two for the complaints by theme (the analysed
    # complaints and the theme counts). The advocacy index: one read of its rollup. The churn-risk section
    # reads its stored run (one query; a trained run adds its signals). The driver weights: the refresh
    # they are kept for.
    assert len(large) == len(small) <= 52

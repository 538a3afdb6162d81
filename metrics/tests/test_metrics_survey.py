"""Survey metrics against hand-computed data sets (shared/METRICS.md, "Survey metrics")."""

from __future__ import annotations

import math
from datetime import date

import pytest

from metrics import survey
from metrics.filters import MetricFilters
from metrics.tests.conftest import refresh_if
from metrics.tests.factories import (
    AttributeScoreFactory,
    CustomerFactory,
    InvitationFactory,
    ResponseFactory,
    SegmentFactory,
    SurveyFactory,
    at,
)

pytestmark = pytest.mark.django_db

JANUARY = MetricFilters(start=date(2026, 1, 1), end=date(2026, 1, 31))


def answer(day="2026-01-15", hour=12, minute=0, second=0, **kwargs):
    return ResponseFactory(submitted_at=at(day, hour, minute, second), **kwargs)


def test_nps_worked_example_from_metrics_md():
    for score in (10, 9, 9, 8, 7, 6, 3, 0, 10, 5):
        answer(nps=score)

    result = survey.nps(filters=JANUARY)

    assert (result.promoters, result.passives, result.detractors, result.responses) == (4, 2, 4, 10)
    assert result.score == 0.0
    assert round(result.margin_of_error, 2) == 55.44
    assert result.margin_of_error == pytest.approx(100 * 1.96 * math.sqrt(0.08))


def test_nps_skips_blank_answers_and_single_answer_has_no_margin():
    answer(nps=9)
    answer(nps=None, csat=4)

    result = survey.nps(filters=JANUARY)

    assert result.responses == 1
    assert result.score == 100.0
    assert result.margin_of_error is None


def test_empty_period_gives_none_not_zero():
    answer(day="2026-02-10", nps=10, csat=5, ces=7, likelihood_switch=1, likelihood_repurchase=10, overall=5)

    scores = survey.survey_scores(filters=JANUARY)

    assert scores.nps.responses == 0 and scores.nps.score is None and scores.nps.margin_of_error is None
    assert (scores.csat.score, scores.csat.mean, scores.csat.responses) == (None, None, 0)
    assert (scores.ces.mean, scores.ces.easy_pct) == (None, None)
    assert (scores.likelihood_switch.mean, scores.likelihood_switch.at_risk_pct) == (None, None)
    assert (scores.likelihood_repurchase.mean, scores.likelihood_repurchase.likely_pct) == (None, None)
    assert scores.overall.mean is None
    assert survey.response_rate(filters=JANUARY).rate is None


def test_csat_ces_switch_repurchase_overall_hand_computed():
    answer(csat=5, ces=7, likelihood_switch=2, likelihood_repurchase=10, overall=5)
    answer(csat=4, ces=5, likelihood_switch=8, likelihood_repurchase=9, overall=4)
    answer(csat=2, ces=3, likelihood_switch=7, likelihood_repurchase=5, overall=2)
    answer(nps=8)  # blank on every other question: left out of their denominators

    # CSAT: 2 of 3 answers are 4-5; mean (5+4+2)/3.
    assert survey.csat(filters=JANUARY) == survey.Csat(
        score=pytest.approx(200 / 3), mean=pytest.approx(11 / 3), responses=3
    )
    # CES: mean (7+5+3)/3 = 5; easy (5-7) 2 of 3.
    assert survey.ces(filters=JANUARY) == survey.Ces(mean=5.0, easy_pct=pytest.approx(200 / 3), responses=3)
    # Switch: mean 17/3; at risk (7-10) 2 of 3.
    switch = survey.likelihood_switch(filters=JANUARY)
    assert switch.mean == pytest.approx(17 / 3) and switch.at_risk_pct == pytest.approx(200 / 3)
    # Repurchase: mean 8; likely (9-10) 2 of 3.
    repurchase = survey.likelihood_repurchase(filters=JANUARY)
    assert repurchase.mean == pytest.approx(8.0) and repurchase.likely_pct == pytest.approx(200 / 3)
    assert survey.overall(filters=JANUARY).mean == pytest.approx(11 / 3)
    # Everything comes from one query.
    scores = survey.survey_scores(filters=JANUARY)
    assert scores.nps.responses == 1 and scores.csat.responses == 3


@pytest.mark.counts_queries
def test_survey_scores_is_a_fixed_number_of_queries(django_assert_num_queries, read_path):
    answer(nps=9, csat=5)
    refresh_if(read_path)
    # The fill states, then the raw rows; or the pending changes and the rollup of the rolled-up days.
    with django_assert_num_queries(2 if read_path == "raw" else 3):
        survey.survey_scores(filters=JANUARY)


@pytest.mark.parametrize("tz", ["UTC", "America/Mexico_City"])
def test_period_edges_in_site_time_zone(settings, tz):
    settings.TIME_ZONE = tz
    answer(day="2026-01-01", hour=0, nps=10)  # first instant: in
    answer(day="2026-01-31", hour=23, minute=59, second=59, nps=10)  # last second of `end`: in
    answer(day="2026-02-01", hour=0, nps=0)  # next day 00:00: out
    answer(day="2025-12-31", hour=23, minute=59, second=59, nps=0)  # before start: out

    result = survey.nps(filters=JANUARY)

    assert (result.responses, result.score) == (2, 100.0)


def test_mexico_city_local_day_differs_from_utc_day(settings):
    settings.TIME_ZONE = "America/Mexico_City"  # UTC-6 in January
    answer(day="2026-01-31", hour=20, nps=10)  # 2026-02-01 02:00 UTC, still January locally
    answer(day="2026-02-01", hour=1, nps=0)  # 2026-02-01 07:00 UTC, February locally

    start, end = JANUARY.period()
    assert start.isoformat() == "2026-01-01T00:00:00-06:00" and end.isoformat() == "2026-02-01T00:00:00-06:00"
    assert survey.nps(filters=JANUARY).responses == 1
    trend = survey.survey_trend(filters=MetricFilters(start=date(2026, 1, 1), end=date(2026, 2, 28)))
    assert [(t["bucket"], t["nps_responses"], t["nps"]) for t in trend] == [
        (date(2026, 1, 1), 1, 100.0),
        (date(2026, 2, 1), 1, -100.0),
    ]


def test_nps_significance_hand_computed():
    for score in [10] * 6 + [8] * 2 + [3] * 2:  # January: NPS 40, p .6, d .2
        answer(day="2026-01-10", nps=score)
    for score in [10] * 2 + [8] * 2 + [3] * 6:  # December: NPS -40, p .2, d .6
        answer(day="2025-12-10", nps=score)

    change = survey.nps_significance(filters=JANUARY)

    # var = .6 + .2 - .4² = .64 in both; SE = 100 √(.064); z = 80 / √(2 × 640).
    assert change.previous.score == -40.0 and change.current.score == 40.0
    assert change.change == 80.0
    assert change.z == pytest.approx(80 / math.sqrt(2 * 640))
    assert change.significant is True


def test_nps_significance_without_previous_data_is_none():
    answer(nps=10)
    answer(nps=3)
    change = survey.nps_significance(filters=JANUARY)
    assert change.previous.responses == 0
    assert (change.change, change.z, change.significant) == (None, None, None)


def test_filters_select_on_response_snapshots():
    gold, silver = SegmentFactory(name="Gold", rank=3), SegmentFactory(name="Silver", rank=2)
    relational = SurveyFactory(slug="rel", survey_type="relational", touchpoint="relationship", audience="b2b")
    support = SurveyFactory(slug="sup", survey_type="transactional", touchpoint="support", audience="b2c")
    customer = CustomerFactory(segment=silver)  # now Silver, but answered as Gold: the snapshot counts
    answer(survey=relational, customer=customer, segment=gold, nps=10)
    answer(survey=support, customer=customer, segment=silver, nps=0)
    answer(survey=support, customer=None, segment=None, nps=8)  # anonymous: counts in survey metrics

    def n(**kw):
        return survey.nps(filters=MetricFilters(start=JANUARY.start, end=JANUARY.end, **kw)).responses

    assert n() == 3
    assert n(segment=gold.pk) == 1 and n(segment="Gold") == 1 and n(segment="Nope") == 0
    assert n(survey="sup") == 2
    assert n(survey_type="relational") == 1
    assert n(touchpoint="support") == 2
    assert n(audience="b2c") == 2
    assert n(survey="sup", segment=silver.pk) == 1


def test_response_rate_counts_sent_invitations_and_late_responses():
    rel = SurveyFactory(slug="rel", survey_type="relational", audience="b2b")
    answered_late = InvitationFactory(survey=rel, sent_at=at("2026-01-30"))
    ResponseFactory(
        survey=rel, invitation=answered_late, customer=answered_late.customer, submitted_at=at("2026-02-03"), nps=9
    )  # arrives after the period: still counts
    InvitationFactory(survey=rel, sent_at=at("2026-01-05"))  # sent, no response
    InvitationFactory(survey=rel, sent_at=at("2026-01-05"), status="bounced")
    InvitationFactory(survey=rel, sent_at=None, status="queued")
    InvitationFactory(survey=rel, sent_at=None, status="failed")
    earlier = InvitationFactory(survey=rel, sent_at=at("2025-12-20"))  # sent before the period
    ResponseFactory(survey=rel, invitation=earlier, customer=earlier.customer, submitted_at=at("2026-01-02"))

    result = survey.response_rate(filters=JANUARY)

    assert (result.sent, result.responses, result.rate) == (2, 1, 50.0)
    assert result.benchmark is None  # audience and type not pinned down
    assert (
        survey.response_rate(filters=MetricFilters(start=JANUARY.start, end=JANUARY.end, survey="rel")).benchmark
        == 32.0
    )
    pinned = MetricFilters(start=JANUARY.start, end=JANUARY.end, audience="b2c", survey_type="transactional")
    assert survey.response_rate(filters=pinned) == survey.ResponseRate(sent=0, responses=0, rate=None, benchmark=16.0)


def test_monthly_trend_lists_empty_buckets():
    answer(day="2026-01-05", nps=10, csat=5, ces=6)
    answer(day="2026-01-25", nps=6, csat=3, ces=4)
    answer(day="2026-03-31", hour=23, minute=59, nps=9)
    quarter = MetricFilters(start=date(2026, 1, 1), end=date(2026, 3, 31))

    trend = survey.survey_trend(filters=quarter, granularity="month")

    assert [t["bucket"] for t in trend] == [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
    january, february, march = trend
    assert (january["nps"], january["nps_responses"], january["csat"], january["ces_mean"]) == (0.0, 2, 50.0, 5.0)
    # Two answers, p = d = .5: var = 1, MoE = 196 × √(1/2).
    assert january["nps_margin_of_error"] == pytest.approx(196 * math.sqrt(0.5))
    assert (february["nps"], february["nps_responses"], february["csat"]) == (None, 0, None)
    assert (march["nps"], march["nps_responses"], march["nps_margin_of_error"]) == (100.0, 1, None)


def test_weekly_and_quarterly_buckets():
    answer(day="2026-01-05", nps=10)  # a Monday
    answer(day="2026-01-11", nps=0)  # the Sunday of the same week
    answer(day="2026-01-12", nps=10)  # next Monday
    weekly = survey.survey_trend(
        filters=MetricFilters(start=date(2026, 1, 5), end=date(2026, 1, 18)), granularity="week"
    )
    assert [(t["bucket"], t["nps_responses"], t["nps"]) for t in weekly] == [
        (date(2026, 1, 5), 2, 0.0),
        (date(2026, 1, 12), 1, 100.0),
    ]
    quarterly = survey.survey_trend(
        filters=MetricFilters(start=date(2025, 12, 1), end=date(2026, 1, 31)), granularity="quarter"
    )
    assert [(t["bucket"], t["nps_responses"]) for t in quarterly] == [(date(2025, 10, 1), 0), (date(2026, 1, 1), 3)]


def test_score_distribution_lists_every_score():
    for score in (10, 10, 7, 0):
        answer(nps=score)
    answer(csat=4)

    distribution = survey.score_distribution(filters=JANUARY)

    assert [d["score"] for d in distribution] == list(range(11))
    assert {d["score"]: d["count"] for d in distribution if d["count"]} == {0: 1, 7: 1, 10: 2}
    assert survey.score_distribution(filters=JANUARY, question="csat") == [
        {"score": 1, "count": 0},
        {"score": 2, "count": 0},
        {"score": 3, "count": 0},
        {"score": 4, "count": 1},
        {"score": 5, "count": 0},
    ]
    with pytest.raises(ValueError):
        survey.score_distribution(filters=JANUARY, question="comment")


def nps_by(by: str) -> dict:
    return {row["key"]: row["nps"].score for row in survey.survey_breakdown(filters=JANUARY, by=by)}


def test_breakdowns_by_segment_touchpoint_and_type():
    gold, bronze = SegmentFactory(name="Gold", rank=3), SegmentFactory(name="Bronze", rank=1)
    support = SurveyFactory(slug="sup", survey_type="transactional", touchpoint="support")
    rel = SurveyFactory(slug="rel", survey_type="relational", touchpoint="relationship")
    answer(survey=rel, segment=gold, nps=10, csat=5)
    answer(survey=rel, segment=gold, nps=0, csat=1)
    answer(survey=support, segment=bronze, nps=8, ces=6)
    answer(survey=support, customer=CustomerFactory(segment=None), nps=9)  # a customer with no segment
    answer(survey=support, customer=None, nps=0)  # anonymous: in the survey figures, not by segment

    by_segment = survey.survey_breakdown(filters=JANUARY, by="segment")
    assert [row["key"] for row in by_segment[:2]] == ["Gold", "Bronze"]
    assert nps_by("segment") == {"Gold": 0.0, "Bronze": 0.0, "(none)": 100.0}
    assert by_segment[0]["csat"].score == 50.0 and by_segment[1]["ces"].mean == 6.0
    assert nps_by("touchpoint") == {"relationship": 0.0, "support": 0.0}  # 9, 8, 0 → (1 − 1) / 3
    assert nps_by("survey_type") == {"relational": 0.0, "transactional": 0.0}
    assert survey.nps(filters=JANUARY).responses == 5


def test_attribute_ratings_mean_per_attribute():
    r1, r2 = answer(nps=9), answer(nps=3)
    AttributeScoreFactory(response=r1, attribute="delivery speed", score=5)
    AttributeScoreFactory(response=r2, attribute="delivery speed", score=2)
    AttributeScoreFactory(response=r1, attribute="price", score=4)
    AttributeScoreFactory(response=answer(day="2026-02-02"), attribute="price", score=1)  # outside

    assert survey.attribute_ratings(filters=JANUARY) == [
        {"attribute": "delivery speed", "mean": 3.5, "responses": 2},
        {"attribute": "price", "mean": 4.0, "responses": 1},
    ]

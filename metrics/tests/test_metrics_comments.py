"""Comment figures against a hand-computed set (shared/METRICS.md, "Comments: themes and sentiment")."""

from __future__ import annotations

from datetime import date

import pytest

from comments.models import Theme
from comments.services import comments_catch_up, theme_update
from metrics import comments
from metrics.filters import MetricFilters
from metrics.tests.factories import ResponseFactory, SegmentFactory, at

pytestmark = pytest.mark.django_db

JANUARY = MetricFilters(start=date(2026, 1, 1), end=date(2026, 1, 31))


def answer(comment="", day="2026-01-15", **kwargs):
    return ResponseFactory(submitted_at=at(day), comment=comment, **kwargs)


@pytest.fixture
def hand_set():
    answer("Great delivery, everything arrived on time.", nps=10)
    answer("The staff were friendly and kind.", nps=9)
    answer("Late delivery and a billing error on my invoice.", nps=3)
    answer("The delivery never arrived at my home.", nps=0)
    answer("Nothing special to say about it.", nps=8)
    answer("", nps=7)
    answer("The invoice was wrong again this month.", nps=None, csat=2)
    comments_catch_up()


def by_name(figures):
    return {f.name: f for f in figures}


def test_share_impact_and_sentiment_by_hand(hand_set):
    # 6 analysed comments; NPS of the 6 NPS answers: 2 promoters, 2 passives, 2 detractors = 0.
    figures = by_name(comments.theme_figures(filters=JANUARY))

    delivery = figures["Delivery"]
    assert (delivery.mentions, delivery.share) == (3, pytest.approx(50.0))
    # Without R1 (promoter), R3 and R4 (detractors): 1 promoter, 2 passives -> 33.3; 0 − 33.3.
    assert delivery.nps_answers == 3
    assert delivery.impact == pytest.approx(-100 / 3)
    assert (delivery.positive, delivery.neutral, delivery.negative) == (1, 0, 2)
    assert delivery.net_sentiment == pytest.approx(-100 / 3)

    staff = figures["Staff"]
    # Without the one promoter: 1 promoter, 2 passives, 2 detractors -> −20; 0 − (−20).
    assert (staff.mentions, staff.share, staff.impact) == (1, pytest.approx(100 / 6), pytest.approx(20.0))

    billing = figures["Price and billing"]
    # The CSAT-only comment counts in the share, not in the impact (it has no NPS answer).
    assert (billing.mentions, billing.nps_answers) == (2, 1)
    assert billing.share == pytest.approx(100 / 3)
    assert billing.impact == pytest.approx(-20.0)


def test_net_sentiment_by_hand(hand_set):
    # Scores decide: 10, 9 positive; 3, 0 negative; 8 neutral; CSAT 2 negative.
    result = comments.comment_sentiment(filters=JANUARY)
    assert (result.positive, result.neutral, result.negative, result.comments) == (2, 1, 3, 6)
    assert result.net_sentiment == pytest.approx(100 * 2 / 6 - 100 * 3 / 6)


def test_theme_by_segment_shares_of_the_segment(read_path):
    north, south = SegmentFactory(name="North"), SegmentFactory(name="South")
    answer("Late delivery again, very slow shipping.", nps=2, segment=north)
    answer("Friendly staff at the shop counter.", nps=9, segment=north)
    answer("My parcel delivery was perfect.", nps=9, segment=south)
    comments_catch_up()
    delivery = Theme.objects.get(name="Delivery").pk
    rows = {(r["segment_id"], r["theme_id"]): r for r in comments.theme_by_segment(filters=JANUARY)}
    assert rows[(north.pk, delivery)]["share"] == pytest.approx(50.0)
    assert rows[(south.pk, delivery)]["share"] == pytest.approx(100.0)


def test_two_proportion_z_by_hand():
    # 8/10 against 1/10: pooled 0.45, SE √(0.45 × 0.55 × 0.2) = 0.22249, z = 0.7 / 0.22249.
    assert comments.two_proportion_z(8, 10, 1, 10) == pytest.approx(3.1463, abs=1e-4)
    assert comments.two_proportion_z(0, 0, 1, 10) is None


def test_emerging_theme_is_significantly_up_against_the_previous_period():
    for i in range(10):
        answer("Delivery was late." if i == 0 else "Nice people overall.", day="2025-12-10", nps=8)
        answer("Delivery was late." if i < 8 else "Nice people overall.", day="2026-01-10", nps=8)
    comments_catch_up()
    found = comments.emerging_themes(filters=MetricFilters(start=date(2026, 1, 1), end=date(2026, 1, 31)))
    assert [f["theme"] for f in found] == ["Delivery"]
    assert found[0]["z"] == pytest.approx(3.1463, abs=1e-4)


def test_reanalysis_after_a_taxonomy_change_moves_the_rolled_up_figures(read_path):
    answer("The courier was polite.", day="2026-01-10", nps=9)
    comments_catch_up()
    assert "Delivery" in by_name(comments.theme_figures(filters=JANUARY))
    delivery = Theme.objects.get(name="Delivery")
    theme_update(theme=delivery, name=delivery.name, name_es=delivery.name_es, active=False)
    comments_catch_up(every=True)
    assert "Delivery" not in by_name(comments.theme_figures(filters=JANUARY))

"""Chart builders: the figure JSON for known small frames, and the datasets on the hand-computed
January 2026 data set (factories.small_dataset)."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from dashboards import charts, datasets
from metrics.filters import MetricFilters
from metrics.tests.factories import small_dataset

JANUARY = MetricFilters(start=date(2026, 1, 1), end=date(2026, 1, 31))


def trend_frame(nps: list, moe: list, responses: list) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "bucket": [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)],
            "period": ["2026-01", "2026-02", "2026-03"],
            "nps": nps,
            "margin_of_error": moe,
            "responses": responses,
            "lower": [None if s is None else s - m for s, m in zip(nps, moe, strict=True)],
            "upper": [None if s is None else s + m for s, m in zip(nps, moe, strict=True)],
            "too_few": [n < 30 for n in responses],
        }
    )


def test_nps_trend_has_the_band_and_the_line():
    fig = charts.nps_trend(trend_frame([10.0, None, -5.0], [4.0, None, 3.0], [100, 0, 12]))
    upper, lower, line = fig["data"]
    assert upper["y"] == [14.0, None, -2.0] and upper["showlegend"] is False
    assert lower["y"] == [6.0, None, -8.0] and lower["fill"] == "tonexty"
    assert line["y"] == [10.0, None, -5.0]
    assert line["x"] == ["2026-01", "2026-02", "2026-03"]
    assert line["error_y"]["array"] == [4.0, None, 3.0]
    # The last bucket rests on 12 answers: an open marker.
    assert line["marker"]["symbol"] == ["circle", "circle", "circle-open"]
    assert fig["layout"]["xaxis"]["type"] == "category"
    assert fig["layout"]["legend"]["orientation"] == "h"
    json.dumps(fig)  # plain JSON, ready for json_script


def test_an_empty_trend_draws_nothing():
    assert charts.nps_trend(trend_frame([None] * 3, [None] * 3, [0, 0, 0])) is None
    assert charts.nps_sparkline(trend_frame([None] * 3, [None] * 3, [0, 0, 0])) is None


def test_score_distribution_colours_by_category():
    frame = pd.DataFrame(
        {
            "score": list(range(11)),
            "category": ["detractor"] * 7 + ["passive"] * 2 + ["promoter"] * 2,
            "responses": [1, 0, 0, 0, 0, 0, 2, 3, 0, 4, 5],
        }
    )
    (bar,) = charts.score_distribution(frame)["data"]
    assert bar["type"] == "bar"
    assert bar["y"] == [1, 0, 0, 0, 0, 0, 2, 3, 0, 4, 5]
    assert bar["marker"]["color"] == [charts.DETRACTOR] * 7 + [charts.PASSIVE] * 2 + [charts.PROMOTER] * 2
    assert charts.DETRACTOR == "#d73027" and charts.PASSIVE == "#9e9e9e" and charts.PROMOTER == "#1a9850"


def test_nps_breakdown_stacks_three_categories_and_marks_small_groups():
    frame = pd.DataFrame(
        {
            "segment": ["Gold", "Silver"],
            "promoters": [30, 2],
            "passives": [10, 1],
            "detractors": [10, 1],
            "responses": [50, 4],
            "nps": [40.0, 25.0],
            "margin_of_error": [20.0, 80.0],
            "promoters_pct": [60.0, 50.0],
            "passives_pct": [20.0, 25.0],
            "detractors_pct": [20.0, 25.0],
            "too_few": [False, True],
        }
    )
    fig = charts.nps_breakdown(frame)
    assert fig["layout"]["barmode"] == "stack"
    assert [t["name"] for t in fig["data"]] == ["Detractors", "Passives", "Promoters"]
    promoters = fig["data"][2]
    assert promoters["x"] == [60.0, 50.0]
    assert promoters["y"] == ["Gold", "Silver †"]
    assert promoters["marker"]["opacity"] == [1.0, charts.FADED]
    assert promoters["marker"]["color"] == charts.PROMOTER
    assert "30 responses" in charts.too_few_note(frame)


def test_customer_trend_bars_and_net_line():
    frame = pd.DataFrame(
        {
            "bucket": [date(2026, 1, 1)],
            "period": ["2026-01"],
            "new": [3],
            "lost": [1],
            "net": [2],
            "active_at_start": [10],
        }
    )
    new, lost, net = charts.customer_trend(frame)["data"]
    assert (new["type"], new["y"], new["marker"]["color"]) == ("bar", [3], charts.PROMOTER)
    assert (lost["type"], lost["y"], lost["marker"]["color"]) == ("bar", [1], charts.DETRACTOR)
    assert (net["type"], net["y"]) == ("scatter", [2])


def test_segment_sankey_links_from_nodes_to_to_nodes():
    frame = pd.DataFrame({"from": ["Silver", "Gold"], "to": ["Gold", "Silver"], "moves": [3, 1]})
    (sankey,) = charts.segment_sankey(frame, order=["Gold", "Silver"])["data"]
    assert sankey["type"] == "sankey"
    assert sankey["node"]["label"] == ["Gold (from)", "Silver (from)", "Gold (to)", "Silver (to)"]
    assert sankey["link"]["source"] == [1, 0]
    assert sankey["link"]["target"] == [2, 3]
    assert sankey["link"]["value"] == [3, 1]
    upgrade, downgrade = sankey["link"]["color"]
    assert upgrade.startswith("rgba(26, 152, 80") and downgrade.startswith("rgba(215, 48, 39")


def test_driver_importance_is_a_labelled_scatter():
    frame = pd.DataFrame(
        {
            "attribute": ["speed", "price", "unknown"],
            "mean": [3.5, 4.2, 4.0],
            "importance": [0.6, 0.2, None],
            "n": [40, 40, 2],
            "responses": [40, 40, 2],
        }
    )
    (points,) = charts.driver_importance(frame)["data"]
    assert points["mode"] == "markers+text"
    assert points["text"] == ["speed", "price"]
    assert points["x"] == [3.5, 4.2] and points["y"] == [0.6, 0.2]


def test_churn_by_category_uses_the_category_colours():
    frame = pd.DataFrame(
        {
            "category": ["promoter", "passive", "detractor", "no_response"],
            "at_start": [10, 5, 4, 0],
            "lost": [1, 1, 2, 0],
            "churn_rate": [10.0, 20.0, 50.0, None],
        }
    )
    (bar,) = charts.churn_by_nps_category(frame)["data"]
    assert bar["y"] == [10.0, 20.0, 50.0, None]
    assert bar["marker"]["color"] == [charts.PROMOTER, charts.PASSIVE, charts.DETRACTOR, charts.NO_RESPONSE]
    assert bar["customdata"][2] == [4, 2]


@pytest.mark.django_db
def test_datasets_on_the_hand_computed_january():
    small_dataset()
    distribution = datasets.score_distribution(JANUARY)
    # January: NPS answers 10 (customer A) and 8 (anonymous); B's 4 was in December.
    assert distribution.set_index("score")["responses"].to_dict() == {s: (1 if s in (8, 10) else 0) for s in range(11)}
    by_segment = datasets.nps_by_segment(JANUARY)
    assert by_segment["segment"].tolist() == ["Gold", "(none)"]
    assert by_segment["too_few"].tolist() == [True, True]
    churn = datasets.churn_by_nps_category(JANUARY).set_index("category")
    assert churn.loc["detractor", "at_start"] == 1 and churn.loc["detractor", "lost"] == 1
    trend = datasets.customer_trend(JANUARY, "month")
    assert trend[["period", "new", "lost", "net"]].to_dict("records") == [
        {"period": "2026-01", "new": 1, "lost": 1, "net": 0}
    ]
    kpis = datasets.kpis(JANUARY).set_index("metric")
    assert kpis.loc["nps", "value"] == pytest.approx(50.0)
    assert kpis.loc["customers", "value"] == 2
    assert kpis.loc["referrals", "value"] == 1
    assert set(datasets.DATASETS) >= {
        "nps_trend",
        "score_distribution",
        "customer_trend",
        "segment_moves",
        "churn_by_nps_category",
        "revenue_at_risk",
    }

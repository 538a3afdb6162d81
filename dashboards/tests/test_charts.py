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


def trend_frame(nps: list, moe: list, responses: list, partial: list | None = None) -> pd.DataFrame:
    months = len(nps)
    return pd.DataFrame(
        {
            "bucket": [date(2026, 1 + i, 1) for i in range(months)],
            "period": [f"2026-0{1 + i}" for i in range(months)],
            "partial": partial or [False] * months,
            "nps": nps,
            "margin_of_error": moe,
            "responses": responses,
            "lower": [None if s is None else s - m for s, m in zip(nps, moe, strict=True)],
            "upper": [None if s is None else s + m for s, m in zip(nps, moe, strict=True)],
            "too_few": [n < 30 for n in responses],
        }
    )


def test_nps_trend_draws_points_and_band_only_where_there_are_enough_answers():
    frame = trend_frame(
        [10.0, 20.0, None, 57.0, -100.0],
        [4.0, 2.0, None, 30.0, 0.0],
        [100, 50, 0, 7, 1],
        partial=[False, False, False, False, True],
    )
    fig = charts.nps_trend(frame)
    band, line = fig["data"]
    # One closed band over the run of drawn points: along the upper bounds and back along the lower ones.
    assert band["x"] == ["2026-01", "2026-02", "2026-02", "2026-01"]
    assert band["y"] == [14.0, 22.0, 18.0, 6.0] and band["fill"] == "toself"
    # No line from +57 (7 answers) to −100 (one answer in a month three days old): no points there.
    assert line["y"] == [10.0, 20.0, None, None, None]
    assert line["x"] == ["2026-01", "2026-02", "2026-03", "2026-04 †", "2026-05* †"]
    assert line["text"][:2] == ["NPS +10.0 ± 4.0 (n = 100)", "NPS +20.0 ± 2.0 (n = 50)"] and line["text"][3] == ""
    assert fig["layout"]["xaxis"]["type"] == "category"
    note = charts.too_few_note(frame)
    assert "† fewer than 30 responses: no point drawn." in note and "* the period covers only part" in note


def test_the_band_breaks_where_there_is_no_data():
    fig = charts.nps_trend(trend_frame([10.0, None, 5.0], [4.0, None, 3.0], [100, 0, 90]))
    first, second, line = fig["data"]
    assert first["x"] == ["2026-01", "2026-01"] and second["x"] == ["2026-03", "2026-03"]
    assert first["showlegend"] is True and second["showlegend"] is False


def test_legend_is_horizontal():
    fig = charts.nps_trend(trend_frame([10.0], [4.0], [100]))
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
            "label": ["rapidez", "precio", "desconocido"],
            "mean": [3.5, 4.2, 4.0],
            "importance": [0.6, 0.2, None],
            "n": [40, 40, 2],
            "responses": [40, 40, 2],
        }
    )
    (points,) = charts.driver_importance(frame)["data"]
    assert points["mode"] == "markers+text"
    assert points["text"] == ["rapidez", "precio"]  # the name in the page's language
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
    assert bar["customdata"][2] == "lost 2 of 4 at start"
    assert bar["text"][:3] == ["10.0\u00a0%", "20.0\u00a0%", "50.0\u00a0%"]


@pytest.mark.django_db
def test_datasets_on_the_hand_computed_january():
    small_dataset()
    distribution = datasets.score_distribution(JANUARY)
    # January: NPS answers 10 (customer A) and 8 (anonymous); B's 4 was in December.
    assert distribution.set_index("score")["responses"].to_dict() == {s: (1 if s in (8, 10) else 0) for s in range(11)}
    by_segment = datasets.nps_by_segment(JANUARY)
    assert by_segment["segment"].tolist() == ["Gold"]  # the anonymous 8 has no segment
    assert by_segment["too_few"].tolist() == [True]
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


def test_churn_has_one_axis_from_zero_with_retention_in_the_hover_text():
    frame = pd.DataFrame(
        {
            "bucket": [date(2026, 1, 1), date(2026, 2, 1)],
            "period": ["2026-01", "2026-02"],
            "partial": [False, False],
            "active_at_start": [2000, 1990],
            "lost": [1, 10],
            "churn_rate": [0.05, 10 / 1990 * 100],
            "retention_rate": [99.95, 100 - 10 / 1990 * 100],
        }
    )
    fig = charts.churn_trend(frame)
    (line,) = fig["data"]
    assert "yaxis2" not in fig["layout"] and fig["layout"]["yaxis"]["rangemode"] == "tozero"
    assert line["text"][0] == "churn 0.1\u00a0% · retention 100.0\u00a0% · 1 lost of 2,000"


def test_counts_get_whole_number_ticks():
    frame = pd.DataFrame({"reason": ["price", "service"], "lost": [3, 1], "value": [3000.0, 1200.0]})
    fig = charts.lost_reasons(frame)
    assert fig["layout"]["xaxis"]["tickformat"] == ",d" and fig["layout"]["xaxis"]["dtick"] == 1
    assert fig["data"][0]["customdata"] == ["value lost €3,000", "value lost €1,200"]


def test_key_metric_bars_on_too_few_pairs_are_faded_and_marked():
    frame = pd.DataFrame(
        {
            "metric": ["nps", "likelihood_switch", "likelihood_repurchase", "overall"],
            "mean": [8.0, 3.0, 7.0, 4.0],
            "responses": [40, 40, 8, 40],
            "rho_with_overall": [0.5, -0.3, 0.9, None],
            "n": pd.array([40, 40, 8, None], dtype="Int64"),
        }
    )
    (bar,) = charts.key_metric_links(frame)["data"]
    assert bar["marker"]["opacity"] == [1.0, 1.0, charts.FADED]
    assert bar["y"][2].endswith(" †")


def test_the_retention_table_reads_each_drawn_curve_every_thirty_days():
    # Promoters step down on days 10 and 45; detractors are followed 20 days at most; passives too few.
    points = [("promoter", 0, 1.0), ("promoter", 10, 0.9), ("promoter", 45, 0.8),
              ("passive", 0, 1.0), ("detractor", 0, 1.0), ("detractor", 20, 0.5)]  # fmt: skip
    frame = pd.DataFrame(
        [{"category": c, "day": d, "retention": r, "too_few": c == "passive", "customers": 5} for c, d, r in points]
    )
    table = charts.retention_table(frame)
    assert table["columns"] == ["Days since the answer", "Promoters", "Detractors"]
    # Day 30 reads the step of day 10 (right-continuous); the detractors' curve ends on day 20.
    assert table["rows"] == [["0", "100.0\u00a0%", "100.0\u00a0%"], ["30", "90.0\u00a0%", "—"]]
    assert charts.retention_table(frame[frame["category"] == "passive"]) is None

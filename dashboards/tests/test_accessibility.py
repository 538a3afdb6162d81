"""Category badges readable by everyone (WCAG contrast from the site's CSS) and charts with a text
alternative (their data as a table for screen readers)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from dashboards import charts

CSS = Path(__file__).resolve().parents[2] / "static" / "css" / "cxmetrics.css"


def _rules(css: str) -> dict[str, dict[str, str]]:
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    rules = {}
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        declarations = {
            name.strip(): value.strip() for name, value in (d.split(":", 1) for d in body.split(";") if ":" in d)
        }
        for selector in selectors.split(","):
            rules[" ".join(selector.split())] = declarations
    return rules


def _rgba(value: str) -> tuple[float, float, float, float]:
    value = value.strip()
    if value.startswith("#"):
        digits = value[1:]
        if len(digits) == 3:
            digits = "".join(c * 2 for c in digits)
        return (*(int(digits[i : i + 2], 16) for i in (0, 2, 4)), 1.0)
    parts = [float(p) for p in re.findall(r"[\d.]+", value)]
    return (parts[0], parts[1], parts[2], parts[3] if len(parts) > 3 else 1.0)


def _over_white(colour: tuple[float, float, float, float]) -> tuple[float, float, float]:
    r, g, b, a = colour
    return tuple(a * c + (1 - a) * 255 for c in (r, g, b))


def _luminance(rgb) -> float:
    def channel(c: float) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(foreground: str, background: str) -> float:
    back = _over_white(_rgba(background))
    fore = _over_white(_rgba(foreground)) if _rgba(foreground)[3] == 1 else back  # opaque text only
    high, low = sorted([_luminance(fore), _luminance(back)], reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_contrast_formula_on_known_pairs():
    assert contrast("#000", "#fff") == pytest.approx(21.0)
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)
    assert contrast("#ffffff", "#1a9850") == pytest.approx(3.72, abs=0.01)  # the old promoter badge: too low


BADGES = [".score-promoter", ".score-passive", ".score-detractor", ".score-other"]
CELLS = [".move-matrix td.move-up", ".move-matrix td.move-down", ".move-matrix td.move-zero"]


@pytest.mark.parametrize("selector", BADGES + CELLS)
def test_category_badges_and_cells_have_at_least_4_5_to_1(selector):
    rules = _rules(CSS.read_text())
    own = rules[selector]
    inherited = rules[".score-badge"] if selector.startswith(".score-") else {}
    foreground = own.get("color") or inherited.get("color") or "#212529"  # Bootstrap's body text
    background = own.get("background") or own.get("background-color") or "#ffffff"
    assert contrast(foreground, background) >= 4.5, (selector, foreground, background)


class _Tables(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables, self._cell, self._open = [], None, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "div" and "data-chart-table" in attrs:
            hidden = "visually-hidden" in attrs.get("class", "").split()
            self.tables.append({"id": attrs["data-chart-table"], "rows": [], "caption": "", "hidden": hidden})
            self._open = True
        elif not self._open:
            return
        elif tag == "tr":
            self.tables[-1]["rows"].append([])
        elif tag in {"td", "th", "caption"}:
            self._cell = tag
            if tag != "caption":
                self.tables[-1]["rows"][-1].append("")

    def handle_endtag(self, tag):
        if tag == "table":
            self._open = False
        if tag in {"td", "th", "caption"}:
            self._cell = None

    def handle_data(self, data):
        if self._cell == "caption":
            self.tables[-1]["caption"] += data
        elif self._cell:
            self.tables[-1]["rows"][-1][-1] += data.strip()


def test_a_category_chart_becomes_one_row_per_category_and_one_column_per_trace():
    figure = {
        "data": [
            {"type": "scatter", "x": ["a", "b"], "y": [1, 2], "hoverinfo": "skip", "name": "band"},
            {"type": "bar", "x": ["2026-01", "2026-02"], "y": [12.5, 3.0], "name": "Promoters"},
            {"type": "bar", "x": ["2026-02", "2026-03"], "y": [7, None], "name": "Detractors"},
        ],
        "layout": {"xaxis": {"title": {"text": "Month"}}},
    }
    table = charts.figure_table(figure)
    assert table["columns"] == ["Month", "Promoters", "Detractors"]
    assert table["rows"] == [["2026-01", "12.5", "—"], ["2026-02", "3", "7"], ["2026-03", "—", "—"]]


def test_horizontal_bars_sankey_and_typed_arrays():
    import numpy as np
    import plotly.graph_objects as go

    bars = charts._figure([go.Bar(y=["Price", "Support"], x=np.array([4, 9]), orientation="h", name="Lost")])
    assert charts.figure_table(bars)["rows"] == [["Price", "4"], ["Support", "9"]]
    sankey = {
        "data": [
            {
                "type": "sankey",
                "node": {"label": ["Key", "Growth"]},
                "link": {"source": [0], "target": [1], "value": [3]},
            }
        ]
    }
    assert charts.figure_table(sankey)["rows"] == [["Key", "Growth", "3"]]
    assert charts.figure_table(None) is None and charts.figure_table({"data": []}) is None


@pytest.mark.django_db
def test_every_chart_drawn_on_the_dashboards_has_its_data_table(client):
    from django.urls import reverse

    from customers.models import Customer
    from cxmetrics.demo import seed_demo
    from cxmetrics.tests.factories import cx_manager

    seed_demo(customers=300, months=6, seed=1)
    client.force_login(cx_manager())
    names = [
        "dashboards-overview",
        "dashboards-surveys",
        "dashboards-customers",
        "dashboards-combined",
        "dashboards-value",
    ]
    urls = [reverse(name) for name in names]
    customer = Customer.objects.filter(responses__isnull=False).order_by("pk").first()
    urls.append(reverse("dashboards-customer", args=[customer.pk]))
    charts_seen = 0
    for url in urls:
        html = client.get(url).content.decode()
        drawn = re.findall(r'data-chart-id="([^"]+)"', html)
        parser = _Tables()
        parser.feed(html)
        tabled = {t["id"]: t for t in parser.tables}
        assert set(drawn) == set(tabled), url
        assert all(t["hidden"] for t in tabled.values())
        for table in tabled.values():
            assert table["caption"].startswith("Data of the chart") and len(table["rows"]) >= 2, table
            assert all(len(row) == len(table["rows"][0]) for row in table["rows"]), [
                row for row in table["rows"] if len(row) != len(table["rows"][0])
            ]
        charts_seen += len(drawn)
    assert charts_seen >= 15

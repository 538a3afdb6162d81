"""Plotly figures from the frames in datasets.py.

Each builder takes one frame and returns the figure as plain JSON data (``{"data": [...],
"layout": {...}}``) for ``json_script``, or None when the frame holds nothing to draw, so the page
shows an empty state instead of an empty chart. Columns go to Plotly as lists, never numpy
arrays, so the JSON is readable and independent of plotly.py's binary encoding.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from django.utils.translation import gettext as _
from plotly.io.json import to_json_plotly

from core import display
from core.definitions import SCALES, scale_text
from metrics.stats import is_too_few, min_responses

PROMOTER = "#1a9850"
PASSIVE = "#9e9e9e"
DETRACTOR = "#d73027"
NO_RESPONSE = "#c9ced6"
BRAND = "#0b5cab"
BRAND_BAND = "rgba(11, 92, 171, 0.15)"
GRID = "#e9ecef"
TEXT = "#343a40"
CATEGORY_COLORS = {"promoter": PROMOTER, "passive": PASSIVE, "detractor": DETRACTOR, "no_response": NO_RESPONSE}
SEGMENT_PALETTE = ["#0b5cab", "#4f8fd6", "#7fb2e5", "#b3d1f0", "#6c757d", "#adb5bd"]
FADED = 0.35  # the opacity of a bar that rests on too few responses

Figure = dict[str, Any]


def category_label(category: str) -> str:
    return {
        "promoter": _("Promoters"),
        "passive": _("Passives"),
        "detractor": _("Detractors"),
        "no_response": _("No response"),
    }.get(category, category)


def key_metric_label(metric: str) -> str:
    return {
        "nps": _("Likelihood to recommend"),
        "likelihood_switch": _("Likelihood to switch"),
        "likelihood_repurchase": _("Likelihood to repurchase"),
        "overall": _("Overall experience"),
    }.get(metric, metric)


def _values(series: pd.Series) -> list:
    """A column as a JSON-friendly list: NaN/NA become None (a gap in a line)."""
    return [None if pd.isna(v) else v for v in series.tolist()]


def _count_axis(values, **extra) -> dict:
    """An axis of counts: whole-number ticks from zero (no 0.5 customers)."""
    top = max([v for v in values if v is not None] or [0])
    return {"rangemode": "tozero", "tickformat": ",d", **({"dtick": 1} if top <= 5 else {}), **extra}


def _axis(**extra) -> dict:
    return {"gridcolor": GRID, "zerolinecolor": GRID, "automargin": True, "fixedrange": True, **extra}


# The "none" template as plotly.py writes it into a figure's JSON (plotly.js has no named templates).
_NO_TEMPLATE = pio.templates["none"].to_plotly_json()


def _figure(traces: list, **layout) -> Figure:
    """The figure's JSON: the traces (validated by plotly.py when they were built, go.Bar(...)) and
    this layout, written by plotly.py's own encoder. Not through go.Figure, which validates and copies
    every trace again on each page view; the tests put every figure the pages draw through go.Figure
    (test_charts), which refuses an unknown or invalid property."""
    base = {
        "template": _NO_TEMPLATE,
        "margin": {"l": 8, "r": 8, "t": 8, "b": 8},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0, "font": {"size": 12}},
        "font": {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 12, "color": TEXT},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "hoverlabel": {"font": {"size": 12}},
        "separators": display.plotly_separators(),
        "xaxis": _axis(),
        "yaxis": _axis(),
    }
    for key, value in layout.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return json.loads(to_json_plotly({"data": [trace.to_plotly_json() for trace in traces], "layout": base}))


def _mark_too_few(labels: list[str], too_few: list[bool]) -> list[str]:
    return [f"{label} †" if few else label for label, few in zip(labels, too_few, strict=True)]


def too_few_note(frame: pd.DataFrame) -> str:
    """The note under a chart: what † (fewer than the minimum responses) and * (a bucket the period covers
    only in part) mean, when the chart has any."""
    notes = []
    few = not frame.empty and "too_few" in frame and "responses" in frame
    if few and (frame["too_few"] & (frame["responses"] > 0)).any():
        if "period" in frame:
            notes.append(_("† fewer than %(n)s responses: no point drawn.") % {"n": min_responses()})
        else:
            notes.append(_("† fewer than %(n)s responses: shown faded, read with care.") % {"n": min_responses()})
    if not frame.empty and "partial" in frame and frame["partial"].any():
        notes.append(_("* the period covers only part of this bucket."))
    return " ".join(notes)


def _buckets(frame: pd.DataFrame) -> list[str]:
    """The x labels of a trend: † where a bucket has too few (but some) responses, * where it is partial."""
    few = _too_few_points(frame)
    return [
        f"{label}{'*' if partial else ''}{' †' if f else ''}"
        for label, partial, f in zip(frame["period"], frame.get("partial", [False] * len(frame)), few, strict=True)
    ]


def _too_few_points(frame: pd.DataFrame) -> list[bool]:
    if "too_few" not in frame:
        return [False] * len(frame)
    return [bool(f) and n > 0 for f, n in zip(frame["too_few"], frame["responses"], strict=True)]


def _shown(frame: pd.DataFrame, column: str) -> list:
    """A trend's values with the small-sample rule applied: no point where the tile would say too few."""
    return [None if few else v for v, few in zip(_values(frame[column]), frame["too_few"], strict=True)]


def _runs(flags: list[bool]) -> list[tuple[int, int]]:
    """The (first, last) index of each run of consecutive True flags."""
    runs, first = [], None
    for i, flag in enumerate([*flags, False]):
        if flag and first is None:
            first = i
        elif not flag and first is not None:
            runs.append((first, i - 1))
            first = None
    return runs


# --- survey charts ---------------------------------------------------------------------------------


def nps_trend(frame: pd.DataFrame) -> Figure | None:
    """The NPS line with its 95 % margin-of-error band, drawn only where a bucket has enough responses:
    the band breaks where there is no point."""
    if frame.empty or not frame["responses"].any():
        return None
    x = _buckets(frame)
    nps = _shown(frame, "nps")
    hover = [
        _("NPS %(score)s ± %(moe)s (n = %(n)s)")
        % {"score": display.number(s, 1, signed=True), "moe": display.number(m, 1), "n": display.number(n, 0)}
        if s is not None and m is not None
        else ""
        for s, m, n in zip(nps, _values(frame["margin_of_error"]), frame["responses"], strict=True)
    ]
    # The band is clipped to the NPS scale: a bound beyond ±100 is not a possible score.
    upper = [None if v is None else min(v, 100.0) for v in _values(frame["upper"])]
    lower = [None if v is None else max(v, -100.0) for v in _values(frame["lower"])]
    traces = []
    for first, last in _runs([v is not None and u is not None for v, u in zip(nps, upper, strict=True)]):
        span = range(first, last + 1)
        # One closed shape per run of drawn points: along the upper bounds, back along the lower ones.
        band_x = [x[i] for i in span] + [x[i] for i in reversed(span)]
        band_y = [upper[i] for i in span] + [lower[i] for i in reversed(span)]
        traces.append(
            go.Scatter(
                x=band_x,
                y=band_y,
                mode="lines",
                fill="toself",
                fillcolor=BRAND_BAND,
                line={"width": 0},
                hoverinfo="skip",
                name=_("95% margin of error"),
                legendgroup="band",
                showlegend=not traces,
            )
        )
    traces.append(
        go.Scatter(
            x=x,
            y=nps,
            mode="lines+markers",
            name=_("NPS"),
            line={"color": BRAND, "width": 3},
            marker={"size": 8, "color": BRAND},
            text=hover,
            hovertemplate="%{x}<br>%{text}<extra></extra>",
        )
    )
    return _figure(
        traces, xaxis={"type": "category"}, yaxis={"title": {"text": _("NPS")}, "range": [-100, 100], "zeroline": True}
    )


def _score_trend(frame: pd.DataFrame, column: str, name: str, y_range: list[float], shown) -> Figure | None:
    if frame.empty or not frame["responses"].any():
        return None
    values = _shown(frame, column)
    text = [
        (_("%(value)s (n = %(n)s)") % {"value": shown(v), "n": display.number(n, 0)}) if v is not None else _("no data")
        for v, n in zip(values, frame["responses"], strict=True)
    ]
    trace = go.Scatter(
        x=_buckets(frame),
        y=values,
        mode="lines+markers",
        name=name,
        line={"color": BRAND, "width": 3},
        marker={"size": 8, "color": BRAND},
        text=text,
        hovertemplate="%{x}<br>%{text}<extra></extra>",
    )
    return _figure(
        [trace], xaxis={"type": "category"}, yaxis={"title": {"text": name}, "range": y_range}, showlegend=False
    )


def csat_trend(frame: pd.DataFrame) -> Figure | None:
    return _score_trend(frame, "csat", _("CSAT %"), [0, 100], display.percent)


def ces_trend(frame: pd.DataFrame) -> Figure | None:
    return _score_trend(
        frame,
        "ces_mean",
        _("CES (mean, %(scale)s)") % {"scale": scale_text("ces")},
        list(SCALES["ces"]),
        lambda v: display.number(v, 2),
    )


def score_distribution(frame: pd.DataFrame) -> Figure | None:
    """Bars for every NPS score, coloured by category (detractor red, passive grey, promoter green)."""
    if frame.empty or not frame["responses"].any():
        return None
    colors = [CATEGORY_COLORS[c] for c in frame["category"]]
    trace = go.Bar(
        x=frame["score"].tolist(),
        y=frame["responses"].tolist(),
        marker={"color": colors},
        customdata=[category_label(c) for c in frame["category"]],
        hovertemplate=_("Score %{x}: %{y} responses") + " (%{customdata})<extra></extra>",
    )
    return _figure(
        [trace],
        showlegend=False,
        bargap=0.15,
        xaxis={"title": {"text": _("Likelihood to recommend (%(scale)s)") % {"scale": scale_text("nps")}}, "dtick": 1},
        yaxis=_count_axis(frame["responses"].tolist(), title={"text": _("Responses")}),
    )


def nps_breakdown(frame: pd.DataFrame, label_of=None) -> Figure | None:
    """100 % stacked horizontal bars of detractors / passives / promoters per key; a key with too
    few responses keeps its bar, faded and marked †."""
    if frame.empty:
        return None
    key = frame.columns[0]
    labels = [label_of(k) if label_of else str(k) for k in frame[key]]
    labels = _mark_too_few(labels, frame["too_few"].tolist())
    opacity = [FADED if few else 1.0 for few in frame["too_few"]]
    nps_text = [
        _("NPS %(score)s, n = %(n)s") % {"score": display.number(s, 1, signed=True), "n": display.number(n, 0)}
        if s is not None
        else ""
        for s, n in zip(_values(frame["nps"]), frame["responses"], strict=True)
    ]
    traces = []
    for category, pct, count in (
        ("detractor", "detractors_pct", "detractors"),
        ("passive", "passives_pct", "passives"),
        ("promoter", "promoters_pct", "promoters"),
    ):
        traces.append(
            go.Bar(
                y=labels,
                x=frame[pct].round(1).tolist(),
                orientation="h",
                name=category_label(category),
                marker={"color": CATEGORY_COLORS[category], "opacity": opacity},
                customdata=list(
                    zip(
                        [display.percent(v) for v in frame[pct]],
                        [display.number(v, 0) for v in frame[count]],
                        nps_text,
                        strict=True,
                    )
                ),
                hovertemplate="%{y}: %{customdata[0]} (%{customdata[1]})<br>%{customdata[2]}<extra>"
                + category_label(category)
                + "</extra>",
            )
        )
    height = max(160, 48 * len(labels) + 70)
    return _figure(
        traces,
        barmode="stack",
        height=height,
        xaxis={"range": [0, 100], "ticksuffix": " %"},
        yaxis={"autorange": "reversed"},
    )


def key_metric_links(frame: pd.DataFrame) -> Figure | None:
    """Spearman's rho of each key metric with overall experience, labelled with n."""
    links = frame[frame["metric"] != "overall"]
    if links.empty or links["rho_with_overall"].isna().all():
        return None
    rho = _values(links["rho_with_overall"])
    few = [is_too_few(None if pd.isna(n) else int(n)) for n in links["n"]]
    labels = _mark_too_few([key_metric_label(m) for m in links["metric"]], few)
    text = [
        (f"ρ = {display.number(r, 2)} (n = {display.number(n, 0)})" if r is not None else _("no data"))
        for r, n in zip(rho, links["n"].tolist(), strict=True)
    ]
    colors = [BRAND if (r or 0) >= 0 else DETRACTOR for r in rho]
    trace = go.Bar(
        y=labels,
        x=rho,
        orientation="h",
        text=text,
        textposition="none",
        marker={"color": colors, "opacity": [FADED if f else 1.0 for f in few]},
        hovertemplate="%{y}<br>%{text}<extra></extra>",
    )
    return _figure(
        [trace],
        showlegend=False,
        height=220,
        xaxis={"range": [-1, 1], "title": {"text": _("Spearman's ρ")}},  # the help says with what
        yaxis={"autorange": "reversed"},
    )


def driver_importance(frame: pd.DataFrame) -> Figure | None:
    """Importance (rho with NPS) against performance (mean rating), one labelled point per attribute."""
    points = frame.dropna(subset=["importance", "mean"])
    if points.empty:
        return None
    few = [is_too_few(int(n)) for n in points["n"]]
    traces = [
        go.Scatter(
            x=points["mean"].round(2).tolist(),
            y=points["importance"].round(3).tolist(),
            mode="markers+text",
            text=_mark_too_few(points["label"].tolist(), few),
            textposition="top center",
            marker={
                "size": 14,
                "color": BRAND,
                "opacity": [FADED if f else 1.0 for f in few],
                "line": {"width": 1, "color": "#fff"},
            },
            customdata=[
                _("mean %(mean)s, ρ = %(rho)s (n = %(n)s)")
                % {"mean": display.number(m, 2), "rho": display.number(r, 2), "n": display.number(n, 0)}
                for m, r, n in zip(points["mean"], points["importance"], points["n"], strict=True)
            ],
            hovertemplate="%{text}<br>%{customdata}<extra></extra>",
        )
    ]
    x_mid, y_mid = float(points["mean"].median()), float(points["importance"].median())
    shapes = [
        {
            "type": "line",
            "x0": x_mid,
            "x1": x_mid,
            "yref": "paper",
            "y0": 0,
            "y1": 1,
            "line": {"color": PASSIVE, "dash": "dot", "width": 1},
        },
        {
            "type": "line",
            "y0": y_mid,
            "y1": y_mid,
            "xref": "paper",
            "x0": 0,
            "x1": 1,
            "line": {"color": PASSIVE, "dash": "dot", "width": 1},
        },
    ]
    annotations = [
        {
            "text": _("Fix first: important, rated low"),
            "xref": "paper",
            "yref": "paper",
            "x": 0,
            "y": 1,
            "xanchor": "left",
            "yanchor": "top",
            "showarrow": False,
            "font": {"size": 11, "color": DETRACTOR},
        }
    ]
    lo, hi = float(points["mean"].min()), float(points["mean"].max())
    pad = max(0.15, (hi - lo) * 0.2)
    return _figure(
        traces,
        showlegend=False,
        shapes=shapes,
        annotations=annotations,
        xaxis={
            "title": {"text": _("Performance: mean rating (%(scale)s)") % {"scale": scale_text("attribute")}},
            "range": [lo - pad, hi + pad],
        },
        yaxis={"title": {"text": _("Importance: ρ with NPS")}},
    )


def attribute_ratings(frame: pd.DataFrame) -> Figure | None:
    if frame.empty:
        return None
    labels = _mark_too_few(frame["label"].tolist(), frame["too_few"].tolist())
    opacity = [FADED if few else 1.0 for few in frame["too_few"]]
    trace = go.Bar(
        y=labels,
        x=frame["mean"].round(2).tolist(),
        orientation="h",
        text=[display.number(m, 2) for m in frame["mean"]],
        textposition="auto",
        marker={"color": BRAND, "opacity": opacity},
        customdata=[display.number(n, 0) for n in frame["responses"]],
        hovertemplate="%{y}: %{text} (n = %{customdata})<extra></extra>",
    )
    return _figure(
        [trace],
        showlegend=False,
        height=max(180, 44 * len(labels) + 60),
        xaxis={
            "range": list(SCALES["attribute"]),
            "title": {"text": _("Mean rating (%(scale)s)") % {"scale": scale_text("attribute")}},
        },
        yaxis={"autorange": "reversed"},
    )


# --- customer charts -------------------------------------------------------------------------------


def customer_trend(frame: pd.DataFrame) -> Figure | None:
    """New and lost customers as bars, the net as a line."""
    if frame.empty or not (frame["new"].any() or frame["lost"].any()):
        return None
    x = _buckets(frame)
    traces = [
        go.Bar(x=x, y=frame["new"].tolist(), name=_("New"), marker={"color": PROMOTER}),
        go.Bar(x=x, y=frame["lost"].tolist(), name=_("Lost"), marker={"color": DETRACTOR}),
        go.Scatter(
            x=x, y=frame["net"].tolist(), name=_("Net"), mode="lines+markers", line={"color": BRAND, "width": 3}
        ),
    ]
    return _figure(
        traces,
        barmode="group",
        hovermode="x unified",
        xaxis={"type": "category"},
        yaxis=_count_axis([*frame["new"], *frame["lost"]], title={"text": _("Customers")}),
    )


def churn_trend(frame: pd.DataFrame) -> Figure | None:
    """Churn rate per bucket on one axis from zero; retention is its complement, given in the hover text
    (a second axis near 100 % would draw the same line upside down with ticks like 99.945 %)."""
    if frame.empty or frame["churn_rate"].isna().all():
        return None
    hover = [
        _("churn %(churn)s · retention %(retention)s · %(lost)s lost of %(at_start)s")
        % {
            "churn": display.percent(c),
            "retention": display.percent(r),
            "lost": display.number(lost, 0),
            "at_start": display.number(n, 0),
        }
        if c is not None
        else _("no data")
        for c, r, lost, n in zip(
            _values(frame["churn_rate"]),
            _values(frame["retention_rate"]),
            frame["lost"],
            frame["active_at_start"],
            strict=True,
        )
    ]
    trace = go.Scatter(
        x=_buckets(frame),
        y=_values(frame["churn_rate"]),
        name=_("Churn rate"),
        mode="lines+markers",
        line={"color": DETRACTOR, "width": 3},
        text=hover,
        hovertemplate="%{x}<br>%{text}<extra></extra>",
    )
    return _figure(
        [trace],
        showlegend=False,
        xaxis={"type": "category"},
        yaxis={"title": {"text": _("Churn rate")}, "ticksuffix": " %", "rangemode": "tozero"},
    )


def lost_reasons(frame: pd.DataFrame) -> Figure | None:
    if frame.empty:
        return None
    trace = go.Bar(
        y=frame["reason"].tolist(),
        x=frame["lost"].tolist(),
        orientation="h",
        marker={"color": DETRACTOR},
        text=frame["lost"].tolist(),
        textposition="auto",
        customdata=[_("value lost %(value)s") % {"value": display.money(v)} for v in frame["value"]],
        hovertemplate="%{y}: %{x}<br>%{customdata}<extra></extra>",
    )
    return _figure(
        [trace],
        showlegend=False,
        height=max(180, 36 * len(frame) + 60),
        xaxis=_count_axis(frame["lost"].tolist(), title={"text": _("Lost customers")}),
        yaxis={"autorange": "reversed"},
    )


def referrals_by_segment(frame: pd.DataFrame) -> Figure | None:
    if frame.empty or not frame["referrals"].any():
        return None
    trace = go.Bar(
        x=frame["segment"].tolist(),
        y=frame["referrals"].tolist(),
        marker={"color": BRAND},
        text=frame["referrals"].tolist(),
        textposition="auto",
        hovertemplate="%{x}: %{y}<extra></extra>",
    )
    return _figure(
        [trace],
        showlegend=False,
        height=260,
        yaxis=_count_axis(frame["referrals"].tolist(), title={"text": _("Referrals")}),
    )


def segment_sankey(frame: pd.DataFrame, order: list[str] | None = None) -> Figure | None:
    """From-segment nodes on the left, to-segment nodes on the right; upgrades green, downgrades red."""
    if frame.empty:
        return None
    names = list(order or [])
    names += [n for n in pd.unique(pd.concat([frame["from"], frame["to"]])) if n not in names]
    rank = {name: i for i, name in enumerate(names)}  # 0 is the most valuable segment
    sources = [n for n in names if n in set(frame["from"])]
    targets = [n for n in names if n in set(frame["to"])]
    labels = [_("%(segment)s (from)") % {"segment": n} for n in sources] + [
        _("%(segment)s (to)") % {"segment": n} for n in targets
    ]
    colors = [SEGMENT_PALETTE[rank[n] % len(SEGMENT_PALETTE)] for n in sources + targets]
    link_colors = [
        "rgba(26, 152, 80, 0.45)"
        if rank[t] < rank[f]
        else "rgba(215, 48, 39, 0.45)"
        if rank[t] > rank[f]
        else "rgba(158, 158, 158, 0.45)"
        for f, t in zip(frame["from"], frame["to"], strict=True)
    ]
    trace = go.Sankey(
        arrangement="fixed",
        node={
            "label": labels,
            "color": colors,
            "pad": 18,
            "thickness": 16,
            "line": {"width": 0},
            "x": [0.01] * len(sources) + [0.99] * len(targets),
            "y": [(i + 0.5) / len(sources) for i in range(len(sources))]
            + [(i + 0.5) / len(targets) for i in range(len(targets))],
        },
        link={
            "source": [sources.index(f) for f in frame["from"]],
            "target": [len(sources) + targets.index(t) for t in frame["to"]],
            "value": frame["moves"].tolist(),
            "color": link_colors,
            "hovertemplate": "%{source.label} → %{target.label}: %{value}<extra></extra>",
        },
    )
    return _figure([trace], showlegend=False, height=340, margin={"l": 8, "r": 8, "t": 8, "b": 8})


# --- combined charts -------------------------------------------------------------------------------


def churn_by_nps_category(frame: pd.DataFrame) -> Figure | None:
    if frame.empty or not frame["at_start"].any():
        return None
    rates = _values(frame["churn_rate"])
    trace = go.Bar(
        x=[category_label(c) for c in frame["category"]],
        y=rates,
        marker={"color": [CATEGORY_COLORS[c] for c in frame["category"]]},
        text=[display.percent(r) if r is not None else _("no data") for r in rates],
        textposition="auto",
        customdata=[
            _("lost %(lost)s of %(at_start)s at start")
            % {"lost": display.number(lost, 0), "at_start": display.number(at_start, 0)}
            for at_start, lost in zip(frame["at_start"], frame["lost"], strict=True)
        ],
        hovertemplate="%{x}: %{text}<br>%{customdata}<extra></extra>",
    )
    return _figure(
        [trace],
        showlegend=False,
        height=300,
        yaxis={"title": {"text": _("Churn rate")}, "ticksuffix": " %", "rangemode": "tozero"},
    )


def referrals_by_nps_category(frame: pd.DataFrame) -> Figure | None:
    if frame.empty or not frame["referrals"].any():
        return None
    trace = go.Bar(
        x=[category_label(c) for c in frame["category"]],
        y=frame["referrals"].tolist(),
        marker={"color": [CATEGORY_COLORS[c] for c in frame["category"]]},
        text=frame["referrals"].tolist(),
        textposition="auto",
        hovertemplate="%{x}: %{y}<extra></extra>",
    )
    return _figure(
        [trace],
        showlegend=False,
        height=300,
        yaxis=_count_axis(frame["referrals"].tolist(), title={"text": _("Referrals")}),
    )


def value_by_nps_category(frame: pd.DataFrame) -> Figure | None:
    """Active customers per category (bars) and their mean value (diamonds, right axis)."""
    if frame.empty or not frame["customers"].any():
        return None
    x = [category_label(c) for c in frame["category"]]
    traces = [
        go.Bar(
            x=x,
            y=frame["customers"].tolist(),
            name=_("Customers"),
            marker={"color": [CATEGORY_COLORS[c] for c in frame["category"]]},
            hovertemplate="%{x}: %{y}<extra>" + _("Customers") + "</extra>",
        ),
        go.Scatter(
            x=x,
            y=_values(frame["mean_value"]),
            name=_("Mean value"),
            mode="markers",
            yaxis="y2",
            marker={"symbol": "diamond", "size": 13, "color": BRAND, "line": {"width": 1, "color": "#fff"}},
            customdata=[display.money(v) for v in frame["mean_value"]],
            hovertemplate="%{x}: %{customdata}<extra>" + _("Mean value") + "</extra>",
        ),
    ]
    return _figure(
        traces,
        height=300,
        yaxis=_count_axis(frame["customers"].tolist(), title={"text": _("Customers")}),
        yaxis2={
            "title": {"text": _("Mean value (%(currency)s)") % {"currency": display.currency()}},
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
            "rangemode": "tozero",
            "automargin": True,
            "fixedrange": True,
        },
    )


# --- sparklines ------------------------------------------------------------------------------------


def _sparkline(traces: list, **layout) -> Figure:
    return _figure(
        traces,
        height=56,
        showlegend=False,
        margin={"l": 0, "r": 0, "t": 7, "b": 7},  # room for the scale labels at the top and bottom
        **{"xaxis": {"visible": False}, "yaxis": {"visible": False}, "hovermode": "x", **layout},
    )


def nps_sparkline(frame: pd.DataFrame) -> Figure | None:
    """The NPS per bucket on the whole scale (−100 to 100, labelled), so a small wobble looks small."""
    nps = [] if frame.empty else _shown(frame, "nps")
    if all(v is None for v in nps):
        return None
    return _sparkline(
        [
            go.Scatter(
                x=_buckets(frame),
                y=nps,
                mode="lines+markers",
                line={"color": BRAND, "width": 2},
                marker={"size": 4},
                customdata=[display.number(v, 1, signed=True) for v in nps],
                hovertemplate="%{x}: NPS %{customdata}<extra></extra>",
            )
        ],
        yaxis={
            "visible": True,
            "range": [-100, 100],
            "tickvals": [-100, 0, 100],
            "ticktext": ["−100", "0", "100"],
            "tickfont": {"size": 9},
            "side": "right",
            "showgrid": False,
            "zeroline": True,
        },
    )


def new_lost_sparkline(frame: pd.DataFrame) -> Figure | None:
    if frame.empty or not (frame["new"].any() or frame["lost"].any()):
        return None
    x = _buckets(frame)
    return _sparkline(
        [
            go.Bar(
                x=x,
                y=frame["new"].tolist(),
                name=_("New"),
                marker={"color": PROMOTER},
                hovertemplate="%{x}: %{y}<extra>" + _("New") + "</extra>",
            ),
            go.Bar(
                x=x,
                y=[-v for v in frame["lost"].tolist()],
                name=_("Lost"),
                marker={"color": DETRACTOR},
                customdata=frame["lost"].tolist(),
                hovertemplate="%{x}: %{customdata}<extra>" + _("Lost") + "</extra>",
            ),
        ],
        barmode="relative",
        bargap=0.25,
    )


# --- value & retention -------------------------------------------------------------------------------


def _translucent(color: str, alpha: float) -> str:
    red, green, blue = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {alpha})"


def retention_curves(frame: pd.DataFrame) -> Figure | None:
    """One Kaplan–Meier step curve per NPS category (retention %, by days since the answer) inside its
    95 % confidence band; a category with too few customers gets no curve (the note says so)."""
    if frame.empty:
        return None
    traces = []
    for category, rows in frame.groupby("category", sort=False):
        if rows["too_few"].iloc[0] or not rows["customers"].iloc[0]:
            continue
        color, name = CATEGORY_COLORS[category], category_label(category)
        days = rows["day"].tolist()
        pct = {c: [None if v is None else 100 * v for v in _values(rows[c])] for c in ("retention", "lower", "upper")}
        band = {"x": days, "mode": "lines", "line": {"width": 0, "shape": "hv"}, "hoverinfo": "skip",
                "legendgroup": category, "showlegend": False}  # fmt: skip
        traces.append(go.Scatter(y=pct["upper"], name=name, **band))
        traces.append(
            go.Scatter(y=pct["lower"], name=name, fill="tonexty", fillcolor=_translucent(color, 0.15), **band)
        )
        # One hover template per curve, filled by plotly from customdata: a curve holds a step per day
        # with a loss or a censoring (about a thousand over three years), too many to format one by one.
        hover = _("%(category)s, day %(day)s: %(value)s (95%% CI %(low)s–%(high)s), %(n)s followed") % {
            "category": name,
            "day": "%{x}",
            "value": "%{y:.1f}\u00a0%",
            "low": "%{customdata[0]:.1f}\u00a0%",
            "high": "%{customdata[1]:.1f}\u00a0%",
            "n": "%{customdata[2]:,}",
        }
        bounds = zip(pct["lower"], pct["upper"], rows["at_risk"].tolist(), strict=True)
        traces.append(
            go.Scatter(
                x=days,
                y=pct["retention"],
                name=name,
                mode="lines",
                line={"color": color, "width": 3, "shape": "hv"},
                legendgroup=category,
                customdata=[list(b) for b in bounds],
                hovertemplate=hover + "<extra></extra>",
            )
        )
    if not traces:
        return None
    return _figure(
        traces,
        height=360,
        xaxis={"title": {"text": _("Days since the answer")}, "rangemode": "tozero"},
        yaxis={"title": {"text": _("Still customers")}, "ticksuffix": " %", "range": [0, 101]},
    )


# The retention chart's text alternative reads the curves every this many days: a row per step would be
# a table of a thousand rows, of no use to a screen reader and slow to write.
RETENTION_TABLE_STEP_DAYS = 30


def retention_table(frame: pd.DataFrame) -> dict | None:
    """The drawn retention curves as a table (``figure_table``'s shape): retention every
    RETENTION_TABLE_STEP_DAYS days from the answer, a column per drawn category; "—" past a curve's
    longest follow-up."""
    drawn = frame[~frame["too_few"] & (frame["customers"] > 0)] if not frame.empty else frame
    if drawn.empty:
        return None
    days = list(range(0, int(drawn["day"].max()) + 1, RETENTION_TABLE_STEP_DAYS))
    columns, cells = [], []
    for category, rows in drawn.groupby("category", sort=False):
        steps, values = rows["day"].to_numpy(), rows["retention"].tolist()
        # The step curve is right-continuous: at day d, the last step on or before d.
        found = np.searchsorted(steps, days, side="right") - 1
        columns.append(category_label(category))
        cells.append(
            [display.percent(100 * values[i]) if day <= steps[-1] else "—" for day, i in zip(days, found, strict=True)]
        )
    return {
        "columns": [_("Days since the answer"), *columns],
        "rows": [[display.number(day, 0), *(column[n] for column in cells)] for n, day in enumerate(days)],
    }


def churn_calibration(frame: pd.DataFrame) -> Figure | None:
    """Calibration of the churn-risk model on its out-of-time test: per tenth of the customers ordered by
    predicted risk, the mean predicted risk against the share lost (%), beside the diagonal a perfectly
    calibrated model would follow."""
    if frame.empty:
        return None
    predicted = [100 * v for v in frame["predicted"].tolist()]
    observed = [100 * v for v in frame["observed"].tolist()]
    top = max([*predicted, *observed, 1.0]) * 1.05
    text = [
        _("Tenth %(decile)s: predicted %(predicted)s, lost %(observed)s (n = %(n)s)")
        % {"decile": d, "predicted": display.percent(p), "observed": display.percent(o), "n": display.number(n, 0)}
        for d, p, o, n in zip(frame["decile"], predicted, observed, frame["n"], strict=True)
    ]
    return _figure(
        [
            go.Scatter(
                x=[0, top],
                y=[0, top],
                mode="lines",
                name=_("Perfect calibration"),
                line={"color": PASSIVE, "dash": "dot", "width": 1},
                hoverinfo="skip",
            ),
            go.Scatter(
                x=predicted,
                y=observed,
                mode="lines+markers",
                name=_("Customers by tenth of predicted risk"),
                line={"color": BRAND, "width": 2},
                marker={"size": 8},
                text=text,
                hovertemplate="%{text}<extra></extra>",
            ),
        ],  # fmt: skip
        height=320,
        xaxis={"title": {"text": _("Predicted risk")}, "ticksuffix": " %", "range": [0, top]},
        yaxis={"title": {"text": _("Lost within a year")}, "ticksuffix": " %", "range": [0, top]},
    )


def retention_note(frame: pd.DataFrame) -> str:
    """Which categories have too few customers to draw."""
    if frame.empty:
        return ""
    few = frame[frame["too_few"] & (frame["customers"] > 0)].drop_duplicates("category")
    if few.empty:
        return ""
    return _("No curve for %(categories)s: fewer than %(n)s customers.") % {
        "categories": ", ".join(category_label(c) for c in few["category"]),
        "n": min_responses(),
    }


def customer_scores(frame: pd.DataFrame) -> Figure | None:
    """One customer's NPS, CSAT and CES answers over time (``frame``: submitted_at, nps, csat, ces),
    each on its own scale, so a single axis from 0 to 10 holds them all; hover gives the scale."""
    if frame.empty or frame[["nps", "csat", "ces"]].isna().all().all():
        return None
    traces = []
    for column, name, color in (("nps", _("NPS"), BRAND), ("csat", _("CSAT"), PROMOTER), ("ces", _("CES"), PASSIVE)):
        shown = frame[frame[column].notna()]
        if shown.empty:
            continue
        traces.append(
            go.Scatter(
                x=[t.isoformat() for t in shown["submitted_at"]],
                y=[int(v) for v in shown[column]],
                name=f"{name} ({scale_text(column)})",
                mode="lines+markers",
                line={"color": color, "width": 2},
                marker={"size": 7},
                hovertemplate="%{x|%d %b %Y}: %{y}<extra>" + f"{name} ({scale_text(column)})" + "</extra>",
            )
        )
    # A fortnight either side, so one answer (or a few close together) still sits on a readable date axis.
    margin = pd.Timedelta(days=15)
    span = [(frame["submitted_at"].min() - margin).isoformat(), (frame["submitted_at"].max() + margin).isoformat()]
    return _figure(
        traces,
        height=260,
        yaxis=_axis(range=[-0.5, 10.5], dtick=2),
        xaxis=_axis(type="date", range=span, tickformat="%d %b %Y"),
    )


def customer_value(frame: pd.DataFrame) -> Figure | None:
    """One customer's annual value over time (``frame``: at, value): the value each CRM event carried,
    then today's, as steps (the value holds until the next change)."""
    if len(frame) < 2:
        return None  # a single value is the figure on the page already
    money = [display.money(v) for v in frame["value"]]
    trace = go.Scatter(
        x=[t.isoformat() for t in frame["at"]],
        y=[float(v) for v in frame["value"]],
        customdata=money,
        name=_("Annual value"),
        mode="lines+markers",
        line={"color": BRAND, "width": 2, "shape": "hv"},
        marker={"size": 6},
        hovertemplate="%{x|%d %b %Y}: %{customdata}<extra></extra>",
    )
    return _figure(
        [trace],
        height=200,
        showlegend=False,
        yaxis=_axis(rangemode="tozero"),
        xaxis=_axis(type="date", tickformat="%b %Y"),
    )


# The text alternative of a chart: its data as a table that screen readers read (the drawing itself is
# an image to them). One builder for every figure the pages draw, from the figure's JSON alone.


def _plain(values) -> list:
    """A data array of the figure JSON as a list: plotly.py writes numpy arrays as typed base64 blocks."""
    if isinstance(values, dict) and "bdata" in values:
        import base64

        import numpy as np

        array = np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
        if values.get("shape"):
            array = array.reshape([int(n) for n in str(values["shape"]).split(",")])
        return array.tolist()
    if values is None:
        return []
    return list(values)


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return display.number(value, 0)
    if isinstance(value, float):
        return display.number(value, 0 if value.is_integer() else 1)
    return str(value)


def figure_table(figure: dict | None) -> dict | None:
    """The figure's data as {"columns": [...], "rows": [[...], ...]} (cells as shown), or None when it
    has nothing to tabulate. Category charts (bars, lines, markers) give one row per category and one
    column per trace; a pie gives label and value; a Sankey diagram gives from, to and count; a heatmap
    one row per y and one column per x. Traces that show no hover are decoration (a margin band) and
    are left out."""
    if not figure:
        return None
    traces = [t for t in figure.get("data", []) if t.get("hoverinfo") != "skip"]
    if not traces:
        return None
    kind = traces[0].get("type", "scatter")
    if kind == "sankey":
        trace = traces[0]
        labels = _plain(trace.get("node", {}).get("label"))
        link = trace.get("link", {})
        rows = [
            [str(labels[s]), str(labels[t]), _cell(v)]
            for s, t, v in zip(
                _plain(link.get("source")), _plain(link.get("target")), _plain(link.get("value")), strict=False
            )
        ]
        return {"columns": [_("From"), _("To"), _("Customers")], "rows": rows} if rows else None
    if kind == "pie":
        trace = traces[0]
        rows = [
            [str(label), _cell(v)]
            for label, v in zip(_plain(trace.get("labels")), _plain(trace.get("values")), strict=False)
        ]
        return {"columns": ["", trace.get("name") or _("Value")], "rows": rows} if rows else None
    if kind == "heatmap":
        trace = traces[0]
        xs, ys, zs = _plain(trace.get("x")), _plain(trace.get("y")), _plain(trace.get("z"))
        rows = [[str(y), *(_cell(v) for v in row)] for y, row in zip(ys, zs, strict=False)]
        return {"columns": ["", *(str(x) for x in xs)], "rows": rows} if rows else None
    keys: list = []
    columns: list[str] = []
    values: list[dict] = []
    for trace in traces:
        if trace.get("type", "scatter") not in {"scatter", "bar", "scattergl"}:
            continue
        x, y = _plain(trace.get("x")), _plain(trace.get("y"))
        category, value = (y, x) if trace.get("orientation") == "h" else (x, y)
        if not category:  # a bare list of values: their positions are the categories
            category = list(range(1, len(value) + 1))
        by_key = {}
        for key, v in zip(category, value, strict=False):
            key = str(key)
            if key not in by_key:
                by_key[key] = v
            if key not in keys:
                keys.append(key)
        columns.append(str(trace.get("name") or _("Value")))
        values.append(by_key)
    if not keys:
        return None
    layout = figure.get("layout", {})
    horizontal = traces[0].get("orientation") == "h"
    axis_title = (layout.get("yaxis" if horizontal else "xaxis") or {}).get("title") or {}
    header = axis_title.get("text", "") if isinstance(axis_title, dict) else str(axis_title)
    rows = [[key, *(_cell(column.get(key)) for column in values)] for key in keys]
    return {"columns": [header, *columns], "rows": rows}


# --- comments page ------------------------------------------------------------------------------------


def theme_share(frame: pd.DataFrame) -> Figure | None:
    """Themes by share of the analysed comments, each bar split by the comments' sentiment."""
    if frame.empty:
        return None
    mentions = frame["mentions"].replace(0, 1)
    traces = [
        go.Bar(
            y=frame["theme"].tolist(),
            x=(frame["share"] * frame[column] / mentions).round(2).tolist(),
            orientation="h",
            name=label,
            marker={"color": color},
            customdata=frame[column].tolist(),
            hovertemplate="%{y}: %{customdata} " + label + "<extra></extra>",
        )
        for column, label, color in (
            ("negative", _("negative"), DETRACTOR),
            ("neutral", _("neutral"), PASSIVE),
            ("positive", _("positive"), PROMOTER),
        )
    ]
    return _figure(
        traces,
        barmode="stack",
        height=max(200, 30 * len(frame) + 80),
        xaxis={"title": {"text": _("Share of comments (%)")}, "rangemode": "tozero"},
        yaxis={"autorange": "reversed"},
    )


def theme_impact(frame: pd.DataFrame) -> Figure | None:
    """Each theme's impact on NPS in points: below zero it pulls NPS down."""
    shown = frame.dropna(subset=["impact"]) if not frame.empty else frame
    if shown.empty:
        return None
    shown = shown.sort_values("impact")
    trace = go.Bar(
        y=shown["theme"].tolist(),
        x=shown["impact"].round(1).tolist(),
        orientation="h",
        marker={"color": [DETRACTOR if v < 0 else PROMOTER for v in shown["impact"]]},
        customdata=shown["nps_answers"].tolist(),
        hovertemplate="%{y}: %{x:+.1f} " + _("points") + " (n = %{customdata})<extra></extra>",
    )
    return _figure(
        [trace],
        showlegend=False,
        height=max(200, 30 * len(shown) + 60),
        xaxis={"title": {"text": _("Impact on NPS (points)")}, "zeroline": True, "zerolinecolor": TEXT},
    )


def theme_trend(frame: pd.DataFrame, top: int = 6) -> Figure | None:
    """The share of the most mentioned themes per bucket."""
    if frame.empty:
        return None
    leaders = frame.groupby("theme")["mentions"].sum().sort_values(ascending=False).index[:top]
    periods = list(dict.fromkeys(frame["period"]))
    traces = []
    for i, theme in enumerate(leaders):
        rows = frame[frame["theme"] == theme].set_index("period")
        traces.append(
            go.Scatter(
                x=periods,
                y=[None if p not in rows.index else round(float(rows.loc[p, "share"]), 2) for p in periods],
                mode="lines+markers",
                name=theme,
                line={"color": SEGMENT_PALETTE[i % len(SEGMENT_PALETTE)] if i < 4 else None},
                hovertemplate=theme + " %{x}: %{y:.1f}%<extra></extra>",
            )
        )
    return _figure(traces, height=300, yaxis={"title": {"text": _("Share of comments (%)")}, "rangemode": "tozero"})


def theme_by_segment(frame: pd.DataFrame) -> Figure | None:
    if frame.empty:
        return None
    table = frame.pivot_table(index="theme", columns="segment", values="share", aggfunc="sum").fillna(0)
    trace = go.Heatmap(
        z=table.round(1).to_numpy().tolist(),
        x=[s or _("no segment") for s in table.columns],
        y=table.index.tolist(),
        colorscale="Blues",
        hovertemplate="%{y} · %{x}: %{z:.1f}%<extra></extra>",
        colorbar={"title": {"text": "%"}},
    )
    return _figure([trace], height=max(220, 28 * len(table) + 80), yaxis={"autorange": "reversed"})


def sentiment_trend(frame: pd.DataFrame) -> Figure | None:
    if frame.empty or not frame["comments"].any():
        return None
    trace = go.Scatter(
        x=frame["period"].tolist(),
        y=_values(frame["net_sentiment"].round(1)),
        mode="lines+markers",
        line={"color": BRAND},
        customdata=frame["comments"].tolist(),
        hovertemplate="%{x}: %{y:+.1f} (n = %{customdata})<extra></extra>",
    )
    return _figure(
        [trace],
        showlegend=False,
        height=260,
        yaxis={"title": {"text": _("Net sentiment")}, "range": [-100, 100], "zeroline": True},
    )


# --- follow-up page -----------------------------------------------------------------------------------

COMPLAINT = "#c0392b"
INQUIRY = "#7fb2e5"


def _complaint_bars(labels: list[str], frame: pd.DataFrame, **layout) -> Figure | None:
    """Complaints and inquiries side by side per label (a category or a channel)."""
    if frame.empty or not (frame["complaints"].any() or frame["inquiries"].any()):
        return None
    traces = [
        go.Bar(
            x=labels,
            y=frame[column].tolist(),
            name=name,
            marker={"color": color},
            text=frame[column].tolist(),
            textposition="auto",
            hovertemplate="%{x}: %{y}<extra>" + name + "</extra>",
        )
        for column, name, color in (("complaints", _("Complaints"), COMPLAINT), ("inquiries", _("Inquiries"), INQUIRY))
    ]
    top = frame[["complaints", "inquiries"]].to_numpy().max()
    return _figure(traces, barmode="group", height=280, yaxis=_count_axis([int(top)]), **layout)


def complaints_by_category(frame: pd.DataFrame) -> Figure | None:
    return _complaint_bars(frame["label"].tolist(), frame) if not frame.empty else None


def channel_label(channel: str) -> str:
    return {
        "phone": _("Phone"),
        "email": _("Email"),
        "web": _("Web"),
        "in_person": _("In person"),
        "social": _("Social media"),
        "other": _("Other"),
    }.get(channel, channel)


def complaints_by_channel(frame: pd.DataFrame) -> Figure | None:
    return _complaint_bars([channel_label(c) for c in frame["channel"]], frame) if not frame.empty else None


def incident_group_label(group: str) -> str:
    return {"with_incident": _("After an incident"), "without_incident": _("No recent incident")}.get(group, group)


def incidents_and_satisfaction(frame: pd.DataFrame) -> Figure | None:
    """NPS of the two groups as bars, each labelled with its n; a group below the minimum is faded and
    carries no number (the small-sample rule of the tiles)."""
    if frame.empty or not frame["responses"].any():
        return None
    few = frame["too_few"].tolist()
    labels = _mark_too_few(
        [
            f"{incident_group_label(g)} (n = {display.number(n, 0)})"
            for g, n in zip(frame["group"], frame["responses"], strict=True)
        ],
        few,
    )
    values = [None if pd.isna(v) else v for v in frame["nps"]]
    trace = go.Bar(
        x=labels,
        y=[0 if v is None else v for v in values],
        marker={
            "color": [DETRACTOR if g == "with_incident" else BRAND for g in frame["group"]],
            "opacity": [FADED if f else 1 for f in few],
        },  # fmt: skip
        text=["" if f or v is None else display.number(v, 1, signed=True) for v, f in zip(values, few, strict=True)],
        textposition="auto",
        hoverinfo="x",
    )
    return _figure([trace], showlegend=False, height=260, yaxis={"title": {"text": _("NPS")}, "range": [-100, 100]})

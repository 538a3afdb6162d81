"""What the dashboard pages show, built from the datasets and metrics: the KPI cards, the charts with
their CSV links, the tables and the comment list of each page. The views parse the filters and render
what these return."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from urllib.parse import urlencode

import pandas as pd
from django.core.paginator import Paginator
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from churn.features import feature_label
from churn.selectors import NOT_TRAINED, customer_risk, risk_summary
from comments.highlight import highlighted
from comments.selectors import matched_words
from core import display
from core.definitions import (
    ADVOCACY_MIN_COMPONENTS,
    CATEGORIES,
    CATEGORY_WINDOW_DAYS,
    CHURN_RISK_DOWNGRADE_DAYS,
    CHURN_RISK_HIGH_MIN,
    CHURN_RISK_HORIZON_DAYS,
    CHURN_RISK_MEDIUM_MIN,
    CHURN_RISK_MIN_LOSSES,
    CHURN_RISK_NPS_DROP,
    CHURN_RISK_WEAK_AUC,
    CLV_CHURN_WINDOW_DAYS,
    CLV_LIFETIME_CAP_YEARS,
    COMPLAINT_RATE_PER,
    CONFIDENCE_LEVEL,
    CSAT_SATISFIED_MIN,
    DRIVER_SAMPLE_MAX,
    INCIDENT_CES_MAX,
    INCIDENT_CSAT_MAX,
    INCIDENT_WINDOW_DAYS,
    LOOP_CONTACT_DAYS,
    LOOP_OUTCOME_CHURN_DAYS,
    LOOP_OUTCOME_MIN_GROUP,
    NO_RESPONSE,
    REFERRAL_CONVERSION_DAYS,
    RETENTION_DAYS,
    SCALES,
    churn_risk_band,
    nps_category,
    nps_scores,
    scale_text,
)
from customers.models import Customer, Event
from customers.selectors import customer_events, customer_referrals_made
from metrics import combined, complaints, customers, drivers, loop, survey, survival, value
from metrics.filters import MetricFilters
from metrics.stats import is_too_few
from metrics.survey import NO_VALUE
from surveys.models import SurveyType, Touchpoint

from . import charts, datasets, selectors
from .forms import EXPLORER_FIELDS, ResponseFilterForm

# The dashboards' filter parameters (dashboards.views reads them with MetricFilterForm).
FILTER_FIELDS = (
    *("preset", "start", "end", "granularity", "segment", "survey", "survey_type", "touchpoint", "audience"),
    "compare",
)

# The API and the command default to the last 30 days; the pages default to the last 90 because a
# 30-day window of a typical customer base (and of the demo data) splits into too few responses per
# segment and per month to show anything but "too few responses". An explicit preset or start/end
# in the URL always wins, and the filter bar shows which period is in force.
PAGE_DEFAULT_PRESET = "last_90"
PAGE_DEFAULT_GRANULARITY = "month"


def page_filter_data(params: QueryDict) -> QueryDict:
    """A page's GET parameters with the pages' defaults filled in (the filter bar shows them): the default
    period when none is given, the granularity, and "compare with last year" for "this year"."""
    data = params.copy()
    if not any(data.get(key) for key in ("start", "end", "preset")):
        data["preset"] = PAGE_DEFAULT_PRESET
    if not data.get("granularity"):
        data["granularity"] = PAGE_DEFAULT_GRANULARITY
    if not data.get("compare") and not data.get("start") and data.get("preset") == "year":
        data["compare"] = "year"
    return data


COMMENTS_PER_PAGE = 25


class CountedPaginator(Paginator):
    """A Paginator told the number of objects (when known from elsewhere) instead of counting them."""

    def __init__(self, object_list, per_page, *, count: int | None = None, **kwargs) -> None:
        super().__init__(object_list, per_page, **kwargs)
        if count is not None:
            self.__dict__["count"] = count  # Paginator.count is a cached_property


@dataclass
class Chart:
    name: str
    title: str
    figure: dict | None
    csv_url: str
    note: str = ""
    help: str = ""
    dom_id: str = ""  # when one page draws the same data twice (a sparkline and its chart)
    empty: str = ""  # why there is nothing to draw, when it is not a lack of data
    table: dict | None = None  # the text alternative, when the figure's own points would not make one

    @property
    def script_id(self) -> str:
        return f"chart-{self.dom_id or self.name}-figure"

    @cached_property
    def data_table(self) -> dict | None:
        """The figure's data as a table, the chart's text alternative (dashboards/_chart_data.html)."""
        return self.table if self.table is not None else charts.figure_table(self.figure)


@dataclass
class Table:
    name: str
    title: str
    columns: list[tuple[str, str]]  # (label, kind): kind is text, int, money, pct, date, bool
    rows: list[list[tuple[object, str]]]
    csv_url: str
    help: str = ""


def csv_url(name: str, query: str) -> str:
    url = reverse("dashboards-export", args=[name])
    return f"{url}?{query}" if query else url


def _chart(
    name: str,
    title: str,
    frame: pd.DataFrame,
    builder,
    query: str,
    *,
    help: str = "",
    dom_id: str = "",
    empty: str = "",
    **kwargs,
) -> Chart:
    return Chart(
        name=name,
        title=title,
        figure=builder(frame, **kwargs),
        csv_url=csv_url(name, query),
        note=charts.too_few_note(frame),
        help=help,
        dom_id=dom_id,
        empty=empty,
    )


def _not_asked(asked: set[str], *kinds: str) -> str:
    """The message of a chart of a question the selected surveys do not ask ("" when one of them does)."""
    if any(kind in asked for kind in kinds):
        return ""
    labels = {"nps": _("NPS"), "csat": _("CSAT"), "ces": _("CES"), "attribute": _("attribute rating")}
    return _("The surveys these filters select ask no %(question)s question.") % {"question": labels[kinds[0]]}


def explorer_url(query: str, **extra) -> str:
    """The responses explorer behind a figure: the page's filters (``query``) plus the figure's own."""
    params = "&".join(part for part in (query, urlencode(extra)) if part)
    url = reverse("dashboards-responses")
    return f"{url}?{params}" if params else url


def _nps_drill(filters: MetricFilters, query: str) -> list[dict]:
    """Promoters, passives and detractors behind the NPS, each a link to its responses in the explorer."""
    counts = dict.fromkeys(CATEGORIES, 0)
    for row in survey.score_distribution(filters=filters, question="nps"):
        counts[nps_category(row["score"])] += row["count"]
    if not any(counts.values()):
        return []  # no NPS answer: nothing to drill into
    return [
        {
            "key": category,
            "label": charts.category_label(category),
            "n": display.number(counts[category], 0),
            "url": explorer_url(query, category=category),
        }
        for category in CATEGORIES
    ]


def _score_drill(frame: pd.DataFrame, query: str) -> list[dict]:
    """One link per NPS score of the distribution: the responses that gave it."""
    return [
        {
            "score": int(row["score"]),
            "n": display.number(row["responses"], 0),
            "css": row["category"],
            "url": explorer_url(query, nps_min=int(row["score"]), nps_max=int(row["score"])),
        }
        for row in frame.to_dict("records")
    ]


# --- formatting for the cards --------------------------------------------------------------------


def _change(
    value: float | int | None, *, decimals: int = 1, unit: str = "", good_when_up: bool = True, money: bool = False
) -> dict:
    if value is None or pd.isna(value):
        return {"text": _("no previous data"), "css": "text-body-secondary"}
    if display.is_zero(value, decimals):
        return {"text": _("= no change"), "css": "text-body-secondary"}
    arrow = "▲" if value > 0 else "▼"
    good = (value > 0) == good_when_up
    return {
        "text": f"{arrow} {display.money(value, signed=True) if money else display.number(value, decimals, signed=True)}"
        f"{unit}",
        "css": "text-success" if good else "text-danger",
    }


def _card(
    figure: dict, key: str, label: str, *, value, sub, change: dict, n: int | None = None, empty: str = ""
) -> dict:
    """A KPI card: "no data" without a figure, "too few responses" below the minimum ``n``, else the
    figure (``value`` and ``sub`` are functions of it)."""
    card = {"key": key, "label": label, "raw": figure["value"], "change": change, "state": "ok"}
    if figure["value"] is None:
        return {**card, "value": _("no data"), "state": "no_data", "sub": empty}
    if n is not None and is_too_few(n):
        # A figure too small to show has no change to show either.
        hidden = {"text": "", "css": "text-body-secondary"}
        return {**card, "value": _("too few responses (n = %(n)s)") % {"n": n}, "state": "too_few", "change": hidden}
    return {**card, "value": value(figure), "sub": sub(figure)}


def _customers_sub(figure: dict) -> str:
    """How the base got from the start to the end of the period; with a segment filter the moves too,
    so the sum on the card is the figure on it."""
    n = {key: display.number(figure[key], 0) for key in ("at_start", "new", "lost", "moved_in", "moved_out")}
    if figure["moved_in"] or figure["moved_out"]:
        return (
            _("%(at_start)s at start + %(new)s new − %(lost)s lost + %(moved_in)s moved in − %(moved_out)s moved out")
            % n
        )
    return _("%(at_start)s at start + %(new)s new − %(lost)s lost") % n


def _survey_change(figure: dict, **kwargs) -> dict:
    """The change of a survey figure, unless the period before rests on too few answers to compare."""
    if figure["previous"] is not None and is_too_few(figure["previous_responses"]):
        return {"text": _("too few responses before to compare"), "css": "text-body-secondary"}
    return _change(figure["change"], **kwargs)


def _kpi_cards(frame: pd.DataFrame, asked: set[str]) -> list[dict]:
    row = {r["metric"]: r for r in frame.to_dict("records")}
    nps, rr, refs = row["nps"], row["response_rate"], row["referrals"]
    nps_change = _survey_change(nps)
    if nps["significant"] is not None and not is_too_few(nps["previous_responses"]):
        nps_change["text"] += " " + (_("significant") if nps["significant"] else _("not significant"))
        nps_change["css"] = nps_change["css"] if nps["significant"] else "text-body-secondary"
    benchmark = (
        "" if rr["benchmark"] is None else " · " + _("benchmark %(b)s %%") % {"b": display.number(rr["benchmark"], 0)}
    )
    conversion = display.percent(refs["conversion_rate"]) if refs["conversion_rate"] is not None else _("no data")
    cards = [
        _card(nps, "nps", _("NPS"), n=nps["responses"], change=nps_change,
              value=lambda f: display.number(f["value"], 1, signed=True),
              sub=lambda f: _("± %(moe)s (95%%) · n = %(n)s") % {"moe": display.number(f["margin_of_error"]), "n": f["responses"]}),
        _card(row["csat"], "csat", _("CSAT"), n=row["csat"]["responses"], change=_survey_change(row["csat"], unit=" pts"),
              value=lambda f: display.percent(f["value"]),
              sub=lambda f: _("mean %(mean)s of 5 · n = %(n)s") % {"mean": display.number(f["mean"], 2), "n": f["responses"]}),
        _card(row["ces"], "ces", _("CES"), n=row["ces"]["responses"], change=_survey_change(row["ces"], decimals=2),
              value=lambda f: display.number(f["value"], 2),
              sub=lambda f: _("mean of 7 · %(easy)s %% easy · n = %(n)s")
              % {"easy": display.number(f["easy_pct"], 0), "n": f["responses"]}),
        _card(rr, "response_rate", _("Response rate"), change=_change(rr["change"], unit=" pts"),
              empty=_("no invitations sent in the period"), value=lambda f: display.percent(f["value"]),
              sub=lambda f: _("%(responses)s of %(sent)s invitations")
              % {"responses": display.number(f["responses"], 0), "sent": display.number(f["sent"], 0)} + benchmark),
        _card(row["customers"], "customers", _("Customers"), change=_change(row["customers"]["change"], decimals=0),
              value=lambda f: display.number(f["value"], 0),
              sub=_customers_sub),
        _card(row["churn_rate"], "churn_rate", _("Churn rate"),
              change=_change(row["churn_rate"]["change"], unit=" pts", good_when_up=False),
              empty=_("no customers at the start of the period"), value=lambda f: display.percent(f["value"]),
              sub=lambda f: _("%(lost)s lost of %(start)s") % {"lost": display.number(f["lost"], 0), "start": display.number(f["at_start"], 0)}),
        _card(row["net_growth"], "net_growth", _("Net growth"), change=_change(row["net_growth"]["change"], decimals=0),
              value=lambda f: display.number(f["value"], 0, signed=True),
              sub=lambda f: _("%(new)s new − %(lost)s lost") % {"new": display.number(f["new"], 0), "lost": display.number(f["lost"], 0)}),
        _card(refs, "referrals", _("Referrals"), change=_change(refs["change"], decimals=0),
              value=lambda f: display.number(f["value"], 0),
              sub=lambda f: _("%(rate)s converted within %(days)s days") % {"rate": conversion, "days": REFERRAL_CONVERSION_DAYS}),
        _card(row["revenue_at_risk"], "revenue_at_risk", _("Revenue at risk"),
              change=_change(row["revenue_at_risk"]["change"], decimals=0, good_when_up=False, money=True),
              value=lambda f: display.money(f["value"]),
              sub=lambda f: _("annual value of %(n)s detractor customers") % {"n": display.number(f["customers"], 0)}),
    ]  # fmt: skip
    for card in cards:
        if card["key"] in ("nps", "csat", "ces") and card["state"] == "no_data" and _not_asked(asked, card["key"]):
            card.update(value=_("not asked"), sub=_not_asked(asked, card["key"]), change={"text": "", "css": ""})
    return cards


CELL_FORMATS = {
    "int": lambda v: display.number(v, 0),
    "float": lambda v: display.number(v, 2),
    "pct": display.percent,
    "money": display.money,
}


def _cell(value, kind: str):
    """A table cell as (shown, kind): numbers and money formatted as on the cards, None as "—"."""
    if value is None or pd.isna(value):
        return (None, kind)
    return (CELL_FORMATS[kind](value) if kind in CELL_FORMATS else value, kind)


def _customer_cell(record: dict, column: str) -> tuple:
    """(name, the customer page's URL by CRM id) as a "link" cell; a blank name (erased) shows as such."""
    name = record[column] or _("personal data erased")
    return ((name, reverse("dashboards-customer-crm", args=[record["customer_id"]])), "link")


def _table(
    name: str, title: str, frame: pd.DataFrame, columns: list[tuple[str, str, str]], query: str, help: str = ""
) -> Table:
    """A table card: ``columns`` are (frame column, label, kind). A "customer" column shows the name
    as a link to the customer's page, found by the row's CRM id (``customer_id``)."""
    rows = [
        [_customer_cell(record, col) if kind == "customer" else _cell(record[col], kind) for col, _l, kind in columns]
        for record in frame.to_dict("records")
    ]
    return Table(
        name=name,
        title=title,
        columns=[(label, "text" if kind == "customer" else kind) for _c, label, kind in columns],
        rows=rows,
        csv_url=csv_url(name, query),
        help=help,
    )


def _dimension_label(choices) -> Callable[[str], str]:
    labels = dict(choices)
    return lambda key: _("no segment") if key == NO_VALUE else str(labels.get(key, key))


# --- pages ---------------------------------------------------------------------------------------


def overview(params: QueryDict, filters: MetricFilters, granularity: str, query: str) -> dict:
    nps_frame = datasets.nps_trend(filters, granularity)
    customer_frame = datasets.customer_trend(filters, granularity)
    asked = selectors.asked_questions(filters=filters)
    no_nps = _not_asked(asked, "nps")
    return {
        "cards": _kpi_cards(datasets.kpis(filters, granularity), asked),
        "nps_drill": _nps_drill(filters, query),
        "responses_url": explorer_url(query),
        "kpis_csv_url": csv_url("kpis", query),
        "nps_spark": _chart(
            "nps_trend", _("NPS trend"), nps_frame, charts.nps_sparkline, query, dom_id="nps_spark", empty=no_nps
        ),
        "customers_spark": _chart(
            "customer_trend",
            _("New vs lost customers"),
            customer_frame,
            charts.new_lost_sparkline,
            query,
            dom_id="customers_spark",
        ),
        "nps_trend": _chart(
            "nps_trend",
            _("NPS trend"),
            nps_frame,
            charts.nps_trend,
            query,
            help=_("The band is the 95% margin of error."),
            empty=no_nps,
        ),
        "customer_trend": _chart(
            "customer_trend", _("New, lost and net customers"), customer_frame, charts.customer_trend, query
        ),
    }


def _driver_weights_table(filters: MetricFilters, frame: pd.DataFrame, query: str) -> Table:
    """Key drivers by relative weight: each attribute's share of the NPS answer's explained variance with
    its 95 % bootstrap interval, beside its mean and Spearman's rho; not significant when its weight is
    no larger than a random variable's."""
    weights = drivers.driver_relative_weights(filters=filters)
    shown = frame.sort_values("relative_weight", ascending=False, na_position="last").copy()
    shown["driver"] = [
        label if significant is not False else _("%(attribute)s (not significant)") % {"attribute": label}
        for label, significant in zip(shown["label"], shown["significant"], strict=True)
    ]
    shown["interval"] = [
        None if pd.isna(low) else f"{display.number(low)}–{display.percent(high)}"
        for low, high in zip(shown["lower"], shown["upper"], strict=True)
    ]
    if weights.r_squared is None:
        note = _("Relative weights need at least a few responses that rated every attribute and answered NPS.")
    else:
        note = _(
            "Relative weights (Johnson): each attribute's share of the NPS variance the ratings explain "
            "(R² = %(r2)s), with its 95%% bootstrap interval; from %(n)s of %(eligible)s responses (a fixed "
            "random sample of at most %(max)s that rated every attribute). Not significant: no larger than "
            "a random variable's weight."
        ) % {
            "r2": display.number(weights.r_squared, 2),
            "n": display.number(weights.n, 0),
            "eligible": display.number(weights.eligible, 0),
            "max": display.number(DRIVER_SAMPLE_MAX, 0),
        }
    return _table(
        "driver_importance",
        _("Key drivers of NPS"),
        shown,
        [
            ("driver", _("Attribute"), "text"),
            ("mean", _("Mean"), "float"),
            ("importance", _("Spearman ρ"), "float"),
            ("relative_weight", _("Relative weight"), "pct"),
            ("interval", _("95% interval"), "interval"),
            ("weights_n", "n", "int"),
        ],
        query,
        help=note,
    )


def surveys(params: QueryDict, filters: MetricFilters, granularity: str, query: str) -> dict:
    key_frame = datasets.key_metrics(filters, granularity)
    driver_frame = datasets.driver_importance(filters, granularity)
    asked = selectors.asked_questions(filters=filters)
    no_nps = _not_asked(asked, "nps")
    key_tiles = []
    scales = {metric: SCALES[metric][1] for metric in ("nps", "likelihood_switch", "likelihood_repurchase", "overall")}
    for record in key_frame.to_dict("records"):
        mean, n = record["mean"], record["responses"]
        value = _("no data") if mean is None or pd.isna(mean) else display.number(mean, 1)
        link = record["rho_with_overall"]
        key_tiles.append(
            {
                "label": charts.key_metric_label(record["metric"]),
                "value": value,
                "scale": scales[record["metric"]],
                "n": n,
                "too_few": is_too_few(n),
                "has_value": not (mean is None or pd.isna(mean)),
                "link": None
                if link is None or pd.isna(link)
                else _("ρ = %(rho)s with overall (n = %(n)s)") % {"rho": display.number(link, 2), "n": record["n"]},
            }
        )

    category = params.get("category", "")
    category = category if category in CATEGORIES else ""
    q = params.get("q", "").strip()[:100]
    comment_list = selectors.survey_comments(filters=filters, category=category or None, q=q)
    # Without a text search the count comes from the daily rollups, not a count over every comment.
    count = None if q else survey.comment_count(filters=filters, category=category)
    comments = CountedPaginator(comment_list, COMMENTS_PER_PAGE, count=count).get_page(params.get("page"))
    for comment in comments:
        comment.badge = _comment_badge(comment)
    comment_query = urlencode([(k, v) for k, v in (("category", category), ("q", q)) if v])
    distribution = datasets.score_distribution(filters, granularity)
    return {
        "nps_trend": _chart(
            "nps_trend",
            _("NPS trend"),
            datasets.nps_trend(filters, granularity),
            charts.nps_trend,
            query,
            help=_("The band is the 95% margin of error."),
            empty=no_nps,
        ),
        "score_distribution": _chart(
            "score_distribution", _("Score distribution"), distribution, charts.score_distribution, query, empty=no_nps
        ),
        "score_drill": _score_drill(distribution, query) if distribution["responses"].sum() else [],
        "nps_drill": _nps_drill(filters, query),
        "by_segment": _chart(
            "nps_by_segment",
            _("By segment"),
            datasets.nps_by_segment(filters, granularity),
            charts.nps_breakdown,
            query,
            label_of=_dimension_label([]),
            empty=no_nps,
        ),
        "by_touchpoint": _chart(
            "nps_by_touchpoint",
            _("By touchpoint"),
            datasets.nps_by_touchpoint(filters, granularity),
            charts.nps_breakdown,
            query,
            label_of=_dimension_label(Touchpoint.choices),
            empty=no_nps,
        ),
        "by_survey_type": _chart(
            "nps_by_survey_type",
            _("By survey type"),
            datasets.nps_by_survey_type(filters, granularity),
            charts.nps_breakdown,
            query,
            label_of=_dimension_label(SurveyType.choices),
            empty=no_nps,
        ),
        "csat_trend": _chart(
            "csat_trend",
            _("CSAT trend"),
            datasets.csat_trend(filters, granularity),
            charts.csat_trend,
            query,
            help=_("Share of answers of %(low)s or more on the %(scale)s scale.")
            % {"low": CSAT_SATISFIED_MIN, "scale": scale_text("csat")},
            empty=_not_asked(asked, "csat"),
        ),
        "ces_trend": _chart(
            "ces_trend",
            _("CES trend"),
            datasets.ces_trend(filters, granularity),
            charts.ces_trend,
            query,
            help=_("Mean agreement, %(scale)s: higher is easier.") % {"scale": scale_text("ces")},
            empty=_not_asked(asked, "ces"),
        ),
        "key_links": _chart(
            "key_metrics",
            _("The three key metrics"),
            key_frame,
            charts.key_metric_links,
            query,
            help=_("Spearman's rank correlation with overall experience, over the responses that answered both."),
        ),
        "key_tiles": key_tiles,
        "driver_importance": _chart(
            "driver_importance",
            _("Driver importance × performance"),
            driver_frame,
            charts.driver_importance,
            query,
            help=_("Importance is the correlation of the attribute's rating with the NPS answer."),
            empty=_not_asked(asked, "attribute"),
        ),
        "driver_weights": _driver_weights_table(filters, driver_frame, query) if "attribute" in asked else None,
        "attribute_ratings": _chart(
            "attribute_ratings",
            _("Attribute ratings"),
            datasets.attribute_ratings(filters, granularity),
            charts.attribute_ratings,
            query,
            empty=_not_asked(asked, "attribute"),
        ),
        "comments": comments,
        "comment_category": category,
        "comment_q": q,
        "comment_query": comment_query,
        "comment_categories": [
            ("", _("All categories")),
            ("promoter", _("Promoters")),
            ("passive", _("Passives")),
            ("detractor", _("Detractors")),
        ],
    }


def _comment_badge(response) -> dict:
    """The score shown beside a comment: the NPS answer in its category's colour, else CSAT or CES."""
    if response.nps is not None:
        return {"text": response.nps, "css": nps_category(response.nps), "title": _("NPS answer")}
    for question, title in (("csat", "CSAT"), ("ces", "CES")):
        if getattr(response, question) is not None:
            return {"text": f"{getattr(response, question)}/{SCALES[question][1]}", "css": "other", "title": title}
    return {"text": "–", "css": "other", "title": ""}


def _segment_matrix(frame: pd.DataFrame, order: list[str]) -> dict:
    """The from → to counts as rows of a table, segments in rank order."""
    if frame.empty:
        return {"columns": [], "rows": []}
    names = [n for n in order if n in set(frame["from"]) | set(frame["to"])]
    names += [n for n in pd.unique(pd.concat([frame["from"], frame["to"]])) if n not in names]
    counts = {(f, t): m for f, t, m in zip(frame["from"], frame["to"], frame["moves"], strict=True)}
    rows = []
    for i, source in enumerate(names):
        cells = []
        for j, target in enumerate(names):
            count = counts.get((source, target), 0)
            kind = "same" if i == j else "up" if j < i else "down"
            cells.append({"count": count, "kind": kind if count else "zero"})
        rows.append({"segment": source, "cells": cells})
    return {"columns": names, "rows": rows}


def customer_base(params: QueryDict, filters: MetricFilters, granularity: str, query: str) -> dict:
    base = customers.customer_base(filters=filters)
    # The same arguments as the datasets below, so each is computed once for the page (shared_results).
    refs = customers.referrals(filters=filters)
    moves = customers.segment_moves(filters=filters)
    incident = customers.lost_after_incident(filters=filters)
    order = [name for name, _label in selectors.filter_choices()["segments"]]
    moves_frame = datasets.segment_moves(filters, granularity)
    pct = lambda v: _("no data") if v is None else display.percent(v)  # noqa: E731
    return {
        "stats": [
            {"label": _("Customers at start"), "value": display.number(base.at_start, 0)},
            {"label": _("New"), "value": display.number(base.new, 0), "css": "text-success"},
            {"label": _("Lost"), "value": display.number(base.lost, 0), "css": "text-danger"},
            *(
                [
                    {"label": _("Moved in"), "value": display.number(base.moved_in, 0), "key": "moved_in"},
                    {"label": _("Moved out"), "value": display.number(base.moved_out, 0), "key": "moved_out"},
                ]
                if filters.segment_id() is not None
                else []
            ),
            {"label": _("Customers at end"), "value": display.number(base.at_end, 0), "key": "customers_at_end"},
            {"label": _("Churn rate"), "value": pct(base.churn_rate), "key": "churn_rate"},
            {"label": _("Retention rate"), "value": pct(base.retention_rate)},
            {"label": _("Revenue churn"), "value": pct(base.revenue_churn)},
            {"label": _("Growth rate"), "value": pct(base.growth_rate)},
        ],
        "customer_trend": _chart(
            "customer_trend",
            _("New, lost and net customers"),
            datasets.customer_trend(filters, granularity),
            charts.customer_trend,
            query,
        ),
        "churn_trend": _chart(
            "churn_trend",
            _("Churn and retention"),
            datasets.churn_trend(filters, granularity),
            charts.churn_trend,
            query,
            help=_("Per bucket: lost ÷ customers at the bucket's start."),
        ),
        "lost_reasons": _chart(
            "lost_reasons",
            _("Why customers left"),
            datasets.lost_reasons(filters, granularity),
            charts.lost_reasons,
            query,
        ),
        "lost_customers": _table(
            "lost_customers",
            _("Lost customers"),
            datasets.lost_customers(filters, granularity),
            [
                ("name", _("Customer"), "customer"),
                ("segment", _("Segment"), "text"),
                ("lost_at", _("Lost on"), "date"),
                ("reason", _("Reason"), "text"),
                ("value", _("Value"), "money"),
            ],
            query,
        ),
        "referrals_by_segment": _chart(
            "referrals_by_segment",
            _("Referrals by segment"),
            datasets.referrals_by_segment(filters, granularity),
            charts.referrals_by_segment,
            query,
        ),
        "referral_conversion": pct(refs.conversion_rate),
        "referrals": refs,
        "top_referrers": _table(
            "top_referrers",
            _("Top referrers"),
            datasets.top_referrers(filters, granularity),
            [("name", _("Customer"), "customer"), ("referrals", _("Referrals"), "int")],
            query,
        ),
        "moves": moves,
        "segment_sankey": _chart(
            "segment_moves", _("Segment movement"), moves_frame, charts.segment_sankey, query, order=order
        ),
        "segment_matrix": _segment_matrix(moves_frame, order),
        "segment_moves_csv": csv_url("segment_moves", query),
        "incident": incident,
        "incident_window_days": INCIDENT_WINDOW_DAYS,
        "referral_conversion_days": REFERRAL_CONVERSION_DAYS,
        "incident_rate": pct(incident.rate),
        "lost_after_incident": _table(
            "lost_after_incident",
            _("Lost after a detractor answer or an incident"),
            datasets.lost_after_incident(filters, granularity),
            [
                ("name", _("Customer"), "customer"),
                ("lost_at", _("Lost on"), "date"),
                ("reason", _("Reason"), "text"),
                ("detractor", _("Detractor"), "bool"),
                ("incident", _("Survey incident"), "bool"),
                ("complaint", _("Complaint"), "bool"),
                ("operational", _("Operational incident"), "bool"),
            ],
            query,
            help=_(
                "Within the %(days)s days before the loss. A survey incident is a CES of %(ces)s or less or a "
                "CSAT of %(csat)s or less; a complaint is one logged by the customer (not an inquiry); an "
                "operational incident is a return, a claim or an invoice correction in the CRM."
            )
            % {"days": INCIDENT_WINDOW_DAYS, "ces": INCIDENT_CES_MAX, "csat": INCIDENT_CSAT_MAX},
        ),
    }


def combined_page(params: QueryDict, filters: MetricFilters, granularity: str, query: str) -> dict:
    risk = combined.revenue_at_risk(filters=filters)
    churn_frame = datasets.churn_by_nps_category(filters, granularity)
    return {
        "category_window_days": CATEGORY_WINDOW_DAYS,
        "risk": risk,
        "risk_day": combined.as_of_day(filters) - timedelta(days=1),  # the last day counted
        "risk_value": display.money(risk.value),
        "churn_by_category": _chart(
            "churn_by_nps_category",
            _("Churn by NPS category"),
            churn_frame,
            charts.churn_by_nps_category,
            query,
            help=_("Customers at the start of the period, by their NPS category then."),
        ),
        "churn_rows": [
            {
                "label": charts.category_label(r["category"]),
                "at_start": r["at_start"],
                "lost": r["lost"],
                "rate": _("no data")
                if r["churn_rate"] is None or pd.isna(r["churn_rate"])
                else display.percent(r["churn_rate"]),
            }
            for r in churn_frame.to_dict("records")
        ],
        "referrals_by_category": _chart(
            "referrals_by_nps_category",
            _("Referrals by NPS category"),
            datasets.referrals_by_nps_category(filters, granularity),
            charts.referrals_by_nps_category,
            query,
            help=_("By the referrer's category when they referred."),
        ),
        "value_by_category": _chart(
            "value_by_nps_category",
            _("Value by NPS category"),
            datasets.value_by_nps_category(filters, granularity),
            charts.value_by_nps_category,
            query,
            help=_("Active customers and their mean annual value."),
        ),
        "detractors": _table(
            "revenue_at_risk",
            _("Detractor customers"),
            datasets.revenue_at_risk(filters, granularity),
            [
                ("name", _("Customer"), "customer"),
                ("segment", _("Segment"), "text"),
                ("value", _("Value"), "money"),
                ("last_nps", _("Last NPS"), "int"),
            ],
            query,
            help=_("Largest value first."),
        ),
    }


# --- value & retention -------------------------------------------------------------------------------


def _interval(point: dict | None) -> dict:
    """Retention at a day: {value: "80.0 %", interval: "20.4–96.9 %"}; "—" past the longest follow-up."""
    if point is None:
        return {"value": "—", "interval": ""}
    low, high = (display.number(100 * point[k]) if point[k] is not None else "—" for k in ("lower", "upper"))
    return {"value": display.percent(100 * point["retention"]), "interval": f"{low}–{high}\u00a0%"}


def _clv_card(lifetime) -> dict:
    """The whole base's CLV with what it is made of, or why there is none."""
    years = display.number(lifetime.expected_lifetime)
    parts = {
        "churn": display.percent(lifetime.churn_rate),
        "years": years,
        "mean": display.money(lifetime.mean_value),
        "n": display.number(lifetime.active, 0),
    }
    if lifetime.clv is not None:
        sub = _("annual churn %(churn)s · expected lifetime %(years)s years · mean annual value %(mean)s of %(n)s active customers") % parts  # fmt: skip
        if lifetime.capped:
            sub += " · " + _("lifetime capped at %(cap)s years") % {"cap": CLV_LIFETIME_CAP_YEARS}
    elif lifetime.churn_rate == 0:
        sub = _("no customer was lost in the %(days)s days: no lifetime to estimate") % {"days": CLV_CHURN_WINDOW_DAYS}
    elif lifetime.churn_rate is None:
        sub = _("no customers at the start of the %(days)s days") % {"days": CLV_CHURN_WINDOW_DAYS}
    else:
        sub = _("no active customers at the end of the period")
    return {"value": display.money(lifetime.clv, missing=_("no data")), "sub": sub, "raw": lifetime.clv}


def _advocacy_card(frame: pd.DataFrame, query: str) -> dict:
    """The Customer Advocacy Index as a figure: "too few responses" below the minimum, as elsewhere."""
    record = frame.to_dict("records")[0]
    n = int(record["n"])
    if not n:
        shown = _("no data")
    elif record["too_few"]:
        shown = _("too few responses (n = %(n)s)") % {"n": n}
    else:
        shown = display.number(record["index"], 1)
    return {
        "value": shown,
        "raw": record["index"],
        "n": display.number(n, 0),
        "min_components": ADVOCACY_MIN_COMPONENTS,
        "csv_url": csv_url("advocacy_index", query),
    }


def value_page(params: QueryDict, filters: MetricFilters, granularity: str, query: str) -> dict:
    refs = customers.referrals(filters=filters)
    retention = survival.retention_by_nps_category(filters=filters)
    curves_frame = datasets.retention_curves(filters, granularity)
    curves_figure, curves_note = charts.retention_curves(curves_frame), charts.retention_note(curves_frame)
    clv_frame = datasets.clv_by_segment(filters, granularity)
    clv_frame["segment"] = [_("All segments") if s == datasets.ALL_SEGMENTS else s for s in clv_frame["segment"]]
    p = retention.logrank_p
    alpha = 1 - CONFIDENCE_LEVEL
    retention_rows = []
    for category, curve in retention.curves.items():
        few = is_too_few(curve.customers) and curve.customers > 0
        retention_rows.append(
            {
                "category": category,
                "label": charts.category_label(category),
                "customers": display.number(curve.customers, 0),
                "lost": display.number(curve.lost, 0),
                "too_few": few,
                "cells": [
                    {"value": _("too few customers (n = %(n)s)") % {"n": curve.customers}, "interval": ""}
                    if few
                    else _interval(curve.at_days[day])
                    for day in RETENTION_DAYS
                ],
            }
        )
    return {
        "clv": _clv_card(value.customer_lifetime_value(filters=filters)),
        "clv_window_days": CLV_CHURN_WINDOW_DAYS,
        "clv_table": _table(
            "clv_by_segment",
            _("Lifetime value by segment"),
            clv_frame,
            [
                ("segment", _("Segment"), "text"),
                ("clv", _("CLV"), "money"),
                ("churn_rate", _("Annual churn"), "pct"),
                ("expected_lifetime", _("Expected lifetime (years)"), "float"),
                ("mean_value", _("Mean annual value"), "money"),
                ("active", _("Active customers"), "int"),
            ],
            query,
            help=_("Revenue-based: annual revenue × expected lifetime (1 ÷ annual churn, at most %(cap)s years).")
            % {"cap": CLV_LIFETIME_CAP_YEARS},
        ),
        "referral_revenue": display.money(refs.revenue),
        "referral_share": display.percent(refs.revenue_share, missing=_("no data")),
        "referrals": refs,
        "referral_conversion_days": REFERRAL_CONVERSION_DAYS,
        "advocacy": _advocacy_card(datasets.advocacy_index(filters, granularity), query),
        "advocates": _table(
            "top_advocates",
            _("Top advocates"),
            datasets.top_advocates(filters, granularity),
            [
                ("name", _("Customer"), "text"),
                ("converted", _("Converted referrals"), "int"),
                ("referrals", _("Referrals"), "int"),
                ("revenue", _("Referral revenue"), "money"),
                ("last_nps", _("Latest NPS"), "int"),
            ],
            query,
            help=_("Ranked by converted referrals, then referrals; the latest NPS answer up to the period's end."),
        ),
        "retention_chart": Chart(
            name="retention_curves",
            title=_("Retention by NPS category"),
            figure=curves_figure,
            csv_url=csv_url("retention_curves", query),
            note=curves_note if curves_figure else "",
            empty="" if curves_figure else curves_note,  # every category too small: say why nothing is drawn
            table=charts.retention_table(curves_frame) if curves_figure else None,
            help=_(
                "Kaplan–Meier: each customer's latest NPS answer in the period starts the clock; a loss ends it. "
                "The band is the 95% confidence interval."
            ),
        ),
        "retention_days": RETENTION_DAYS,
        "retention_rows": retention_rows,
        "churn": _churn_section(filters, query),
        "retention_csv_url": csv_url("retention_at_days", query),
        "retention_as_of": retention.as_of,
        "logrank_p": display.number(p, 3, missing=_("no data")),
        "logrank_verdict": ""
        if p is None
        else _("the curves differ (p < %(alpha)s)") % {"alpha": display.number(alpha, 2)}
        if p < alpha
        else _("no significant difference (p ≥ %(alpha)s)") % {"alpha": display.number(alpha, 2)},
    }


# --- follow-up --------------------------------------------------------------------------------------


def _nps_tile(key: str, label: str, nps) -> dict:
    """An NPS with its n, "no data" without answers and "too few responses" below the minimum."""
    tile = {
        "key": key,
        "label": label,
        "raw": nps.score,
        "sub": _("n = %(n)s") % {"n": display.number(nps.responses, 0)},
    }
    if nps.score is None:
        return {**tile, "value": _("no data")}
    if is_too_few(nps.responses):
        return {**tile, "value": _("too few responses (n = %(n)s)") % {"n": nps.responses}, "sub": ""}
    return {**tile, "value": display.number(nps.score, 1, signed=True)}


def _hours_text(hours: float | None) -> str:
    return _("no data") if hours is None else _("%(h)s h") % {"h": display.number(hours, 1)}


def _loop_section(filters: MetricFilters, query: str) -> dict:
    """Cases, how fast they are handled, the loop-closure rate and the loop outcome (METRICS.md "Closing
    the loop")."""
    cases = loop.case_figures(filters=filters)
    closure = loop.loop_closure_rate(filters=filters)
    outcome = loop.loop_outcome(filters=filters)
    tiles = [
        {"key": "cases_opened", "label": _("Cases opened"), "raw": cases.opened,
         "value": display.number(cases.opened, 0),
         "sub": _("%(closed)s closed; %(open)s open at the end") % {
             "closed": display.number(cases.closed, 0), "open": display.number(cases.open_at_end, 0)}},
        {"key": "hours_to_first_contact", "label": _("Time to first contact"), "raw": cases.hours_to_first_contact,
         "value": _hours_text(cases.hours_to_first_contact), "sub": _("median, cases closed in the period")},
        {"key": "hours_to_close", "label": _("Time to close"), "raw": cases.hours_to_close,
         "value": _hours_text(cases.hours_to_close), "sub": _("median, cases closed in the period")},
        {"key": "sla_breach_rate", "label": _("SLA breaches"), "raw": cases.sla_breach_rate,
         "value": display.percent(cases.sla_breach_rate, 1, missing=_("no data")),
         "sub": _("%(n)s of %(base)s closed late or open past due") % {
             "n": display.number(cases.sla_breaches, 0), "base": display.number(cases.sla_base, 0)}},
        {"key": "loop_closure_rate", "label": _("Loop-closure rate"), "raw": closure.rate,
         "value": display.percent(closure.rate, 1, missing=_("no data")),
         "sub": _("of %(n)s detractor answers, contacted within %(days)s days") % {
             "n": display.number(closure.detractor_answers, 0), "days": LOOP_CONTACT_DAYS}},
    ]  # fmt: skip
    if outcome.no_data:
        verdict = _("no data: each group needs at least %(min)s customers (contacted %(a)s, others %(b)s)") % {
            "min": LOOP_OUTCOME_MIN_GROUP,
            "a": outcome.contacted,
            "b": outcome.others,
        }
    else:
        verdict = _(
            "%(diff)s points (95%% CI %(low)s to %(high)s): churn within %(days)s days of a detractor answer, "
            "contacted within %(contact)s days (%(a)s, n = %(na)s) against the others (%(b)s, n = %(nb)s). "
            "An association, not proof that following up keeps customers."
        ) % {
            "diff": display.number(outcome.difference, 1, signed=True),
            "low": display.number(outcome.ci_low, 1, signed=True),
            "high": display.number(outcome.ci_high, 1, signed=True),
            "days": LOOP_OUTCOME_CHURN_DAYS,
            "contact": LOOP_CONTACT_DAYS,
            "a": display.percent(outcome.contacted_churn_rate, 1),
            "na": display.number(outcome.contacted, 0),
            "b": display.percent(outcome.others_churn_rate, 1),
            "nb": display.number(outcome.others, 0),
        }
    return {"loop_tiles": tiles, "loop_outcome": verdict, "loop_csv": csv_url("loop_figures", query)}


def _complaint_themes(filters: MetricFilters, query: str) -> Table:
    """Complaints by the themes of their summaries (the comment taxonomy), most complaints first."""
    frame = datasets.complaints_by_theme(filters)
    return Table(
        name="complaints_by_theme",
        title=_("Complaints by theme"),
        columns=[(_("Theme"), "text"), (_("Complaints"), "int"), (_("Share"), "pct"), (_("Negative"), "pct")],
        rows=[
            [(r.theme, "text"), _cell(r.complaints, "int"), _cell(r.share, "pct"), _cell(r.negative_share, "pct")]
            for r in frame.itertuples()
        ],
        csv_url=csv_url("complaints_by_theme", query),
        help=_(
            "The themes of the complaints' summaries: how many complaints mention each, their share of the "
            "period's complaints with a summary, and the share of those that read negative. A complaint can "
            "have several themes."
        ),
    )


def follow_up_page(params: QueryDict, filters: MetricFilters, granularity: str, query: str) -> dict:
    """Cases and the loop (opened, handled, closed, the loop outcome); complaints and inquiries: counted
    apart, by category and channel, the complaint rate, the resolution time, and NPS after an incident
    against the others."""
    counts = complaints.complaint_counts(filters=filters)
    complaint_rate = complaints.complaint_rate(filters=filters)
    resolution = complaints.resolution_time(filters=filters)
    satisfaction = complaints.incidents_and_satisfaction(filters=filters)
    hours = resolution.median_hours
    return {
        **_loop_section(filters, query),
        "complaint_tiles": [
            {
                "key": "complaints",
                "label": _("Complaints"),
                "value": display.number(counts["complaints"], 0),
                "raw": counts["complaints"],
                "sub": _("received in the period"),
            },
            {
                "key": "inquiries",
                "label": _("Inquiries"),
                "value": display.number(counts["inquiries"], 0),
                "raw": counts["inquiries"],
                "sub": _("counted apart: not incidents"),
            },
            {
                "key": "complaint_rate",
                "label": _("Complaint rate"),
                "raw": complaint_rate.rate,
                "value": _("no data") if complaint_rate.rate is None else display.number(complaint_rate.rate, 1),
                "sub": _("per %(per)s customers active at the start (%(n)s)")
                % {"per": display.number(COMPLAINT_RATE_PER, 0), "n": display.number(complaint_rate.at_start, 0)},
            },
            {
                "key": "resolution_time",
                "label": _("Resolution time"),
                "raw": hours,
                "value": _hours_text(hours),
                "sub": _("median, over %(n)s complaints resolved in the period") % {"n": resolution.resolved},
            },
        ],  # fmt: skip
        "complaint_figures_csv": csv_url("complaint_figures", query),
        "incident_tiles": [
            _nps_tile("nps_with_incident", _("NPS after an incident"), satisfaction.with_incident),
            _nps_tile("nps_without_incident", _("NPS without a recent incident"), satisfaction.without_incident),
        ],
        "incident_window_days": INCIDENT_WINDOW_DAYS,
        "by_category": _chart(
            "complaints_by_category",
            _("Complaints and inquiries by category"),
            datasets.complaints_by_category(filters, granularity),
            charts.complaints_by_category,
            query,
        ),
        "by_theme": _complaint_themes(filters, query),
        "by_channel": _chart(
            "complaints_by_channel",
            _("Complaints and inquiries by channel"),
            datasets.complaints_by_channel(filters, granularity),
            charts.complaints_by_channel,
            query,
        ),
        "incidents_chart": _chart(
            "incidents_and_satisfaction",
            _("Incidents and satisfaction"),
            datasets.incidents_and_satisfaction(filters, granularity),
            charts.incidents_and_satisfaction,
            query,
            help=_(
                "NPS of identified answers from customers with a complaint or an operational incident (return, "
                "claim, invoice correction) in the %(days)s days before the answer, against the others."
            )
            % {"days": INCIDENT_WINDOW_DAYS},
        ),
    }


def signal_text(row: dict) -> str:
    """Why a customer is a relationship signal, in the active language (the Value page and the digest)."""
    found = []
    if row["nps_drop"] is not None:
        found.append(_("NPS fell %(points)s points") % {"points": row["nps_drop"]})
    if row["downgraded"]:
        found.append(_("downgraded in the last %(days)s days") % {"days": CHURN_RISK_DOWNGRADE_DAYS})
    if row["incident"]:
        found.append(_("incident in the last %(days)s days") % {"days": INCIDENT_WINDOW_DAYS})
    return "; ".join(found)


def _churn_section(filters: MetricFilters, query: str) -> dict:
    """The churn-risk model's current run: its out-of-time evaluation, expected revenue at risk beside the
    detractor-based figure, and the relationship signals. Read from the stored run, never trained here."""
    risk = risk_summary()
    detractors = combined.revenue_at_risk(filters=filters, limit=0)
    signals = Table(
        name="relationship_signals",
        title=_("Relationship signals"),
        columns=[
            (_("Customer"), "text"),
            (_("Annual value"), "money"),
            (_("Risk"), "pct"),
            (_("Value × risk"), "money"),
            (_("Signals"), "text"),
            (_("Raising the risk most"), "text"),
        ],
        rows=[
            [
                (
                    (
                        _("personal data erased") if r["erased"] else r["name"] or r["crm_id"],
                        reverse("dashboards-customer", args=[r["customer_pk"]]),
                    ),
                    "link",
                ),
                _cell(r["value"], "money"),
                _cell(100 * r["risk"], "pct"),
                _cell(r["value_at_risk"], "money"),
                (signal_text(r), "text"),
                (r["raised_by"], "text"),
            ]  # fmt: skip
            for r in risk.signals
        ],
        csv_url=csv_url("relationship_signals", query),
        help=_(
            "Customers whose latest NPS answer fell %(points)s points or more, who were downgraded, or who had an "
            "incident; largest value × risk first. The CSV lists all %(n)s."
        )
        % {"points": CHURN_RISK_NPS_DROP, "n": display.number(risk.signals_total, 0)},
    )
    calibration = datasets.churn_calibration(filters)
    return {
        "status": risk.status,
        "not_trained": risk.status == NOT_TRAINED,
        "complete": risk.status == "complete",
        "trained_at": risk.trained_at,
        "test_cutoff": risk.test_cutoff,
        "auc": display.number(risk.auc, 2, missing=_("no data")),
        "auc_raw": risk.auc,
        "weak": risk.weak,
        "weak_below": display.number(CHURN_RISK_WEAK_AUC, 2),
        "test_customers": display.number(risk.test_customers, 0),
        "test_losses": display.number(risk.test_losses, 0),
        "train_losses": display.number(risk.train_losses, 0),
        "min_losses": CHURN_RISK_MIN_LOSSES,
        "horizon_days": CHURN_RISK_HORIZON_DAYS,
        "model": risk.model,
        "customers_scored": display.number(risk.customers_scored, 0),
        "expected": display.money(risk.expected_revenue_at_risk, missing=_("no data")),
        "expected_raw": risk.expected_revenue_at_risk,
        "detractors": display.money(detractors.value),
        "detractor_customers": display.number(detractors.customers, 0),
        "calibration_chart": Chart(
            name="churn_calibration",
            title=_("Calibration on the out-of-time test"),
            figure=charts.churn_calibration(calibration),
            csv_url=csv_url("churn_calibration", query),
            help=_(
                "Each point is a tenth of the test customers ordered by predicted risk: the mean predicted "
                "risk against the share actually lost within a year. On the dotted line, the model is calibrated."
            ),  # fmt: skip
            empty="" if risk.calibration else _("No trained model yet."),
        ),
        "signals": signals,
    }


# --- the responses explorer ----------------------------------------------------------------------


def _explorer_count(filters: MetricFilters, selection: dict) -> int | None:
    """The number of matching responses when the daily rollups hold it (an NPS category and/or "with a
    comment"); None otherwise: a COUNT over up to a million raw rows for every page view is what
    keyset paging avoids, so the page then says "newest first" and pages on without a total."""
    if selection["bands"] or selection["q"] or selection["has_comment"] is False or selection["theme"] is not None:
        return None
    category = selection["category"] or ""
    if selection["has_comment"]:
        return survey.comment_count(filters=filters, category=category)
    if category:
        nps = survey.answer_counts(filters=filters).get("nps", {})
        return sum(n for score, n in nps.items() if score in nps_scores(category))
    return None


def _explorer_row(response) -> dict:
    customer = response.customer
    name = customer_name(customer) if customer else ""
    return {
        "pk": response.pk,
        "submitted_at": response.submitted_at,
        "survey": selectors.survey_label(response.survey),
        "customer": name,
        "customer_url": reverse("dashboards-customer", args=[response.customer_id]) if customer else None,
        "segment": response.segment.name if response.segment else "",
        "nps": response.nps,
        "csat": response.csat,
        "ces": response.ces,
        "comment": response.comment,
        "badge": _comment_badge(response),
    }


def responses_page(params: QueryDict, filters: MetricFilters, granularity: str, query: str) -> dict:
    """The responses explorer: one keyset page of the matching responses, newest first."""
    form = ResponseFilterForm(params)
    hidden = [(k, v) for k in FILTER_FIELDS for v in params.getlist(k) if v]
    bands = [(form[f"{q}_min"], form[f"{q}_max"]) for q in selectors.BAND_QUESTIONS]
    # The filter bar keeps the explorer's own filters when the period or segment changes.
    kept = [(k, v) for k in EXPLORER_FIELDS for v in params.getlist(k) if v]
    context = {"explorer_form": form, "explorer_hidden": hidden, "explorer_bands": bands, "filter_bar_hidden": kept}
    if not form.is_valid():
        return {**context, "status": 400}
    selection = form.selection()
    page = selectors.keyset_page(
        selectors.explorer_rows(filters=filters, **selection), cursor=form.cleaned_data["cursor"]
    )
    explorer_query = urlencode([(k, v) for k in EXPLORER_FIELDS for v in params.getlist(k) if v])
    base = "&".join(part for part in (query, explorer_query) if part)

    def page_url(cursor) -> str | None:
        if cursor is None:
            return None
        return "?" + "&".join(part for part in (base, urlencode({"cursor": cursor.token()})) if part)

    csv = reverse("dashboards-export-responses")
    rows = [_explorer_row(response) for response in page.rows]
    if selection["theme"] is not None:
        words = matched_words(response_ids=[r["pk"] for r in rows], theme_id=selection["theme"])
        for row in rows:
            row["comment_html"] = highlighted(row["comment"], words.get(row["pk"], ()))
    return {
        **context,
        "explorer_query": explorer_query,
        "rows": rows,
        "total": _explorer_count(filters, selection),
        "newer_url": page_url(page.newer),
        "older_url": page_url(page.older),
        "first_url": "?" + base if page.newer else None,
        "responses_csv_url": f"{csv}?{base}" if base else csv,
    }


# --- one customer --------------------------------------------------------------------------------


def customer_name(customer) -> str:
    """A customer as the pages name them; an erased customer's record says so instead of a name."""
    if customer.erased_at:
        return _("personal data erased")
    return customer.name or customer.external_id


def customer_url(customer_id: int | None) -> str | None:
    return reverse("dashboards-customer", args=[customer_id]) if customer_id else None


def _event_row(event) -> dict:
    segment = event.segment.name if event.segment else ""
    if event.type == Event.Type.SEGMENT_MOVE:
        moves = [s.name if s else "—" for s in (event.from_segment, event.to_segment)]
        segment = " → ".join(moves)
    return {
        "occurred_at": event.occurred_at,
        "type": event.get_type_display(),
        "segment": segment,
        "value": display.money(event.value) if event.value is not None else None,
        "reason": event.reason,
        "referrer": customer_name(event.referrer) if event.referrer else "",
        "referrer_url": customer_url(event.referrer_id),
    }


def _customer_risk(customer) -> dict | None:
    """The customer's churn risk in the current run with the features raising it most (None when the
    current run did not score them: not active then, or no trained model)."""
    risk = customer_risk(customer_id=customer.pk)
    if risk is None:
        return None
    return {
        "risk": display.percent(100 * risk.probability),
        "value_at_risk": display.money(risk.value_at_risk),
        "trained_at": risk.trained_at,
        "raised_by": [
            {
                "label": label,
                "value": _("no answer")
                if value is None
                else display.number(value, 0 if float(value).is_integer() else 2),
            }
            for label, value in risk.raised_by
        ],
    }


def customer_page(customer) -> dict:
    """A customer's page: who they are, their scores over time, every response and CRM event."""
    responses = selectors.customer_responses(customer_id=customer.pk)
    frame = pd.DataFrame(
        [(r.submitted_at, r.nps, r.csat, r.ces) for r in reversed(responses)],
        columns=["submitted_at", "nps", "csat", "ces"],
    )
    referrals = customer_referrals_made(customer_id=customer.pk)
    events = customer_events(customer_id=customer.pk)
    # The customer's value over time: a referral's value is the referred party's, an operational event's
    # the amount concerned (a return, a correction), neither the customer's value.
    valued = (Event.Type.NEW, Event.Type.LOST, Event.Type.SEGMENT_MOVE)
    values = [(e.occurred_at, e.value) for e in reversed(events) if e.value is not None and e.type in valued]
    if values and customer.lost_at is None:  # today's value closes the line of a customer still here
        values.append((timezone.now(), customer.value))
    return {
        "customer": customer,
        "name": customer_name(customer),
        "value": display.money(customer.value),
        "referred_by": customer_name(customer.referred_by) if customer.referred_by else "",
        "referred_by_url": customer_url(customer.referred_by_id),
        "chart": Chart(
            name="customer_scores",
            title=_("NPS, CSAT and CES over time"),
            figure=charts.customer_scores(frame),
            csv_url="",
            empty=_("No answers from this customer yet."),
        ),
        "responses": [
            {
                "pk": r.pk,
                "submitted_at": r.submitted_at,
                "survey": selectors.survey_label(r.survey),
                "segment": r.segment.name if r.segment else "",
                "nps": r.nps,
                "csat": r.csat,
                "ces": r.ces,
                "comment": r.comment,
                "badge": _comment_badge(r),
            }
            for r in responses
        ],
        "value_chart": Chart(
            name="customer_value",
            title=_("Annual value over time"),
            figure=charts.customer_value(pd.DataFrame(values, columns=["at", "value"])),
            csv_url="",
        ),
        "events": [_event_row(e) for e in events],
        "risk": _customer_risk(customer),
        "referrals_made": [
            {"occurred_at": e.occurred_at, "name": customer_name(e.customer), "url": customer_url(e.customer_id)}
            for e in referrals
        ],
    }


# --- comments ------------------------------------------------------------------------------------


def comments_page(params: QueryDict, filters: MetricFilters, granularity: str, query: str) -> dict:
    """Themes by share and by impact on NPS, their trend and segments, net sentiment, emerging themes;
    each theme links to its comments in the explorer with the matching words marked."""
    from metrics import comments

    themes = datasets.themes(filters, granularity)
    sentiment = comments.comment_sentiment(filters=filters)
    explorer = reverse("dashboards-responses")

    def drill(theme_id: int) -> str:
        return f"{explorer}?{'&'.join(p for p in (query, urlencode({'theme': theme_id, 'has_comment': 'yes'})) if p)}"

    rows = [
        {
            "theme_id": r["theme_id"],
            "theme": r["theme"],
            "url": drill(r["theme_id"]),
            "mentions": display.number(r["mentions"], 0),
            "share": display.percent(r["share"]),
            "net_sentiment": display.number(r["net_sentiment"], 0, signed=True),
            "impact": display.number(r["impact"], 1, signed=True),
            "impact_n": display.number(r["nps_answers"], 0),
        }
        for r in themes.to_dict("records")
    ]
    emerging = datasets.emerging_themes(filters, granularity)
    return {
        "sentiment": sentiment,
        "net_sentiment": display.number(sentiment.net_sentiment, 0, signed=True, missing=_("no data")),
        "positive_pct": display.percent(rate_of(sentiment.positive, sentiment.comments)),
        "negative_pct": display.percent(rate_of(sentiment.negative, sentiment.comments)),
        "theme_rows": rows,
        "themes_csv_url": csv_url("themes", query),
        "share_chart": _chart(
            "themes",
            _("Themes by share of comments"),
            themes,
            charts.theme_share,
            query,
            help=_("Share of the analysed comments that mention the theme, by the comments' sentiment."),
            dom_id="theme-share",
        ),
        "impact_chart": _chart(
            "themes",
            _("Theme impact on NPS"),
            themes,
            charts.theme_impact,
            query,
            help=_(
                "NPS of every answer minus NPS without the answers whose comment mentions the theme: "
                "below zero the theme pulls NPS down."
            ),
            dom_id="theme-impact",
        ),
        "trend_chart": _chart(
            "theme_trend",
            _("Theme trend"),
            datasets.theme_trend(filters, granularity),
            charts.theme_trend,
            query,
            help=_("Share of each period's comments, the most mentioned themes."),
        ),
        "segment_chart": _chart(
            "theme_by_segment",
            _("Themes by segment"),
            datasets.theme_by_segment(filters, granularity),
            charts.theme_by_segment,
            query,
            help=_("Share of each segment's comments that mention the theme."),
        ),
        "sentiment_chart": _chart(
            "sentiment_trend",
            _("Net sentiment trend"),
            datasets.sentiment_trend(filters, granularity),
            charts.sentiment_trend,
            query,
            help=_("% positive minus % negative comments; the respondent's score decides where there is one."),
        ),
        "emerging": [
            {
                "theme": r["theme"],
                "url": drill(r["theme_id"]),
                "share": display.percent(r["share"]),
                "previous_share": display.percent(r["previous_share"]),
                "p_value": display.number(r["p_value"], 3),
            }
            for r in emerging.to_dict("records")
        ],
        "emerging_csv_url": csv_url("emerging_themes", query),
    }


def rate_of(part: int, whole: int) -> float | None:
    return None if not whole else 100.0 * part / whole


# --- the customer list ------------------------------------------------------------------------------

CUSTOMER_LIST_PAGE_SIZE = 50
CUSTOMER_CSV_COLUMNS = [
    "crm_id",
    "name",
    "segment",
    "status",
    "value",
    "latest_nps",
    "nps_category",
    "churn_risk",
    "value_at_risk",
    "top_feature",
    "last_answer_at",
]
# The columns a header click sorts by, with the key of ``selectors.CUSTOMER_SORTS``.
CUSTOMER_SORT_COLUMNS = ("name", "value", "nps", "risk", "value_risk")


def _top_feature(features: list | None) -> str:
    return feature_label(features[0]["feature"]) if features else ""


def customer_list_row(row: dict) -> dict:
    """One row of ``selectors.customer_list`` as the page shows it."""
    risk, nps = row["risk"], row["latest_nps"]
    category = nps_category(nps)
    return {
        "pk": row["pk"],
        "url": customer_url(row["pk"]),
        "name": _("personal data erased") if row["erased_at"] else (row["name"] or row["external_id"]),
        "crm_id": row["external_id"],
        "segment": row["segment__name"] or "",
        "status": dict(Customer.Status.choices).get(row["status"], row["status"]),
        "lost": row["status"] == Customer.Status.LOST,
        "value": display.money(row["value"]),
        "nps": nps,
        "category": category,
        "badge": "other" if category == NO_RESPONSE else category,
        "category_label": charts.category_label(category),
        "risk": "—" if risk is None else display.percent(100 * risk),
        "risk_band": churn_risk_band(risk),
        "value_risk": "—" if row["value_risk"] is None else display.money(row["value_risk"]),
        "top_feature": _top_feature(row["risk_features"]),
        "last_answer_at": row["last_answer_at"],
    }


def customer_csv_row(row: dict) -> list:
    """One row of ``selectors.customer_list`` as the CSV holds it (risk 0-1, the category's key)."""
    return [
        row["external_id"],
        "" if row["erased_at"] else row["name"],
        row["segment__name"] or "",
        row["status"],
        row["value"],
        row["latest_nps"],
        nps_category(row["latest_nps"]),
        row["risk"],
        row["value_risk"],
        _top_feature(row["risk_features"]),
        row["last_answer_at"],
    ]


def customer_list_page(*, rows, page_number: int | None, params: QueryDict, selection: dict, run) -> dict:
    """A page of the customer list (``rows``: the lazy ``selectors.customer_list``) with its pager, the
    header links that sort it and the CSV of the whole list: three queries (the count, the page's keys,
    its rows)."""
    # The page's keys first, by the order's own columns, then its rows with every lookup: paged in one
    # query, a deep page would run the lookups of every row it skips.
    page = Paginator(rows.values_list("pk", flat=True), CUSTOMER_LIST_PAGE_SIZE).get_page(page_number)
    keys = list(page.object_list)
    found = {row["pk"]: row for row in rows.filter(pk__in=keys)}

    def url(**changes) -> str:
        query = params.copy()
        for key, new in changes.items():
            query.pop(key, None)
            if new:
                query[key] = new
        text = query.urlencode()
        return f"{reverse('dashboards-customer-list')}?{text}" if text else reverse("dashboards-customer-list")

    sort, descending = selection["sort"], selection["descending"]
    headers = {}
    for key in CUSTOMER_SORT_COLUMNS:
        current = key == sort
        # A click on the sorted column turns its order round; on another, its own default order.
        order = ("asc" if descending else "desc") if current else ""
        headers[key] = {
            "url": url(sort=key, order=order, page=""),
            "sorted": ("descending" if descending else "ascending") if current else "",
        }
    csv_query = params.copy()
    csv_query.pop("page", None)
    return {
        "rows": [customer_list_row(found[pk]) for pk in keys if pk in found],
        "page_obj": page,
        "total": display.number(page.paginator.count, 0),
        "previous_url": url(page=str(page.previous_page_number())) if page.has_previous() else "",
        "next_url": url(page=str(page.next_page_number())) if page.has_next() else "",
        "headers": headers,
        "csv_url": reverse("dashboards-customer-list-csv") + (f"?{csv_query.urlencode()}" if csv_query else ""),
        "has_model": run is not None,
        "trained_at": run.finished_at if run is not None else None,
        "risk_high": display.percent(100 * CHURN_RISK_HIGH_MIN, 0),
        "risk_medium": display.percent(100 * CHURN_RISK_MEDIUM_MIN, 0),
    }


# Each dashboard page under the filter bar, by its name in dashboards.views.PAGES: what builds it from
# (GET parameters, filters, granularity, filter query).
FILTERED_PAGES: dict[str, Callable[[QueryDict, MetricFilters, str, str], dict]] = {
    "overview": overview,
    "surveys": surveys,
    "customers": customer_base,
    "combined": combined_page,
    "value": value_page,
    "comments": comments_page,
    "follow_up": follow_up_page,
    "responses": responses_page,
}

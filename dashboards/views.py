"""The dashboard pages: parse the filters, call datasets and metrics, build charts, render.

Every page reads the same filter bar (a GET form, so a view is bookmarkable), shows the form's
errors with status 400 instead of crashing, and gives each chart a CSV download of exactly the
frame it draws (``export_csv``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

import pandas as pd
from django import forms
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cxmetrics.access import cx_manager_required
from surveys.models import SurveyType, Touchpoint

from . import charts, datasets, selectors
from .filters import MetricFilterForm, MetricFilters
from .metrics import combined, customers, survey
from .metrics.base import NO_VALUE, is_too_few, min_responses, shared_results

# The API and the command default to the last 30 days; the pages default to the last 90 because a
# 30-day window of a typical customer base (and of the demo data) splits into too few responses per
# segment and per month to show anything but "too few responses". An explicit preset or start/end
# in the URL always wins, and the filter bar shows which period is in force.
PAGE_DEFAULT_PRESET = "last_90"
FILTER_FIELDS = ("preset", "start", "end", "granularity", "segment", "survey", "survey_type", "touchpoint", "audience")
COMMENTS_PER_PAGE = 25

PAGES = (
    ("overview", "dashboards-overview", gettext_lazy("Overview")),
    ("surveys", "dashboards-surveys", gettext_lazy("Surveys")),
    ("customers", "dashboards-customers", gettext_lazy("Customer base")),
    ("combined", "dashboards-combined", gettext_lazy("Combined")),
)


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

    @property
    def script_id(self) -> str:
        return f"chart-{self.dom_id or self.name}-figure"


@dataclass
class Table:
    name: str
    title: str
    columns: list[tuple[str, str]]  # (label, kind): kind is text, int, money, pct, date, bool
    rows: list[list[tuple[object, str]]]
    csv_url: str
    help: str = ""


# --- the filter bar ------------------------------------------------------------------------------


def _filter_form(request: HttpRequest) -> MetricFilterForm:
    data = request.GET.copy()
    if not any(data.get(key) for key in ("start", "end", "preset")):
        data["preset"] = PAGE_DEFAULT_PRESET
    if not data.get("granularity"):
        data["granularity"] = "month"  # the form's default, made explicit so the select shows it
    form = MetricFilterForm(data)
    choices = selectors.filter_choices()
    select = "form-select form-select-sm"
    form.fields["start"].widget = forms.DateInput(
        attrs={"type": "date", "class": "form-control form-control-sm"}, format="%Y-%m-%d"
    )
    form.fields["end"].widget = forms.DateInput(
        attrs={"type": "date", "class": "form-control form-control-sm"}, format="%Y-%m-%d"
    )
    form.fields["segment"].widget = forms.Select(choices=[("", _("All segments")), *choices["segments"]])
    form.fields["survey"].widget = forms.Select(choices=[("", _("All surveys")), *choices["surveys"]])
    blanks = {
        "preset": _("Custom dates"),
        "survey_type": _("All types"),
        "touchpoint": _("All touchpoints"),
        "audience": _("All audiences"),
    }
    for name, blank in blanks.items():
        field = form.fields[name]
        field.choices = [("", blank), *[c for c in field.choices if c[0]]]
    form.fields["granularity"].choices = [c for c in form.fields["granularity"].choices if c[0]]
    for name in FILTER_FIELDS:
        form.fields[name].widget.attrs.setdefault("class", select)
        form.fields[name].widget.attrs["id"] = f"filter-{name}"
    return form


def _filter_query(request: HttpRequest) -> str:
    """The filter parameters of the request (nothing else: not a comment search or page number)."""
    return urlencode([(k, v) for k in FILTER_FIELDS for v in request.GET.getlist(k) if v])


def _csv_url(name: str, query: str) -> str:
    url = reverse("dashboards-export", args=[name])
    return f"{url}?{query}" if query else url


def _page(request: HttpRequest, page: str, build: Callable[..., dict]) -> HttpResponse:
    form = _filter_form(request)
    query = _filter_query(request)
    context = {
        "form": form,
        "page": page,
        "filter_query": query,
        "nav": [(key, reverse(name) + (f"?{query}" if query else ""), label) for key, name, label in PAGES],
        "page_title": {k: label for k, _n, label in PAGES}[page],
    }
    if not form.is_valid():
        return render(request, "dashboards/filter_error.html", context, status=400)
    filters = form.filters()
    granularity = form.cleaned_data["granularity"]
    context.update(
        filters=filters,
        previous=filters.previous_period(),
        granularity=granularity,
        granularity_label=dict(form.fields["granularity"].choices).get(granularity, granularity),
        has_data=selectors.has_any_data(),
        min_responses=min_responses(),
    )
    if context["has_data"]:
        with shared_results():  # charts drawn from the same metric compute it once
            context.update(build(request, filters, granularity, query))
    return render(request, f"dashboards/{page}.html", context)


def _chart(
    name: str, title: str, frame: pd.DataFrame, builder, query: str, *, help: str = "", dom_id: str = "", **kwargs
) -> Chart:
    return Chart(
        name=name,
        title=title,
        figure=builder(frame, **kwargs),
        csv_url=_csv_url(name, query),
        note=charts.too_few_note(frame),
        help=help,
        dom_id=dom_id,
    )


# --- formatting for the cards --------------------------------------------------------------------


def _number(value: float | int, decimals: int = 1, signed: bool = False) -> str:
    text = formats.number_format(value, decimal_pos=decimals, use_l10n=True, force_grouping=True)
    if signed and value > 0:
        text = f"+{text}"
    return text.replace("-", "−")


def _change(value: float | int | None, *, decimals: int = 1, unit: str = "", good_when_up: bool = True) -> dict:
    if value is None or pd.isna(value):
        return {"text": _("no previous data"), "css": "text-body-secondary"}
    if round(value, decimals) == 0:
        return {"text": _("= no change"), "css": "text-body-secondary"}
    arrow = "▲" if value > 0 else "▼"
    good = (value > 0) == good_when_up
    return {
        "text": f"{arrow} {_number(value, decimals, signed=True)}{unit}",
        "css": "text-success" if good else "text-danger",
    }


def _kpi_cards(frame: pd.DataFrame) -> list[dict]:
    row = {r["metric"]: r for r in frame.to_dict("records")}
    too_few_text = _("too few responses (n = %(n)s)")
    cards = []

    nps = row["nps"]
    card = {"key": "nps", "label": _("NPS"), "raw": nps["value"], "unit": ""}
    if not nps["responses"]:
        card.update(value=_("no data"), state="no_data")
    elif is_too_few(nps["responses"]):
        card.update(value=too_few_text % {"n": nps["responses"]}, state="too_few")
    else:
        card.update(
            value=_number(nps["value"], 1, signed=True),
            state="ok",
            sub=_("± %(moe)s (95%%) · n = %(n)s") % {"moe": _number(nps["margin_of_error"]), "n": nps["responses"]},
        )
    change = _change(nps["change"])
    if nps["significant"] is True:
        change["text"] += " " + _("significant")
    elif nps["significant"] is False:
        change.update(text=change["text"] + " " + _("not significant"), css="text-body-secondary")
    card["change"] = change
    cards.append(card)

    csat = row["csat"]
    card = {"key": "csat", "label": _("CSAT"), "raw": csat["value"], "change": _change(csat["change"], unit=" pts")}
    if csat["value"] is None:
        card.update(value=_("no data"), state="no_data")
    elif is_too_few(csat["responses"]):
        card.update(value=too_few_text % {"n": csat["responses"]}, state="too_few")
    else:
        card.update(
            value=f"{_number(csat['value'])} %",
            state="ok",
            sub=_("mean %(mean)s of 5 · n = %(n)s") % {"mean": _number(csat["mean"], 2), "n": csat["responses"]},
        )
    cards.append(card)

    ces = row["ces"]
    card = {"key": "ces", "label": _("CES"), "raw": ces["value"], "change": _change(ces["change"], decimals=2)}
    if ces["value"] is None:
        card.update(value=_("no data"), state="no_data")
    elif is_too_few(ces["responses"]):
        card.update(value=too_few_text % {"n": ces["responses"]}, state="too_few")
    else:
        card.update(
            value=_number(ces["value"], 2),
            state="ok",
            sub=_("mean of 7 · %(easy)s %% easy · n = %(n)s")
            % {"easy": _number(ces["easy_pct"], 0), "n": ces["responses"]},
        )
    cards.append(card)

    rr = row["response_rate"]
    card = {
        "key": "response_rate",
        "label": _("Response rate"),
        "raw": rr["value"],
        "change": _change(rr["change"], unit=" pts"),
    }
    if rr["value"] is None:
        card.update(value=_("no data"), state="no_data", sub=_("no invitations sent in the period"))
    else:
        card.update(
            value=f"{_number(rr['value'])} %",
            state="ok",
            sub=_("%(responses)s of %(sent)s invitations")
            % {"responses": _number(rr["responses"], 0), "sent": _number(rr["sent"], 0)},
        )
        if rr["benchmark"] is not None:
            card["sub"] += " · " + _("benchmark %(b)s %%") % {"b": _number(rr["benchmark"], 0)}
    cards.append(card)

    base = row["customers"]
    cards.append(
        {
            "key": "customers",
            "label": _("Customers"),
            "raw": base["value"],
            "state": "ok",
            "value": _number(base["value"], 0),
            "change": _change(base["change"], decimals=0),
            "sub": _("at the end of the period; %(n)s at its start") % {"n": _number(base["at_start"], 0)},
        }
    )

    churn = row["churn_rate"]
    card = {
        "key": "churn_rate",
        "label": _("Churn rate"),
        "raw": churn["value"],
        "change": _change(churn["change"], unit=" pts", good_when_up=False),
    }
    if churn["value"] is None:
        card.update(value=_("no data"), state="no_data", sub=_("no customers at the start of the period"))
    else:
        card.update(
            value=f"{_number(churn['value'])} %",
            state="ok",
            sub=_("%(lost)s lost of %(start)s")
            % {"lost": _number(churn["lost"], 0), "start": _number(churn["at_start"], 0)},
        )
    cards.append(card)

    growth = row["net_growth"]
    cards.append(
        {
            "key": "net_growth",
            "label": _("Net growth"),
            "raw": growth["value"],
            "state": "ok",
            "value": _number(growth["value"], 0, signed=True),
            "change": _change(growth["change"], decimals=0),
            "sub": _("%(new)s new − %(lost)s lost")
            % {"new": _number(growth["new"], 0), "lost": _number(growth["lost"], 0)},
        }
    )

    refs = row["referrals"]
    conversion = refs["conversion_rate"]
    cards.append(
        {
            "key": "referrals",
            "label": _("Referrals"),
            "raw": refs["value"],
            "state": "ok",
            "value": _number(refs["value"], 0),
            "change": _change(refs["change"], decimals=0),
            "sub": _("%(rate)s converted within 90 days")
            % {"rate": f"{_number(conversion)} %" if conversion is not None else _("no data")},
        }
    )

    risk = row["revenue_at_risk"]
    cards.append(
        {
            "key": "revenue_at_risk",
            "label": _("Revenue at risk"),
            "raw": risk["value"],
            "state": "ok",
            "value": _number(risk["value"], 0),
            "change": _change(risk["change"], decimals=0, good_when_up=False),
            "sub": _("annual value of %(n)s detractor customers") % {"n": _number(risk["customers"], 0)},
        }
    )
    return cards


def _table(
    name: str, title: str, frame: pd.DataFrame, columns: list[tuple[str, str, str]], query: str, help: str = ""
) -> Table:
    """A table card: ``columns`` are (frame column, label, kind)."""
    rows = [
        [(None if pd.isna(record[col]) else record[col], kind) for col, _label, kind in columns]
        for record in frame.to_dict("records")
    ]
    return Table(
        name=name,
        title=title,
        columns=[(label, kind) for _c, label, kind in columns],
        rows=rows,
        csv_url=_csv_url(name, query),
        help=help,
    )


def _dimension_label(choices) -> Callable[[str], str]:
    labels = dict(choices)
    return lambda key: _("no segment") if key == NO_VALUE else str(labels.get(key, key))


# --- pages ---------------------------------------------------------------------------------------


def _overview(request: HttpRequest, filters: MetricFilters, granularity: str, query: str) -> dict:
    nps_frame = datasets.nps_trend(filters, granularity)
    customer_frame = datasets.customer_trend(filters, granularity)
    return {
        "cards": _kpi_cards(datasets.kpis(filters, granularity)),
        "kpis_csv_url": _csv_url("kpis", query),
        "nps_spark": _chart("nps_trend", _("NPS trend"), nps_frame, charts.nps_sparkline, query, dom_id="nps_spark"),
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
        ),
        "customer_trend": _chart(
            "customer_trend", _("New, lost and net customers"), customer_frame, charts.customer_trend, query
        ),
    }


def _surveys(request: HttpRequest, filters: MetricFilters, granularity: str, query: str) -> dict:
    key_frame = datasets.key_metrics(filters, granularity)
    key_tiles = []
    scales = {"nps": 10, "likelihood_switch": 10, "likelihood_repurchase": 10, "overall": 5}
    for record in key_frame.to_dict("records"):
        mean, n = record["mean"], record["responses"]
        value = _("no data") if mean is None or pd.isna(mean) else _number(mean, 1)
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
                else _("ρ = %(rho)s with overall (n = %(n)s)") % {"rho": _number(link, 2), "n": record["n"]},
            }
        )

    category = request.GET.get("category", "")
    category = category if category in selectors.COMMENT_CATEGORIES else ""
    q = request.GET.get("q", "").strip()[:100]
    comment_list = selectors.survey_comments(filters=filters, category=category or None, q=q)
    # Without a text search the count comes from the daily rollups, not a count over every comment.
    count = None if q else survey.comment_count(filters=filters, category=category)
    comments = CountedPaginator(comment_list, COMMENTS_PER_PAGE, count=count).get_page(request.GET.get("page"))
    comment_query = urlencode([(k, v) for k, v in (("category", category), ("q", q)) if v])
    return {
        "nps_trend": _chart(
            "nps_trend",
            _("NPS trend"),
            datasets.nps_trend(filters, granularity),
            charts.nps_trend,
            query,
            help=_("The band is the 95% margin of error."),
        ),
        "score_distribution": _chart(
            "score_distribution",
            _("Score distribution"),
            datasets.score_distribution(filters, granularity),
            charts.score_distribution,
            query,
        ),
        "by_segment": _chart(
            "nps_by_segment",
            _("By segment"),
            datasets.nps_by_segment(filters, granularity),
            charts.nps_breakdown,
            query,
            label_of=_dimension_label([]),
        ),
        "by_touchpoint": _chart(
            "nps_by_touchpoint",
            _("By touchpoint"),
            datasets.nps_by_touchpoint(filters, granularity),
            charts.nps_breakdown,
            query,
            label_of=_dimension_label(Touchpoint.choices),
        ),
        "by_survey_type": _chart(
            "nps_by_survey_type",
            _("By survey type"),
            datasets.nps_by_survey_type(filters, granularity),
            charts.nps_breakdown,
            query,
            label_of=_dimension_label(SurveyType.choices),
        ),
        "csat_trend": _chart(
            "csat_trend",
            _("CSAT trend"),
            datasets.csat_trend(filters, granularity),
            charts.csat_trend,
            query,
            help=_("Share of answers 4 or 5 on the 1-5 scale."),
        ),
        "ces_trend": _chart(
            "ces_trend",
            _("CES trend"),
            datasets.ces_trend(filters, granularity),
            charts.ces_trend,
            query,
            help=_("Mean agreement, 1-7: higher is easier."),
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
            datasets.driver_importance(filters, granularity),
            charts.driver_importance,
            query,
            help=_("Importance is the correlation of the attribute's rating with the NPS answer."),
        ),
        "attribute_ratings": _chart(
            "attribute_ratings",
            _("Attribute ratings"),
            datasets.attribute_ratings(filters, granularity),
            charts.attribute_ratings,
            query,
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


def _customers(request: HttpRequest, filters: MetricFilters, granularity: str, query: str) -> dict:
    base = customers.customer_base(filters=filters)
    # The same arguments as the datasets below, so each is computed once for the page (shared_results).
    refs = customers.referrals(filters=filters)
    moves = customers.segment_moves(filters=filters)
    incident = customers.lost_after_incident(filters=filters)
    order = [name for name, _label in selectors.filter_choices()["segments"]]
    moves_frame = datasets.segment_moves(filters, granularity)
    pct = lambda v: _("no data") if v is None else f"{_number(v)} %"  # noqa: E731
    return {
        "stats": [
            {"label": _("Customers at start"), "value": _number(base.at_start, 0)},
            {"label": _("New"), "value": _number(base.new, 0), "css": "text-success"},
            {"label": _("Lost"), "value": _number(base.lost, 0), "css": "text-danger"},
            {"label": _("Customers at end"), "value": _number(base.at_end, 0), "key": "customers_at_end"},
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
                ("name", _("Customer"), "text"),
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
            [("name", _("Customer"), "text"), ("referrals", _("Referrals"), "int")],
            query,
        ),
        "moves": moves,
        "segment_sankey": _chart(
            "segment_moves", _("Segment movement"), moves_frame, charts.segment_sankey, query, order=order
        ),
        "segment_matrix": _segment_matrix(moves_frame, order),
        "segment_moves_csv": _csv_url("segment_moves", query),
        "incident": incident,
        "incident_rate": pct(incident.rate),
        "lost_after_incident": _table(
            "lost_after_incident",
            _("Lost after a detractor answer or an incident"),
            datasets.lost_after_incident(filters, granularity),
            [
                ("name", _("Customer"), "text"),
                ("lost_at", _("Lost on"), "date"),
                ("reason", _("Reason"), "text"),
                ("detractor", _("Detractor"), "bool"),
                ("incident", _("Incident"), "bool"),
            ],
            query,
            help=_("Within the 90 days before the loss; an incident is a CES of 3 or less or a CSAT of 2 or less."),
        ),
    }


def _combined(request: HttpRequest, filters: MetricFilters, granularity: str, query: str) -> dict:
    risk = combined.revenue_at_risk(filters=filters)
    churn_frame = datasets.churn_by_nps_category(filters, granularity)
    return {
        "risk": risk,
        "risk_value": _number(risk.value, 0),
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
                else f"{_number(r['churn_rate'])} %",
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
                ("name", _("Customer"), "text"),
                ("segment", _("Segment"), "text"),
                ("value", _("Value"), "money"),
                ("last_nps", _("Last NPS"), "int"),
            ],
            query,
            help=_("Largest value first."),
        ),
    }


@cx_manager_required
def overview(request: HttpRequest) -> HttpResponse:
    return _page(request, "overview", _overview)


@cx_manager_required
def surveys(request: HttpRequest) -> HttpResponse:
    return _page(request, "surveys", _surveys)


@cx_manager_required
def customer_base(request: HttpRequest) -> HttpResponse:
    return _page(request, "customers", _customers)


@cx_manager_required
def combined_view(request: HttpRequest) -> HttpResponse:
    return _page(request, "combined", _combined)


@cx_manager_required
def export_csv(request: HttpRequest, chart: str) -> HttpResponse:
    """The frame behind a chart as CSV, for the same filters as the page."""
    dataset = datasets.DATASETS.get(chart)
    if dataset is None:
        raise Http404(f"Unknown chart {chart!r}.")
    form = _filter_form(request)
    if not form.is_valid():
        return HttpResponse(
            f"Bad parameters: {form.error_text()}\n", status=400, content_type="text/plain; charset=utf-8"
        )
    filters = form.filters()
    with shared_results():
        frame = dataset(filters, form.cleaned_data["granularity"])
    response = HttpResponse(frame.to_csv(index=False), content_type="text/csv; charset=utf-8")
    filename = f"cxmetrics-{chart}-{filters.start.isoformat()}-{filters.end.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response

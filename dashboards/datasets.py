"""One DataFrame per chart, built from the metric functions' results.

The chart builders (charts.py) draw these frames and the CSV export writes them unchanged, so a
chart's CSV is exactly the data on screen. Every function takes the filters and the granularity
(``week``/``month``/``quarter``), even when it does not bucket, so that the export can call any of
them the same way. No metric is computed here: the numbers come from ``metrics``; this
module only reshapes them (labels, percentages of a total, the small-n flag).
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from django.utils.translation import get_language

from churn.selectors import risk_summary
from core.definitions import nps_category
from metrics import combined, comments, complaints, customers, loop, survey, survival, value
from metrics.filters import DEFAULT_GRANULARITY, MetricFilters
from metrics.read import segments
from metrics.stats import bucket_end, is_too_few, period_label
from surveys.selectors import attribute_labels

Dataset = Callable[[MetricFilters, str], pd.DataFrame]

# A customer in an export is named by the CRM's id, the one a spreadsheet can join on.
CRM_ID = {"crm_id": "customer_id"}
# The columns that hold money (to the cent in a CSV, with the currency on the page).
MONEY_COLUMNS = frozenset({"value", "mean_value", "new_value", "lost_value", "clv", "revenue", "value_at_risk"})

KEY_METRICS = ("nps", "likelihood_switch", "likelihood_repurchase", "overall")


def _with_period(frame: pd.DataFrame, granularity: str, filters: MetricFilters) -> pd.DataFrame:
    """Adds the bucket's short label (2026-W07, 2026-02, 2026-Q1) after the bucket column, and whether the
    period covers only part of the bucket (its first or last one)."""
    frame.insert(1, "period", [period_label(day, granularity) for day in frame["bucket"]])
    frame["partial"] = [day < filters.start or bucket_end(day, granularity) > filters.end for day in frame["bucket"]]
    return frame


def _too_few(counts) -> list[bool]:
    return [is_too_few(int(n)) for n in counts]


# --- survey page ---------------------------------------------------------------------------------


def nps_trend(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    """NPS per bucket with its 95 % margin of error as a band (lower, upper)."""
    rows = survey.survey_trend(filters=filters, granularity=granularity)
    frame = pd.DataFrame(
        [
            {
                "bucket": r["bucket"],
                "nps": r["nps"],
                "margin_of_error": r["nps_margin_of_error"],
                "responses": r["nps_responses"],
            }
            for r in rows
        ],
        columns=["bucket", "nps", "margin_of_error", "responses"],
    )
    frame["lower"] = [
        None if s is None or m is None else s - m for s, m in zip(frame["nps"], frame["margin_of_error"], strict=True)
    ]
    frame["upper"] = [
        None if s is None or m is None else s + m for s, m in zip(frame["nps"], frame["margin_of_error"], strict=True)
    ]
    frame["too_few"] = _too_few(frame["responses"])
    return _with_period(frame, granularity, filters)


def csat_trend(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    """CSAT % per bucket."""
    rows = survey.survey_trend(filters=filters, granularity=granularity)
    frame = pd.DataFrame(
        [{"bucket": r["bucket"], "csat": r["csat"], "responses": r["csat_responses"]} for r in rows],
        columns=["bucket", "csat", "responses"],
    )
    frame["too_few"] = _too_few(frame["responses"])
    return _with_period(frame, granularity, filters)


def ces_trend(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    """Mean CES per bucket."""
    rows = survey.survey_trend(filters=filters, granularity=granularity)
    frame = pd.DataFrame(
        [{"bucket": r["bucket"], "ces_mean": r["ces_mean"], "responses": r["ces_responses"]} for r in rows],
        columns=["bucket", "ces_mean", "responses"],
    )
    frame["too_few"] = _too_few(frame["responses"])
    return _with_period(frame, granularity, filters)


def score_distribution(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    """How many answers each NPS score got, with its category."""
    rows = survey.score_distribution(filters=filters, question="nps")
    frame = pd.DataFrame(rows, columns=["score", "count"]).rename(columns={"count": "responses"})
    frame.insert(1, "category", [nps_category(s) for s in frame["score"]])
    return frame


def _nps_breakdown(filters: MetricFilters, by: str) -> pd.DataFrame:
    records = []
    for row in survey.survey_breakdown(filters=filters, by=by):
        nps = row["nps"]
        if not nps.responses:
            continue  # e.g. a CSAT-only survey type: no NPS answers to split
        records.append(
            {
                by: row["key"],
                "promoters": nps.promoters,
                "passives": nps.passives,
                "detractors": nps.detractors,
                "responses": nps.responses,
                "nps": nps.score,
                "margin_of_error": nps.margin_of_error,
                "promoters_pct": 100.0 * nps.promoters / nps.responses,
                "passives_pct": 100.0 * nps.passives / nps.responses,
                "detractors_pct": 100.0 * nps.detractors / nps.responses,
                "too_few": is_too_few(nps.responses),
            }
        )
    columns = [
        by,
        "promoters",
        "passives",
        "detractors",
        "responses",
        "nps",
        "margin_of_error",
        "promoters_pct",
        "passives_pct",
        "detractors_pct",
        "too_few",
    ]
    return pd.DataFrame(records, columns=columns)


def nps_by_segment(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    """Promoters / passives / detractors per segment snapshot, highest rank first."""
    return _nps_breakdown(filters, "segment")


def nps_by_touchpoint(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    return _nps_breakdown(filters, "touchpoint")


def nps_by_survey_type(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    return _nps_breakdown(filters, "survey_type")


def key_metrics(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    """The three key metrics and overall experience: mean, answers, and (for the three) Spearman's
    rho with overall experience over the responses that answered both, with its n."""
    scores = survey.survey_scores(filters=filters)
    links = combined.key_metric_links(filters=filters)
    # The likelihood-to-recommend mean is not part of the NPS result: it is read off the
    # distribution (the same counts the distribution chart shows).
    distribution = survey.score_distribution(filters=filters, question="nps")
    answered = sum(r["count"] for r in distribution)
    nps_mean = sum(r["score"] * r["count"] for r in distribution) / answered if answered else None
    means = {
        "nps": (nps_mean, answered),
        "likelihood_switch": (scores.likelihood_switch.mean, scores.likelihood_switch.responses),
        "likelihood_repurchase": (scores.likelihood_repurchase.mean, scores.likelihood_repurchase.responses),
        "overall": (scores.overall.mean, scores.overall.responses),
    }
    records = []
    for metric in KEY_METRICS:
        mean, responses = means[metric]
        link = links.get(metric)
        records.append(
            {
                "metric": metric,
                "mean": mean,
                "responses": responses,
                "rho_with_overall": link.rho if link else None,
                "n": link.n if link else None,
            }
        )
    frame = pd.DataFrame(records, columns=["metric", "mean", "responses", "rho_with_overall", "n"])
    frame["n"] = frame["n"].astype("Int64")
    frame["too_few"] = [False if pd.isna(n) else is_too_few(int(n)) for n in frame["n"]]  # overall has no link
    return frame


def _with_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """The attribute's name in the page's language beside its key (charts show it, CSVs carry both)."""
    labels = attribute_labels(language=(get_language() or "en")[:2])
    frame.insert(1, "label", [labels.get(name, name) for name in frame["attribute"]])
    return frame


def driver_importance(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    """Per attribute: performance (mean rating) and importance (Spearman's rho with NPS, with n), and
    the relative weight (% of R²) with its 95 % bootstrap interval, significance and sample n."""
    rows = combined.driver_importance(filters=filters)
    columns = ["attribute", "mean", "importance", "n", "responses", "relative_weight", "lower", "upper"]
    frame = _with_labels(pd.DataFrame(rows, columns=[*columns, "significant", "weights_n"]))
    frame["too_few"] = _too_few(frame["n"])
    return frame


def attribute_ratings(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    """Mean rating per attribute."""
    frame = _with_labels(
        pd.DataFrame(survey.attribute_ratings(filters=filters), columns=["attribute", "mean", "responses"])
    )
    frame["too_few"] = _too_few(frame["responses"])
    return frame


# --- customer base page ----------------------------------------------------------------------------


def _customer_trend_frame(filters: MetricFilters, granularity: str) -> pd.DataFrame:
    rows = customers.customer_trend(filters=filters, granularity=granularity)
    columns = ["bucket", "new", "lost", "moved_in", "moved_out", "net", "active_at_start", "churn_rate"]
    return pd.DataFrame(rows, columns=columns)


def customer_trend(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    """New, lost and net customers per bucket; with a segment filter the moves into and out of it, which
    count in the net."""
    columns = ["bucket", "new", "lost", "net", "active_at_start"]
    if filters.segment_id() is not None:
        columns[3:3] = ["moved_in", "moved_out"]
    frame = _customer_trend_frame(filters, granularity)[columns]
    return _with_period(frame.copy(), granularity, filters)


def churn_trend(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    """Churn rate per bucket (customer_trend) and retention = 100 × (at end − new) / at start, which
    within one bucket is 100 × (at start − lost) / at start."""
    frame = _customer_trend_frame(filters, granularity)[["bucket", "active_at_start", "lost", "churn_rate"]].copy()
    frame["retention_rate"] = [None if pd.isna(c) else 100.0 - c for c in frame["churn_rate"]]
    return _with_period(frame, granularity, filters)


def lost_reasons(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    """Lost customers per reason, most frequent first, with the value lost."""
    frame = pd.DataFrame(customers.lost_by_reason(filters=filters), columns=["reason", "count", "value"])
    return frame.rename(columns={"count": "lost"})


def lost_customers(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    """The customers lost in the period, latest first (at most 200)."""
    rows = customers.lost_customer_list(filters=filters)
    frame = pd.DataFrame(rows, columns=["crm_id", "name", "segment", "lost_at", "reason", "value"])
    frame["lost_at"] = [d.date() for d in frame["lost_at"]]
    return frame.rename(columns=CRM_ID)


def referrals_by_segment(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    """Referrals in the period by the referrer's segment at the time, highest rank first."""
    by_segment = customers.referrals(filters=filters).by_segment
    return pd.DataFrame(list(by_segment.items()), columns=["segment", "referrals"])


def top_referrers(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    frame = pd.DataFrame(customers.referrals(filters=filters).top_referrers, columns=["crm_id", "name", "referrals"])
    return frame.rename(columns=CRM_ID)


def segment_moves(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    """Segment moves in the period as from → to pairs, with whether each is an upgrade."""
    moves = customers.segment_moves(filters=filters)
    frame = pd.DataFrame(moves.matrix, columns=["from", "to", "count"]).rename(columns={"count": "moves"})
    return frame


def lost_after_incident(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    """Lost customers who had, in the incident window before the loss, a detractor answer, an answer
    reporting an incident, a complaint or an operational incident event: which of them, one column each."""
    rows = customers.lost_after_incident(filters=filters).customers
    columns = ["crm_id", "name", "lost_at", "reason", "value", "detractor", "incident", "complaint", "operational"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["lost_at"] = [d.date() for d in frame["lost_at"]]
    return frame.rename(columns=CRM_ID)


# --- combined page ---------------------------------------------------------------------------------


def churn_by_nps_category(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    rows = combined.churn_by_nps_category(filters=filters)
    return pd.DataFrame(
        [{"category": c, "at_start": r.at_start, "lost": r.lost, "churn_rate": r.churn_rate} for c, r in rows.items()],
        columns=["category", "at_start", "lost", "churn_rate"],
    )


def referrals_by_nps_category(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    rows = combined.referrals_by_nps_category(filters=filters)
    return pd.DataFrame(list(rows.items()), columns=["category", "referrals"])


def value_by_nps_category(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    rows = combined.value_by_nps_category(filters=filters)
    return pd.DataFrame(
        [{"category": c, "customers": r["customers"], "mean_value": r["mean_value"]} for c, r in rows.items()],
        columns=["category", "customers", "mean_value"],
    )


def revenue_at_risk(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    """The active detractor customers (largest value first, at most 200) whose value is at risk."""
    risk = combined.revenue_at_risk(filters=filters)
    return pd.DataFrame(risk.detractors, columns=["crm_id", "name", "segment", "value", "nps"]).rename(
        columns={"nps": "last_nps", **CRM_ID}
    )


# --- value & retention page -------------------------------------------------------------------------

ALL_SEGMENTS = "(all)"
LIFETIME_COLUMNS = ["segment", "at_start", "lost", "churn_rate", "expected_lifetime", "capped", "active", "mean_value", "clv"]  # fmt: skip


def clv_by_segment(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    """Revenue-based CLV: the filters' whole base first (segment "(all)"), then each segment, each with
    its annual churn rate (%), expected lifetime (years) and the mean annual value of its active customers."""
    overall = value.customer_lifetime_value(filters=filters).as_dict()
    rows = [{**overall, "segment": overall["segment"] or ALL_SEGMENTS}]
    rows += [s.as_dict() for s in value.clv_by_segment(filters=filters)]
    return pd.DataFrame(rows, columns=LIFETIME_COLUMNS)


def top_advocates(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    """The referrers of the period by converted referrals, then referrals, with the value they brought
    and their latest NPS answer."""
    rows = customers.top_advocates(filters=filters)
    columns = ["crm_id", "name", "converted", "referrals", "revenue", "last_nps"]
    return pd.DataFrame(rows, columns=columns).rename(columns=CRM_ID)


def advocacy_index(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    """The Customer Advocacy Index (0-100) of the period and the responses it counts."""
    result = value.advocacy_index(filters=filters)
    return pd.DataFrame([{**result.as_dict(), "too_few": is_too_few(result.n)}], columns=["index", "n", "too_few"])


def retention_curves(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    """The Kaplan–Meier step curve of each NPS category: retention (0-1) from the answer's day with
    its 95 % interval and the customers still followed; ``too_few`` when the category's cohort is
    smaller than the minimum (the page draws no curve for it)."""
    result = survival.retention_by_nps_category(filters=filters)
    rows = [
        {"category": category, **point, "customers": curve.customers, "too_few": is_too_few(curve.customers)}
        for category, curve in result.curves.items()
        for point in curve.points
    ]
    columns = ["category", "day", "retention", "lower", "upper", "at_risk", "customers", "too_few"]
    return pd.DataFrame(rows, columns=columns)


def retention_at_days(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    """Retention (0-1) of each NPS category at the fixed days after the answer, with its 95 % interval,
    and the log-rank p-value of promoters against detractors (the same on every row)."""
    result = survival.retention_by_nps_category(filters=filters)
    rows = []
    for category, curve in result.curves.items():
        for day, point in curve.at_days.items():
            rows.append({"category": category, "customers": curve.customers, "lost": curve.lost, "day": day,
                         **(point or {}), "too_few": is_too_few(curve.customers),
                         "logrank_p": result.logrank_p})  # fmt: skip
    columns = ["category", "customers", "lost", "day", "retention", "lower", "upper", "at_risk", "too_few", "logrank_p"]
    return pd.DataFrame(rows, columns=columns)


# --- follow-up page ---------------------------------------------------------------------------------


def complaints_by_category(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    """Complaints and inquiries received in the period per category, in the categories' order; ``label``
    is the category's name in the page's language."""
    rows = complaints.complaints_by_category(filters=filters)
    spanish = (get_language() or "en")[:2] == "es"
    frame = pd.DataFrame(rows, columns=["category", "name_es", "complaints", "inquiries"])
    frame.insert(
        1,
        "label",
        [(es if spanish and es else name) for name, es in zip(frame["category"], frame["name_es"], strict=True)],
    )
    return frame.drop(columns=["name_es"])


def complaints_by_channel(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    """Complaints and inquiries received in the period per channel, every channel listed."""
    return pd.DataFrame(
        complaints.complaints_by_channel(filters=filters), columns=["channel", "complaints", "inquiries"]
    )


def complaint_figures(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    """The complaint headline figures, one row: counts, the complaint rate per 1 000 customers at start
    and the median resolution time in hours."""
    counts = complaints.complaint_counts(filters=filters)
    rate = complaints.complaint_rate(filters=filters)
    resolution = complaints.resolution_time(filters=filters)
    record = {**counts, "customers_at_start": rate.at_start, "complaint_rate_per_1000": rate.rate,
              "median_resolution_hours": resolution.median_hours, "resolved": resolution.resolved}  # fmt: skip
    return pd.DataFrame([record], dtype=object)


def complaints_by_theme(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    """Complaints received in the period per theme of their summary: count, share of the analysed
    complaints (%), and how many and what share (%) of them read negative; the theme in the page's
    language."""
    result = complaints.complaints_by_theme(filters=filters, language=_ui_language())
    return pd.DataFrame(result.themes, columns=["theme", "complaints", "share", "negative", "negative_share"])


def loop_figures(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    """The closing-the-loop figures, one row each with the count it rests on (rates in %, times in hours,
    the churn difference in points)."""
    return pd.DataFrame(loop.loop_csv_rows(filters=filters), columns=["figure", "value", "n"])


def incidents_and_satisfaction(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    """NPS of the identified answers after an incident (a complaint or an operational incident in the 90
    days before) and of the others, each with its n and whether it is too few to show."""
    result = complaints.incidents_and_satisfaction(filters=filters)
    rows = [
        {"group": group, "nps": nps.score, "responses": nps.responses, "promoters": nps.promoters,
         "passives": nps.passives, "detractors": nps.detractors, "too_few": is_too_few(nps.responses)}
        for group, nps in (("with_incident", result.with_incident), ("without_incident", result.without_incident))
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["group", "nps", "responses", "promoters", "passives", "detractors", "too_few"])


def churn_calibration(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    """The current churn-risk run's calibration on its out-of-time test cutoff: per tenth of the test
    customers ordered by predicted risk, the mean predicted risk and the share lost (0-1), with n. Not
    the period's: the model learns from the whole history (empty without a trained model)."""
    columns = ["decile", "predicted", "observed", "n"]
    return pd.DataFrame(risk_summary(signals=0).calibration, columns=columns)


SIGNAL_COLUMNS = ["crm_id", "name", "value", "risk", "value_at_risk", "nps_drop", "downgraded", "incident", "raised_by"]  # fmt: skip


def relationship_signals(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    """Every customer of the current churn-risk run whose latest NPS fell by the mark or more, who was
    downgraded or who had an incident, largest value × risk first (risk 0-1; nps_drop in points)."""
    rows = risk_summary(signals=None).signals
    return pd.DataFrame(rows, columns=SIGNAL_COLUMNS).rename(columns=CRM_ID)


# --- overview --------------------------------------------------------------------------------------


def kpis(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    """The overview's headline figures for the period and the one it is compared with (``compare``: the
    period before, or the same dates a year earlier): one row per KPI with
    value, previous, change, responses (the n behind a survey figure) and extras (margin of error,
    significance, benchmark)."""
    before = filters.comparison_period()
    scores, scores_before = survey.survey_scores(filters=filters), survey.survey_scores(filters=before)
    change = survey.nps_significance(filters=filters, previous=before)
    rate_now, rate_before = survey.response_rate(filters=filters), survey.response_rate(filters=before)
    base, base_before = customers.customer_base(filters=filters), customers.customer_base(filters=before)
    refs, refs_before = customers.referrals(filters=filters, top=0), customers.referrals(filters=before, top=0)
    risk = combined.revenue_at_risk(filters=filters, limit=0)
    risk_before = combined.revenue_at_risk(filters=before, limit=0)

    def kpi(metric: str, value, previous, **extra) -> dict:
        change = None if value is None or previous is None else value - previous
        return {"metric": metric, "value": value, "previous": previous, "change": change, **extra}

    records = [
        kpi("nps", scores.nps.score, scores_before.nps.score, responses=scores.nps.responses,
            previous_responses=scores_before.nps.responses, margin_of_error=scores.nps.margin_of_error,
            z=change.z, significant=change.significant),
        kpi("csat", scores.csat.score, scores_before.csat.score, responses=scores.csat.responses,
            previous_responses=scores_before.csat.responses, mean=scores.csat.mean),
        kpi("ces", scores.ces.mean, scores_before.ces.mean, responses=scores.ces.responses,
            previous_responses=scores_before.ces.responses, easy_pct=scores.ces.easy_pct),
        kpi("response_rate", rate_now.rate, rate_before.rate, responses=rate_now.responses,
            previous_responses=rate_before.responses, sent=rate_now.sent, benchmark=rate_now.benchmark),
        kpi("customers", base.at_end, base_before.at_end, at_start=base.at_start, new=base.new, lost=base.lost,
            moved_in=base.moved_in, moved_out=base.moved_out),
        kpi("churn_rate", base.churn_rate, base_before.churn_rate, lost=base.lost, at_start=base.at_start),
        kpi("net_growth", base.net_growth, base_before.net_growth, new=base.new, lost=base.lost),
        kpi("referrals", refs.total, refs_before.total, conversion_rate=refs.conversion_rate),
        kpi("revenue_at_risk", risk.value, risk_before.value, customers=risk.customers),
    ]  # fmt: skip
    columns = [
        *("metric", "value", "previous", "change", "responses", "previous_responses", "margin_of_error", "z"),
        *("significant", "mean", "easy_pct", "sent", "benchmark", "at_start", "lost", "new", "conversion_rate"),
        *("customers", "moved_in", "moved_out"),
    ]
    # dtype=object keeps counts as integers and missing figures as None (an empty CSV cell).
    return pd.DataFrame(records, columns=columns, dtype=object)


# --- comments page ------------------------------------------------------------------------------------

THEME_COLUMNS = ["theme_id", "theme", "mentions", "share", "negative", "neutral", "positive", "net_sentiment", "nps_answers", "impact"]  # fmt: skip


def _ui_language() -> str:
    return (get_language() or "en")[:2]


def themes(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    """Every theme mentioned in the period: mentions, share (%), sentiment counts, net sentiment and its
    impact on NPS (points) with its n."""
    rows = [f.as_dict() | {"theme": f.name} for f in comments.theme_figures(filters=filters, language=_ui_language())]
    return pd.DataFrame(rows, columns=THEME_COLUMNS)


def theme_trend(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    rows = comments.theme_trend(filters=filters, granularity=granularity, language=_ui_language())
    frame = pd.DataFrame(rows, columns=["period", "theme_id", "theme", "mentions", "share"])
    frame["period"] = [period_label(p, granularity) for p in frame["period"]]
    return frame


def theme_by_segment(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    names = {pk: s["name"] for pk, s in segments().items()}
    rows = [
        r | {"segment": names.get(r["segment_id"], "")}
        for r in comments.theme_by_segment(filters=filters, language=_ui_language())
    ]
    return pd.DataFrame(rows, columns=["segment", "theme", "mentions", "share"])


def sentiment_trend(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    rows = comments.sentiment_trend(filters=filters, granularity=granularity)
    frame = pd.DataFrame(rows, columns=["period", "negative", "neutral", "positive", "comments", "net_sentiment"])
    frame["period"] = [period_label(p, granularity) for p in frame["period"]]
    return frame


def emerging_themes(filters: MetricFilters, granularity: str = DEFAULT_GRANULARITY) -> pd.DataFrame:
    rows = comments.emerging_themes(filters=filters, language=_ui_language())
    return pd.DataFrame(rows, columns=["theme_id", "theme", "share", "previous_share", "mentions", "z", "p_value"])


DATASETS: dict[str, Dataset] = {
    "kpis": kpis,
    "nps_trend": nps_trend,
    "csat_trend": csat_trend,
    "ces_trend": ces_trend,
    "score_distribution": score_distribution,
    "nps_by_segment": nps_by_segment,
    "nps_by_touchpoint": nps_by_touchpoint,
    "nps_by_survey_type": nps_by_survey_type,
    "key_metrics": key_metrics,
    "driver_importance": driver_importance,
    "attribute_ratings": attribute_ratings,
    "customer_trend": customer_trend,
    "churn_trend": churn_trend,
    "lost_reasons": lost_reasons,
    "lost_customers": lost_customers,
    "referrals_by_segment": referrals_by_segment,
    "top_referrers": top_referrers,
    "segment_moves": segment_moves,
    "lost_after_incident": lost_after_incident,
    "churn_by_nps_category": churn_by_nps_category,
    "referrals_by_nps_category": referrals_by_nps_category,
    "value_by_nps_category": value_by_nps_category,
    "revenue_at_risk": revenue_at_risk,
    "clv_by_segment": clv_by_segment,
    "top_advocates": top_advocates,
    "advocacy_index": advocacy_index,
    "retention_curves": retention_curves,
    "retention_at_days": retention_at_days,
    "themes": themes,
    "theme_trend": theme_trend,
    "theme_by_segment": theme_by_segment,
    "sentiment_trend": sentiment_trend,
    "emerging_themes": emerging_themes,
    "complaints_by_category": complaints_by_category,
    "complaints_by_channel": complaints_by_channel,
    "complaint_figures": complaint_figures,
    "complaints_by_theme": complaints_by_theme,
    "loop_figures": loop_figures,
    "incidents_and_satisfaction": incidents_and_satisfaction,
    "churn_calibration": churn_calibration,
    "relationship_signals": relationship_signals,
}

"""What a digest says for a period: the headline figures against the period before (a change is flagged
only when it is significant), the largest detractor customers by value. Every figure comes from the same
metric functions as the pages and the API."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from churn.selectors import risk_summary
from core.definitions import (
    CHURN_RISK_DOWNGRADE_DAYS,
    CHURN_RISK_HORIZON_DAYS,
    CSAT_SATISFIED_MIN,
    INCIDENT_WINDOW_DAYS,
)
from followup.selectors import cases_list
from metrics import combined, complaints, customers, loop, survey
from metrics import comments as comment_metrics
from metrics.filters import MetricFilters
from metrics.stats import RateChange, rate_change

from .models import Frequency

TOP_DETRACTORS = 5
TOP_SIGNALS = 5
TOP_THEMES = 5


def period_for(frequency: str, today: date) -> tuple[date, date]:
    """The last whole period before ``today``: the week Monday to Sunday, or the calendar month."""
    if frequency == Frequency.WEEKLY:
        start = today - timedelta(days=today.weekday() + 7)
        return start, start + timedelta(days=6)
    if frequency == Frequency.MONTHLY:
        end = today.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    raise ValueError(f"No digest period for {frequency!r}.")


def previous_period(frequency: str, start: date) -> tuple[date, date]:
    return period_for(frequency, start)


@dataclass(frozen=True)
class Figure:
    key: str
    value: float | int | None
    previous: float | int | None
    change: float | None = None
    significant: bool | None = None
    unit: str = ""


@dataclass(frozen=True)
class Digest:
    frequency: str
    start: date
    end: date
    figures: list[Figure]
    detractors: list[dict]
    revenue_at_risk: float
    revenue_at_risk_customers: int
    cases: dict = field(default_factory=dict)  # the period's cases, and the reader's open and overdue ones
    complaints: list[dict] = field(default_factory=list)  # the period's complaints by category
    churn: dict | None = None  # the current churn-risk model's figures (churn_risk_section)
    comments: dict = field(default_factory=dict)  # top and emerging themes; empty without analysed comments


def _comments_section(filters: MetricFilters) -> dict:
    """The period's top themes by share and its emerging themes, as on the Comments page (the same
    metric functions), each named in English and Spanish for the reader's language; nothing when the
    period has no analysed comments."""
    analysed = comment_metrics.comment_sentiment(filters=filters).comments
    if not analysed:
        return {}
    spanish = comment_metrics.theme_names("es")

    def theme(theme_id: int, name: str, **figures) -> dict:
        return {"name": name, "name_es": spanish.get(theme_id, name), **figures}

    top = comment_metrics.theme_figures(filters=filters)[:TOP_THEMES]
    emerging = comment_metrics.emerging_themes(filters=filters)[:TOP_THEMES]
    return {
        "analysed": analysed,
        "top": [theme(f.theme_id, f.name, share=f.share, mentions=f.mentions) for f in top],
        "emerging": [
            theme(e["theme_id"], e["theme"], share=e["share"], previous_share=e["previous_share"]) for e in emerging
        ],
    }


def _rate_figure(key: str, value, previous, change: RateChange) -> Figure:
    return Figure(key, value, previous, change.change, change.significant, unit="%")


def digest_content(*, frequency: str, start: date, end: date, user=None) -> Digest:
    now = MetricFilters(start=start, end=end)
    before_start, before_end = previous_period(frequency, start)
    before = MetricFilters(start=before_start, end=before_end)
    scores, scores_before = survey.survey_scores(filters=now), survey.survey_scores(filters=before)
    nps = survey.nps_change(scores.nps, scores_before.nps)
    csat, csat_before = scores.csat, scores_before.csat
    satisfied = survey.score_distribution(filters=now, question="csat")
    satisfied_before = survey.score_distribution(filters=before, question="csat")
    base, base_before = customers.customer_base(filters=now), customers.customer_base(filters=before)
    risk = combined.revenue_at_risk(filters=now, limit=TOP_DETRACTORS)

    def hits(distribution):
        return sum(row["count"] for row in distribution if row["score"] >= CSAT_SATISFIED_MIN)

    figures = [
        Figure("nps", nps.current.score, nps.previous.score, nps.change, nps.significant),
        Figure("responses", scores.nps.responses, scores_before.nps.responses),
        _rate_figure(
            "csat",
            csat.score,
            csat_before.score,
            rate_change(hits(satisfied), csat.responses, hits(satisfied_before), csat_before.responses),
        ),
        Figure("ces", scores.ces.mean, scores_before.ces.mean),
        _rate_figure(
            "churn_rate",
            base.churn_rate,
            base_before.churn_rate,
            rate_change(base.lost, base.at_start, base_before.lost, base_before.at_start),
        ),
        Figure("customers", base.at_end, base_before.at_end),
    ]
    figures_of_cases = loop.case_figures(filters=now)
    cases = {"opened": figures_of_cases.opened, "closed": figures_of_cases.closed,
             "open_at_end": figures_of_cases.open_at_end}  # fmt: skip
    if user is not None:
        cases |= {"mine": cases_list(user=user, view="mine").count(),
                  "overdue": cases_list(user=user, view="overdue").count()}  # fmt: skip
    by_category = [row for row in complaints.complaints_by_category(filters=now) if row["complaints"]]
    return Digest(
        frequency=frequency,
        start=start,
        end=end,
        figures=figures,
        detractors=risk.detractors,
        revenue_at_risk=risk.value,
        revenue_at_risk_customers=risk.customers,
        cases=cases,
        complaints=by_category,
        churn=churn_risk_section(),
        comments=_comments_section(now),
    )


def churn_risk_section() -> dict | None:
    """Expected revenue at risk and the largest relationship signals by value × risk, from the current
    churn-risk run as the Value page reads it; None without a trained model (none yet, or not enough
    history). Today's figures, whatever the digest's period: the model scores the customers active now."""
    risk = risk_summary(signals=TOP_SIGNALS)
    if risk.expected_revenue_at_risk is None:
        return None
    return {
        "expected_revenue_at_risk": risk.expected_revenue_at_risk,
        "customers_scored": risk.customers_scored,
        "trained_at": risk.trained_at,
        "horizon_days": CHURN_RISK_HORIZON_DAYS,
        "downgrade_days": CHURN_RISK_DOWNGRADE_DAYS,
        "incident_days": INCIDENT_WINDOW_DAYS,
        "signals": [
            {
                "customer_id": s["customer_pk"],
                "name": s["name"] or s["crm_id"],
                "value": s["value"],
                "risk": s["risk"],
                "value_at_risk": s["value_at_risk"],
                "nps_drop": s["nps_drop"],
                "downgraded": s["downgraded"],
                "incident": s["incident"],
            }
            for s in risk.signals
        ],
    }

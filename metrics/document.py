"""The metrics document: every headline figure of a period as plain JSON data.

The JSON API and the ``metrics`` command return exactly this; rates are percentages (0-100),
unrounded; a figure without data is None (JSON null). Blank segments and reasons are keyed "(none)";
money is in the site's currency (``currency``); a customer is named by the CRM's id.
"""

from __future__ import annotations

from django.conf import settings

from churn.selectors import risk_summary
from core.definitions import DRIVER_SAMPLE_MAX

from . import combined, comments, complaints, customers, drivers, loop, survey, survival, value
from .filters import MetricFilters
from .read import snapshot


def metrics_document(filters: MetricFilters) -> dict:
    with snapshot():
        return _document(filters)


def _document(filters: MetricFilters) -> dict:
    scores = survey.survey_scores(filters=filters)
    responses = survey.response_rate(filters=filters)
    base = customers.customer_base(filters=filters)
    referrals = customers.referrals(filters=filters)
    moves = customers.segment_moves(filters=filters)
    incident = customers.lost_after_incident(filters=filters, limit=0)
    risk = combined.revenue_at_risk(filters=filters, limit=0)
    return {
        "period": {"start": filters.start.isoformat(), "end": filters.end.isoformat()},
        "currency": settings.CURRENCY,
        "nps": scores.nps.as_dict(),
        "csat": {"score": scores.csat.score, "mean": scores.csat.mean, "responses": scores.csat.responses},
        "ces": {"mean": scores.ces.mean, "easy_pct": scores.ces.easy_pct, "responses": scores.ces.responses},
        "likelihood_switch": {
            "mean": scores.likelihood_switch.mean,
            "at_risk_pct": scores.likelihood_switch.at_risk_pct,
            "responses": scores.likelihood_switch.responses,
        },
        "likelihood_repurchase": {
            "mean": scores.likelihood_repurchase.mean,
            "likely_pct": scores.likelihood_repurchase.likely_pct,
            "responses": scores.likelihood_repurchase.responses,
        },
        "overall": {"mean": scores.overall.mean, "responses": scores.overall.responses},
        "attribute_ratings": survey.attribute_ratings(filters=filters),
        "response_rate": {
            "sent": responses.sent,
            "responses": responses.responses,
            "rate": responses.rate,
            "benchmark": responses.benchmark,
        },
        "customers": {
            "at_start": base.at_start,
            "new": base.new,
            "lost": base.lost,
            "moved_in": base.moved_in,
            "moved_out": base.moved_out,
            "at_end": base.at_end,
            "churn_rate": base.churn_rate,
            "retention_rate": base.retention_rate,
            "revenue_churn": base.revenue_churn,
            "net_growth": base.net_growth,
            "growth_rate": base.growth_rate,
            "new_value": base.new_value,
            "lost_value": base.lost_value,
            "lost_by_reason": {r["reason"]: r["count"] for r in customers.lost_by_reason(filters=filters)},
            "lost_value_by_reason": {r["reason"]: r["value"] for r in customers.lost_by_reason(filters=filters)},
        },
        "lost_after_incident": {
            "lost": incident.lost,
            "after_detractor": incident.after_detractor,
            "after_incident": incident.after_incident,
            "after_complaint": incident.after_complaint,
            "after_operational_incident": incident.after_operational,
            "after_either": incident.after_either,
            "rate": incident.rate,
        },
        "referrals": {
            "total": referrals.total,
            "converted": referrals.converted,
            "by_segment": referrals.by_segment,
            "conversion_rate": referrals.conversion_rate,
            "top_referrers": [
                {"customer_id": r["crm_id"], "name": r["name"], "referrals": r["referrals"]}
                for r in referrals.top_referrers
            ],
        },
        "segment_moves": {"upgrades": moves.upgrades, "downgrades": moves.downgrades, "matrix": moves.matrix},
        "combined": {
            "nps_by_segment": combined.nps_by_segment(filters=filters),
            "csat_by_segment": combined.csat_by_segment(filters=filters),
            "ces_by_segment": combined.ces_by_segment(filters=filters),
            "referrals_by_nps_category": combined.referrals_by_nps_category(filters=filters),
            "value_by_nps_category": combined.value_by_nps_category(filters=filters),
            "key_metric_links": {
                q: {"rho": c.rho, "n": c.n} for q, c in combined.key_metric_links(filters=filters).items()
            },
            "driver_importance": combined.driver_importance(filters=filters),
            "driver_weights": _driver_weights(filters),
            "churn_by_nps_category": {
                category: {"at_start": c.at_start, "lost": c.lost, "churn_rate": c.churn_rate}
                for category, c in combined.churn_by_nps_category(filters=filters).items()
            },
            "revenue_at_risk": risk.value,
            "revenue_at_risk_customers": risk.customers,
        },
        "value": _value_section(filters),
        "loop": loop.loop_figures(filters=filters),
        "comments": _comments_section(filters),
        "follow_up": {"complaints": complaints_section(filters)},
    }


def _comments_section(filters: MetricFilters) -> dict:
    """Themes and sentiment (METRICS.md "Comments: themes and sentiment"): shares and net sentiment in
    percent, impact in NPS points with the theme's n (its comments with an NPS answer); emerging themes
    are up against the previous period by a two-proportion z-test at 95 %."""
    sentiment = comments.comment_sentiment(filters=filters)
    return {
        "analysed": sentiment.comments,
        "sentiment": {k: v for k, v in sentiment.as_dict().items() if k != "comments"},
        "themes": {
            f.name: {k: v for k, v in f.as_dict().items() if k not in ("name", "theme_id")}
            for f in comments.theme_figures(filters=filters)
        },
        "emerging": [
            {k: e[k] for k in ("theme", "share", "previous_share", "mentions", "z", "p_value")}
            for e in comments.emerging_themes(filters=filters)
        ],
    }


def _driver_weights(filters: MetricFilters) -> dict:
    """How the relative weights in driver_importance were estimated: the model's R², the responses
    sampled (n) out of those eligible, the cap on the sample and the bootstrap resamples."""
    weights = drivers.driver_relative_weights(filters=filters)
    return {
        "r_squared": weights.r_squared,
        "n": weights.n,
        "eligible": weights.eligible,
        "sample_max": DRIVER_SAMPLE_MAX,
        "resamples": weights.resamples,
        "method": "relative weights (Johnson), percentile bootstrap 95 % intervals",
    }


def _lifetime(lifetime: value.Lifetime) -> dict:
    return {k: v for k, v in lifetime.as_dict().items() if k != "segment"}


def _value_section(filters: MetricFilters) -> dict:
    """Customer value, advocacy and retention by NPS category (METRICS.md "Customer value and advocacy",
    "Survival and churn risk"). CLV is revenue-based; retention figures are shares (0-1) with their
    95 % interval, keyed by the day after the answer; None past the longest follow-up."""
    referrals = customers.referrals(filters=filters)
    retention = survival.retention_by_nps_category(filters=filters)
    return {
        "clv": _lifetime(value.customer_lifetime_value(filters=filters)),
        "clv_by_segment": {s.segment: _lifetime(s) for s in value.clv_by_segment(filters=filters)},
        "referral_revenue": referrals.revenue,
        "referral_revenue_share": referrals.revenue_share,
        "advocacy_index": value.advocacy_index(filters=filters).as_dict(),
        "top_advocates": [
            {k: r[k] for k in ("name", "referrals", "converted", "revenue", "last_nps")} | {"customer_id": r["crm_id"]}
            for r in customers.top_advocates(filters=filters)
        ],
        "retention_by_nps_category": {
            "as_of": retention.as_of.isoformat(),
            "logrank_p_promoters_vs_detractors": retention.logrank_p,
            "curves": {
                category: {
                    "customers": curve.customers,
                    "lost": curve.lost,
                    "at_days": {str(day): point for day, point in curve.at_days.items()},
                }
                for category, curve in retention.curves.items()
            },
        },
        "churn_risk": _churn_risk_section(),
    }


def _churn_risk_section() -> dict:
    """The churn-risk model's current run (not the period's: the model is trained on the whole history and
    scores today's active customers). Risks and the AUC are 0-1; calibration compares, per tenth of the
    test customers ordered by predicted risk, the mean predicted risk with the share lost."""
    risk = risk_summary()
    return {
        "status": risk.status,
        "trained_at": risk.trained_at.isoformat() if risk.trained_at else None,
        "model": risk.model,
        "features": risk.features,
        "auc": risk.auc,
        "auc_weak": risk.weak,
        "test_cutoff": risk.test_cutoff.isoformat() if risk.test_cutoff else None,
        "test_customers": risk.test_customers,
        "test_losses": risk.test_losses,
        "train_losses": risk.train_losses,
        "calibration": risk.calibration,
        "customers_scored": risk.customers_scored,
        "expected_revenue_at_risk": risk.expected_revenue_at_risk,
        "relationship_signals": [
            {k: s[k] for k in ("name", "value", "risk", "value_at_risk", "nps_drop", "downgraded", "incident")}
            | {"customer_id": s["crm_id"]}
            for s in risk.signals
        ],
        "relationship_signals_total": risk.signals_total,
    }


def complaints_section(filters: MetricFilters) -> dict:
    """Complaints and inquiries (METRICS.md "Complaints, inquiries and operational incidents"): counted
    apart, by category (its English name) and channel; complaints by the theme of their summary (count,
    share of the analysed complaints, negative share); the complaint rate per 1 000 customers at start;
    the median resolution time in hours; NPS of answers after an incident against the others."""
    counts = complaints.complaint_counts(filters=filters)
    kinds = ("complaints", "inquiries")
    satisfaction = complaints.incidents_and_satisfaction(filters=filters)
    by_theme = complaints.complaints_by_theme(filters=filters)
    return {
        **counts,
        "by_category": {
            r["category"]: {k: r[k] for k in kinds} for r in complaints.complaints_by_category(filters=filters)
        },
        "by_channel": {
            r["channel"]: {k: r[k] for k in kinds} for r in complaints.complaints_by_channel(filters=filters)
        },
        "by_theme": {
            "analysed": by_theme.analysed,
            "themes": {
                t["theme"]: {k: v for k, v in t.items() if k not in ("theme", "theme_id")} for t in by_theme.themes
            },
        },
        "complaint_rate": complaints.complaint_rate(filters=filters).as_dict(),
        "resolution_time": complaints.resolution_time(filters=filters).as_dict(),
        "incidents_and_satisfaction": {
            "with_incident": satisfaction.with_incident.as_dict(),
            "without_incident": satisfaction.without_incident.as_dict(),
        },
    }

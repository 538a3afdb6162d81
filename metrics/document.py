"""The metrics document: every headline figure of a period as plain JSON data.

The JSON API and the ``metrics`` command return exactly this; rates are percentages (0-100),
unrounded; a figure without data is None (JSON null). Blank segments and reasons are keyed "(none)".
"""

from __future__ import annotations

from . import combined, customers, survey
from .filters import MetricFilters
from .read import snapshot


def metrics_document(filters: MetricFilters) -> dict:
    with snapshot():
        return _document(filters)


def _document(filters: MetricFilters) -> dict:
    scores = survey.survey_scores(filters=filters)
    responses = survey.response_rate(filters=filters)
    base = customers.customer_base(filters=filters)
    referrals = customers.referrals(filters=filters, top=0)
    moves = customers.segment_moves(filters=filters)
    return {
        "period": {"start": filters.start.isoformat(), "end": filters.end.isoformat()},
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
        "response_rate": {"sent": responses.sent, "responses": responses.responses, "rate": responses.rate},
        "customers": {
            "at_start": base.at_start,
            "new": base.new,
            "lost": base.lost,
            "at_end": base.at_end,
            "churn_rate": base.churn_rate,
            "retention_rate": base.retention_rate,
            "revenue_churn": base.revenue_churn,
            "net_growth": base.net_growth,
            "growth_rate": base.growth_rate,
            "new_value": base.new_value,
            "lost_value": base.lost_value,
            "lost_by_reason": {r["reason"]: r["count"] for r in customers.lost_by_reason(filters=filters)},
        },
        "referrals": {
            "total": referrals.total,
            "by_segment": referrals.by_segment,
            "conversion_rate": referrals.conversion_rate,
        },
        "segment_moves": {"upgrades": moves.upgrades, "downgrades": moves.downgrades, "matrix": moves.matrix},
        "combined": {
            "nps_by_segment": combined.nps_by_segment(filters=filters),
            "churn_by_nps_category": {
                category: {"at_start": c.at_start, "lost": c.lost, "churn_rate": c.churn_rate}
                for category, c in combined.churn_by_nps_category(filters=filters).items()
            },
            "revenue_at_risk": combined.revenue_at_risk(filters=filters, limit=0).value,
        },
    }

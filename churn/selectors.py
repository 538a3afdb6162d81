"""What the pages, the API document and the exports read: the stored results of the current run, never a
model trained or scored during a request."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Case, F, FilteredRelation, JSONField, OuterRef, Q, QuerySet, Subquery, Sum, When

from core.definitions import CHURN_RISK_WEAK_AUC
from customers.models import Customer

from .features import feature_label
from .models import ChurnRiskRun, ChurnRiskScore

SHOWN = (ChurnRiskRun.Status.COMPLETE, ChurnRiskRun.Status.NOT_ENOUGH_HISTORY)


def current_run() -> ChurnRiskRun | None:
    """The newest finished run with something to show (a model, or "not enough history"); a failed or
    unfinished run leaves the one before it current."""
    return ChurnRiskRun.objects.filter(status__in=SHOWN).order_by("-finished_at", "-pk").first()


def scored_run() -> ChurnRiskRun | None:
    """The current run when it has risk scores (a trained model); None otherwise."""
    run = current_run()
    return run if run is not None and run.status == ChurnRiskRun.Status.COMPLETE else None


def with_risk(customers: QuerySet[Customer], *, run: ChurnRiskRun) -> QuerySet[Customer]:
    """``customers`` annotated with their risk, value × risk and top features (``[{feature, value,
    contribution}]``) in ``run``, empty where the run did not score them or they are no longer active: a join on the run's unique
    (run, customer) rows, so sorting every customer by risk reads the scores once."""
    # The features by a subquery: a page computes it for its rows only, and the join stays narrow.
    features = ChurnRiskScore.objects.filter(run=run, customer=OuterRef("pk")).values("top_features")[:1]
    # A risk is an active customer's: one lost since the run was scored has none.
    active = Q(status=Customer.Status.ACTIVE)
    return customers.annotate(
        run_score=FilteredRelation("churn_scores", condition=Q(churn_scores__run=run)),
        risk=Case(When(active, then=F("run_score__probability"))),
        value_risk=Case(When(active, then=F("run_score__value_at_risk"))),
        risk_features=Case(When(active, then=Subquery(features)), output_field=JSONField()),
    )


def is_weak(auc: float | None) -> bool:
    return auc is None or auc < CHURN_RISK_WEAK_AUC


def expected_revenue_at_risk(run: ChurnRiskRun) -> float | None:
    """Σ value × risk over the customers the run scored (the active customers when it ran), as the run
    stored it when it finished (``scores_value_at_risk``); None without scores."""
    if run.status != ChurnRiskRun.Status.COMPLETE or run.expected_revenue_at_risk is None:
        return None
    return float(run.expected_revenue_at_risk)


def scores_value_at_risk(run: ChurnRiskRun) -> float:
    """Σ value × risk over the run's score rows (one aggregate)."""
    return float(ChurnRiskScore.objects.filter(run=run).aggregate(v=Sum("value_at_risk"))["v"] or 0.0)


SIGNALLED = Q(nps_drop__isnull=False) | Q(downgraded=True) | Q(incident=True)


@dataclass(frozen=True)
class CustomerRisk:
    probability: float
    value_at_risk: float
    trained_at: datetime
    # [(label, value)] of the features raising the risk most, largest first.
    raised_by: list[tuple[str, float | None]] = field(default_factory=list)


def customer_risk(*, customer_id: int) -> CustomerRisk | None:
    run = current_run()
    if run is None or run.status != ChurnRiskRun.Status.COMPLETE:
        return None
    score = ChurnRiskScore.objects.filter(run=run, customer_id=customer_id).first()
    if score is None:
        return None
    return CustomerRisk(
        probability=score.probability,
        value_at_risk=score.value_at_risk,
        trained_at=run.finished_at,
        raised_by=[(feature_label(t["feature"]), t["value"]) for t in score.top_features],
    )


def relationship_signals(*, run: ChurnRiskRun, limit: int | None = 50) -> list[dict]:
    """Customers whose latest NPS fell by the mark or more, who were downgraded, or who had an incident in
    the window, largest value × risk first."""
    rows = (
        ChurnRiskScore.objects.filter(run=run)
        .filter(SIGNALLED)
        .select_related("customer")
        .order_by("-value_at_risk", "customer_id")
    )
    if limit is not None:
        rows = rows[:limit]
    return [
        {
            "customer_pk": s.customer_id,
            "crm_id": s.customer.external_id,
            "name": s.customer.name,
            "erased": s.customer.erased_at is not None,
            "value": float(s.value),
            "risk": s.probability,
            "value_at_risk": s.value_at_risk,
            "nps_drop": s.nps_drop,
            "downgraded": s.downgraded,
            "incident": s.incident,
            "raised_by": ", ".join(feature_label(t["feature"]) for t in s.top_features),
        }
        for s in rows
    ]


def signals_count(*, run: ChurnRiskRun) -> int:
    return ChurnRiskScore.objects.filter(run=run).filter(SIGNALLED).count()


SIGNALS_SHOWN = 50


@dataclass(frozen=True)
class RiskSummary:
    """The current run as the pages, the API document and the exports show it."""

    status: str  # "not_trained", or the run's status
    trained_at: datetime | None = None
    model: str = ""
    features: list[str] = field(default_factory=list)
    auc: float | None = None
    weak: bool = True
    test_cutoff: datetime | None = None
    test_customers: int = 0
    test_losses: int = 0
    train_losses: int = 0
    calibration: list[dict] = field(default_factory=list)
    customers_scored: int = 0
    expected_revenue_at_risk: float | None = None
    signals: list[dict] = field(default_factory=list)
    signals_total: int = 0


NOT_TRAINED = "not_trained"


def risk_summary(*, signals: int | None = SIGNALS_SHOWN) -> RiskSummary:
    """The current run's evaluation, expected revenue at risk and relationship signals (largest value ×
    risk first, at most ``signals``; None: all)."""
    run = current_run()
    if run is None:
        return RiskSummary(status=NOT_TRAINED)
    complete = run.status == ChurnRiskRun.Status.COMPLETE
    return RiskSummary(
        status=run.status,
        trained_at=run.finished_at,
        model=run.model_kind,
        features=list(run.features),
        auc=run.auc,
        weak=is_weak(run.auc),
        test_cutoff=run.test_cutoff,
        test_customers=run.test_rows,
        test_losses=run.test_losses,
        train_losses=run.train_losses,
        calibration=list(run.calibration),
        customers_scored=run.customers_scored,
        expected_revenue_at_risk=expected_revenue_at_risk(run),
        signals=relationship_signals(run=run, limit=signals) if complete else [],
        signals_total=run.signals if complete else 0,
    )

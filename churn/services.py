"""Training the churn-risk model on the site's own history and scoring today's active customers.

The model: missing answers imputed with the median (plus a "never answered" indicator), every feature
standardized, then a logistic regression. It was chosen over gradient boosting by measurement (the AUCs
were within noise of each other on the demo data and on generated histories, docs/metrics.md) because a
logistic model explains each score exactly: a customer's standardized feature times its weight is how
much that feature moves their log-odds away from an average customer's, and the three largest positive
moves are "the features that raise it".

Evaluation is out of time (METRICS.md): the test cutoff is the last month start whose horizon has fully
passed; the evaluated model is trained on the monthly cutoffs at least the horizon before it, so no
training label overlaps the test window. The scoring model is then fitted on every labelled cutoff.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.days import site_timezone
from core.db import statistics_refresh
from core.definitions import (
    CHURN_RISK_HORIZON_DAYS,
    CHURN_RISK_MAX_TRAINING_CUTOFFS,
    CHURN_RISK_MIN_LOSSES,
    CHURN_RISK_NPS_DROP,
)

from .features import FEATURE_NAMES, INCIDENT_FEATURES, History, features_at, history_load, labels_at
from .models import ChurnRiskRun, ChurnRiskScore
from .selectors import scores_value_at_risk, signals_count

logger = logging.getLogger(__name__)

MODEL_KIND = "logistic regression"
KEEP_RUNS = 3  # finished runs kept (the current one and two before it)
TOP_FEATURES = 3
SCORE_BATCH = 5000


class RunBusy(Exception):
    """Another churn-risk run is queued or training."""


# --- runs -------------------------------------------------------------------------------------------


def churn_risk_run_start() -> ChurnRiskRun:
    """A queued run; RunBusy when one is already queued or training (the unique constraint decides)."""
    try:
        with transaction.atomic():
            return ChurnRiskRun.objects.create(status=ChurnRiskRun.Status.QUEUED)
    except IntegrityError as error:
        raise RunBusy("a churn-risk run is already queued or training") from error


def churn_risk_run_claim(*, run_id: int) -> ChurnRiskRun | None:
    """queued → running, or None when another worker claimed it first (or the run is gone)."""
    claimed = ChurnRiskRun.objects.filter(pk=run_id, status=ChurnRiskRun.Status.QUEUED).update(
        status=ChurnRiskRun.Status.RUNNING, started_at=timezone.now()
    )
    return ChurnRiskRun.objects.get(pk=run_id) if claimed else None


def churn_risk_runs_fail_stale(*, older_than: timedelta) -> int:
    """Marks failed the runs left queued or running by a stopped worker, so a new run can start."""
    limit = timezone.now() - older_than
    return ChurnRiskRun.objects.filter(
        status__in=[ChurnRiskRun.Status.QUEUED, ChurnRiskRun.Status.RUNNING], requested_at__lt=limit
    ).update(status=ChurnRiskRun.Status.FAILED, finished_at=timezone.now(), error="stopped before it finished")


def churn_risk_train(*, run: ChurnRiskRun, now: datetime | None = None, timings: dict | None = None) -> ChurnRiskRun:
    """Trains, evaluates and (with enough history) scores; the run ends complete, not enough history or
    failed. Scores are written before the run is marked complete in one update. ``timings`` (optional)
    receives the seconds spent reading the history, training and scoring."""
    now = now or timezone.now()
    try:
        _train(run, now, timings if timings is not None else {})
    except Exception as error:
        logger.exception("churn-risk run %s failed", run.pk)
        ChurnRiskScore.objects.filter(run=run).delete()
        ChurnRiskRun.objects.filter(pk=run.pk).update(
            status=ChurnRiskRun.Status.FAILED, finished_at=timezone.now(), error=repr(error)[:2000]
        )
        raise
    run.refresh_from_db()
    return run


# --- cutoffs ----------------------------------------------------------------------------------------


def month_starts(first: datetime, last: datetime) -> list[datetime]:
    """Midnight of each month's first day (site time) from the month after ``first`` up to ``last``."""
    zone = site_timezone()
    local = first.astimezone(zone)
    year, month = local.year, local.month
    out = []
    while True:
        month += 1
        if month > 12:
            year, month = year + 1, 1
        start = datetime(year, month, 1, tzinfo=zone)
        if start > last:
            return out
        out.append(start)


def cutoffs(history: History, now: datetime) -> tuple[list[datetime], datetime | None, list[datetime]]:
    """(training cutoffs, the test cutoff, every labelled cutoff) for the evaluation and the final fit."""
    if not len(history.acquired):
        return [], None, []
    first = pd.Timestamp(int(history.acquired.min()), tz="UTC").to_pydatetime()
    labelled = month_starts(first, now - timedelta(days=CHURN_RISK_HORIZON_DAYS))
    if not labelled:
        return [], None, []
    test = labelled[-1]
    training = [c for c in labelled if c <= test - timedelta(days=CHURN_RISK_HORIZON_DAYS)]
    training = training[-CHURN_RISK_MAX_TRAINING_CUTOFFS:]
    return training, test, [c for c in labelled if not training or c >= training[0]]


def training_set(
    history: History, at: list[datetime], seen: dict | None = None
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """(features, labels, customer positions) stacked over the cutoffs; ``seen`` keeps each cutoff's rows
    for the next call (the final fit reuses the evaluation's cutoffs)."""
    seen = {} if seen is None else seen
    frames, labels, who = [], [], []
    for cutoff in at:
        if cutoff not in seen:
            active, frame = features_at(history, cutoff)
            seen[cutoff] = (frame, labels_at(history, active, cutoff), active)
        frame, label, active = seen[cutoff]
        frames.append(frame)
        labels.append(label)
        who.append(active)
    if not frames:
        return pd.DataFrame(columns=list(FEATURE_NAMES)), np.array([], dtype=bool), np.array([], dtype=int)
    return pd.concat(frames, ignore_index=True), np.concatenate(labels), np.concatenate(who)


# --- the model --------------------------------------------------------------------------------------


def model_new():
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
            ("scale", StandardScaler()),
            ("model", LogisticRegression(max_iter=2000)),
        ]
    )


def contributions(model, frame: pd.DataFrame) -> np.ndarray:
    """Per customer and feature, the move of the log-odds from an average customer's: standardized value
    × weight, a feature's "never answered" indicator added to the feature it belongs to."""
    standardized = model[:-1].transform(frame)
    weights = model[-1].coef_[0]
    moves = standardized * weights
    n = frame.shape[1]
    out = moves[:, :n].copy()
    indicator = model.named_steps["impute"].indicator_
    if indicator is not None:
        for k, feature in enumerate(indicator.features_):
            out[:, feature] += moves[:, n + k]
    return out


def feature_weights(model) -> dict[str, float]:
    weights = model[-1].coef_[0]
    out = dict(zip(FEATURE_NAMES, (float(w) for w in weights[: len(FEATURE_NAMES)]), strict=True))
    indicator = model.named_steps["impute"].indicator_
    if indicator is not None:
        for k, feature in enumerate(indicator.features_):
            out[f"{FEATURE_NAMES[feature]}_missing"] = float(weights[len(FEATURE_NAMES) + k])
    return out


def calibration_by_decile(probability: np.ndarray, lost: np.ndarray) -> list[dict]:
    """Mean predicted risk against the share lost, per tenth of the customers ordered by risk."""
    order = np.argsort(probability, kind="stable")
    out = []
    for decile, chunk in enumerate(np.array_split(order, 10), start=1):
        if len(chunk):
            out.append(
                {
                    "decile": decile,
                    "predicted": float(probability[chunk].mean()),
                    "observed": float(lost[chunk].mean()),
                    "n": len(chunk),
                }
            )
    return out


def _auc(lost: np.ndarray, probability: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    if lost.all() or not lost.any():
        return None
    return float(roc_auc_score(lost, probability))


# --- the run ----------------------------------------------------------------------------------------


def _train(run: ChurnRiskRun, now: datetime, timings: dict) -> None:
    started = time.perf_counter()
    history = history_load()
    timings["history_seconds"] = time.perf_counter() - started
    training, test, labelled = cutoffs(history, now)
    seen: dict = {}
    x_train, y_train, who_train = training_set(history, training, seen)
    train_losses = len(np.unique(who_train[y_train])) if len(y_train) else 0
    summary = {
        "model_kind": MODEL_KIND,
        "features": list(FEATURE_NAMES),
        "test_cutoff": test,
        "training_cutoffs": len(training),
        "train_rows": len(y_train),
        "train_losses": train_losses,
    }
    x_test, y_test, _who = training_set(history, [test] if test else [], seen)
    summary |= {"test_rows": len(y_test), "test_losses": int(y_test.sum())}
    if train_losses < CHURN_RISK_MIN_LOSSES or y_train.all() or not len(y_test):
        ChurnRiskRun.objects.filter(pk=run.pk).update(
            **summary, status=ChurnRiskRun.Status.NOT_ENOUGH_HISTORY, finished_at=timezone.now()
        )
        churn_risk_runs_prune()
        return
    evaluated = model_new().fit(x_train, y_train)
    predicted = evaluated.predict_proba(x_test)[:, 1]
    summary |= {"auc": _auc(y_test, predicted), "calibration": calibration_by_decile(predicted, y_test)}

    x_all, y_all, _w = training_set(history, labelled, seen)
    model = model_new().fit(x_all, y_all)
    summary["coefficients"] = feature_weights(model)
    timings["training_seconds"] = time.perf_counter() - started
    scoring = time.perf_counter()
    scored = churn_risk_scores_write(run=run, history=history, model=model, now=now)
    # A run adds a row per active customer: without fresh statistics the Value page's signals query is
    # planned for the old table and reads every score until autovacuum catches up.
    statistics_refresh(ChurnRiskScore)
    at_risk = scores_value_at_risk(run)
    # The switch: one update makes the run (whose scores are all written) the one the pages read.
    ChurnRiskRun.objects.filter(pk=run.pk).update(
        **summary,
        customers_scored=scored,
        expected_revenue_at_risk=Decimal(str(round(at_risk, 2))),
        signals=signals_count(run=run),
        status=ChurnRiskRun.Status.COMPLETE,
        finished_at=timezone.now(),
    )
    timings["scoring_seconds"] = time.perf_counter() - scoring
    churn_risk_runs_prune()


def churn_risk_scores_write(*, run: ChurnRiskRun, history: History, model, now: datetime) -> int:
    """Scores today's active customers into ``run``: risk, value × risk, the top three features raising
    it, and the relationship signals."""
    active, frame = features_at(history, now)
    if not len(active):
        return 0
    probability = model.predict_proba(frame)[:, 1]
    moves = contributions(model, frame)
    top = np.argsort(-moves, axis=1, kind="stable")[:, :TOP_FEATURES]
    values = frame.to_numpy(dtype=float)
    customer_ids = history.customer_ids[active]
    customer_values = history.value[active]
    nps_change = frame["nps_change"].to_numpy(dtype=float)
    downgraded = frame["recent_downgrades"].to_numpy(dtype=float) > 0
    incident = frame[list(INCIDENT_FEATURES)].to_numpy(dtype=float).sum(axis=1) > 0
    rows = []
    for i in range(len(active)):
        explained = [
            {"feature": FEATURE_NAMES[j], "value": _plain(values[i, j]), "contribution": round(float(moves[i, j]), 4)}
            for j in top[i]
            if moves[i, j] > 0
        ]
        drop = -nps_change[i]
        rows.append(
            ChurnRiskScore(
                run=run,
                customer_id=int(customer_ids[i]),
                probability=float(probability[i]),
                value=Decimal(str(round(customer_values[i], 2))),
                value_at_risk=float(customer_values[i] * probability[i]),
                top_features=explained,
                nps_drop=int(drop) if not np.isnan(drop) and drop >= CHURN_RISK_NPS_DROP else None,
                downgraded=bool(downgraded[i]),
                incident=bool(incident[i]),
            )
        )
        if len(rows) >= SCORE_BATCH:
            ChurnRiskScore.objects.bulk_create(rows)
            rows = []
    ChurnRiskScore.objects.bulk_create(rows)
    return len(active)


def _plain(value: float) -> float | None:
    return None if np.isnan(value) else round(float(value), 3)


def churn_risk_runs_prune(*, keep: int = KEEP_RUNS) -> int:
    """Deletes all but the newest ``keep`` finished runs (their scores go with them)."""
    finished = ChurnRiskRun.objects.exclude(status__in=[ChurnRiskRun.Status.QUEUED, ChurnRiskRun.Status.RUNNING])
    old = list(finished.order_by("-finished_at", "-pk").values_list("pk", flat=True)[keep:])
    # Never the newest complete run, even behind failed ones: the pages would lose their scores.
    newest = finished.filter(status=ChurnRiskRun.Status.COMPLETE).order_by("-finished_at", "-pk").first()
    old = [pk for pk in old if newest is None or pk != newest.pk]
    if not old:
        return 0
    ChurnRiskScore.objects.filter(run_id__in=old).delete()
    return ChurnRiskRun.objects.filter(pk__in=old).delete()[0]

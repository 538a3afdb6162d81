"""Celery entry points of the churn-risk model: the nightly run and a queued "train now"."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction

from .services import RunBusy, churn_risk_run_claim, churn_risk_run_start, churn_risk_runs_fail_stale, churn_risk_train

logger = logging.getLogger(__name__)


def churn_risk_queue() -> int:
    """Queues a run (after the surrounding transaction commits); RunBusy when one is queued or training."""
    # A run the hard time limit has stopped is no longer training: let a new one start.
    churn_risk_runs_fail_stale(older_than=timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT * 2))
    run = churn_risk_run_start()
    transaction.on_commit(lambda: churn_risk_train_task.delay(run.pk))
    return run.pk


@shared_task(acks_late=True)
def churn_risk_train_task(run_id: int) -> None:
    """Claims the queued run and trains it; a run another worker claimed (a redelivery) is left alone.
    A failure is recorded on the run, and the next night tries again: a retry would meet the same data."""
    run = churn_risk_run_claim(run_id=run_id)
    if run is None:
        logger.info("churn-risk run %s is not queued: another worker has it", run_id)
        return
    try:
        run = churn_risk_train(run=run)
    except Exception:  # recorded on the run by the service
        return
    logger.info("churn-risk run %s: %s, AUC %s, %s customers scored", run.pk, run.status, run.auc, run.customers_scored)


@shared_task
def churn_risk_nightly_task() -> None:
    """Periodic (CELERY_BEAT_SCHEDULE): retrain on the latest history and rescore the active customers."""
    try:
        churn_risk_queue()
    except RunBusy:
        logger.info("churn-risk: a run is already queued or training")

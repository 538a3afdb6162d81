"""Celery entry points of the read model."""

from __future__ import annotations

import logging

from celery import shared_task

from .refresh import metrics_refresh

logger = logging.getLogger(__name__)


@shared_task
def metrics_refresh_task() -> None:
    """Periodic (CELERY_BEAT_SCHEDULE): drain the recorded changes and roll up the settled days. Safe to
    overlap with a slow previous run (the fill state rows are locked); a failed run leaves every figure
    exact (stale days are read raw), so there is nothing to retry: the next beat does the work."""
    report = metrics_refresh()
    if report.changes or report.days_rolled_up:
        logger.info(
            "metrics: %s changes (%s customers), days recomputed %s, rolled up %s",
            report.changes, report.customers, report.days_recomputed, report.days_rolled_up,
        )  # fmt: skip

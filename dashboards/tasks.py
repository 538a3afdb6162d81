"""Celery entry points for the dashboards: each calls a service."""

from __future__ import annotations

import logging

from celery import shared_task

from dashboards.rollups import rollups_refresh

logger = logging.getLogger(__name__)


@shared_task
def rollups_refresh_task() -> None:
    """Periodic (every 5 minutes, CELERY_BEAT_SCHEDULE): bring the survey rollups up to date.
    Idempotent and safe to overlap with a slow previous run (the rollup state row lock serialises
    the writes); a failed run leaves the read path exact (it falls back to the raw rows), so there
    is nothing to retry: the next beat does the work."""
    report = rollups_refresh()
    if report.days_rolled_up or report.dirty_days or report.late_invitation_days:
        logger.info(
            "rollups: %s days rolled up, %s dirty days, %s invitation days with late answers; through %s",
            report.days_rolled_up, report.dirty_days, report.late_invitation_days, report.rolled_up_through,
        )

"""Celery entry points for the dashboards: each calls a service."""

from __future__ import annotations

import logging

from celery import shared_task

from dashboards.customer_state import customer_state_build
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
            report.days_rolled_up,
            report.dirty_days,
            report.late_invitation_days,
            report.rolled_up_through,
        )


@shared_task
def customer_state_build_task() -> None:
    """Periodic (every minute): rebuild the customer base per day when a change made it stale, else
    nothing. Builds take turns (a table lock); a failed build leaves the metrics exact (they read the
    raw tables while the state is stale), so the next beat simply tries again."""
    report = customer_state_build()
    if report.built:
        logger.info(
            "customer state: %s rows through %s (generation %s) in %.1f s",
            report.rows,
            report.through,
            report.generation,
            report.seconds,
        )

"""Celery entry points of the dashboards."""

from __future__ import annotations

from celery import shared_task

from .warm import warm_pages


@shared_task
def dashboards_warm_task() -> list[str]:
    """Periodic (CELERY_BEAT_SCHEDULE, just after the read model's refresh): compute the pages' kept
    estimates for their default periods once per refresh that changed something (dashboards.warm)."""
    return warm_pages()

"""Celery entry points of the comments app: each calls a service."""

from __future__ import annotations

from celery import shared_task

from . import services

# A sweep handles this many comments; a backlog (an import) is drained by the task queueing itself again.
SWEEP_BATCH = 2000


@shared_task
def comments_sweep_task() -> int:
    """Analyse the comments that arrived since the last sweep (answers and imports alike)."""
    done = services.comments_analyse_pending(batch=SWEEP_BATCH)
    if done == SWEEP_BATCH:
        comments_sweep_task.delay()
    return done


@shared_task
def complaints_sweep_task() -> int:
    """Analyse the complaints and inquiries logged since the last sweep (form, API, import)."""
    done = services.complaints_analyse_pending(batch=SWEEP_BATCH)
    if done == SWEEP_BATCH:
        complaints_sweep_task.delay()
    return done


@shared_task
def comments_catch_up_task() -> int:
    """Nightly: every comment and complaint still without an analysis."""
    return services.comments_catch_up() + services.complaints_catch_up()


@shared_task
def comments_suggest_task() -> int:
    from .suggestions import theme_suggestions_refresh

    return theme_suggestions_refresh()

"""The Celery settings that decide what happens after a killed worker."""

from __future__ import annotations

import os
import subprocess
import sys

from cxmetrics.tests.test_settings import ROOT

REDIS = "redis://127.0.0.1:6379/13"


def _celery_setting(expression: str, **env: str) -> subprocess.CompletedProcess:
    """The test settings as a process configured for Redis would load them."""
    return subprocess.run(
        [sys.executable, "-c", f"import cxmetrics.settings.test as settings; print({expression})"],
        cwd=ROOT,
        env={**os.environ, "CELERY_BROKER_URL": REDIS, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_redis_visibility_timeout_outlasts_a_running_task_and_the_longest_countdown():
    result = _celery_setting('settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]')
    assert result.returncode == 0, result.stderr
    # Longer than the hard time limit (1900 s) and a send retried an hour later, with room for the send.
    assert int(result.stdout.strip()) > 3600


def test_a_visibility_timeout_shorter_than_the_hard_time_limit_stops_start_up():
    result = _celery_setting("1", CELERY_VISIBILITY_TIMEOUT="1800", CELERY_TASK_TIME_LIMIT="1900")
    assert result.returncode != 0
    assert "CELERY_VISIBILITY_TIMEOUT must be longer than CELERY_TASK_TIME_LIMIT" in result.stderr


def test_beat_takes_up_dead_runs_and_stuck_sends_within_minutes():
    from django.conf import settings

    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["crm_sync.tasks.crm_sync_due"] <= 60
    assert schedule["surveys.tasks.invitations_requeue_stuck_task"] <= 300
    assert settings.CRM_SYNC_DEAD_AFTER_SECONDS <= 300
    assert settings.SURVEY_SEND_STUCK_SECONDS <= 600

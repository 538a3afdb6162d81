"""Liveness of the parts a request or a background job depends on.

Each check is bounded in time, so /healthz answers (503) when a service accepts connections but never
answers, instead of hanging as long as the proxy lets it."""

from __future__ import annotations

import math

from django.conf import settings
from django.db import connection
from django.db.utils import load_backend
from kombu import Connection

TIMEOUT_SECONDS = 2.0
# What the database check runs (a test replaces it with a slow statement).
DATABASE_PROBE = "SELECT 1"


def database_status(timeout: float = TIMEOUT_SECONDS) -> tuple[bool, str]:
    return database_probe(connection.settings_dict, timeout=timeout)


def database_probe(settings_dict: dict, *, timeout: float = TIMEOUT_SECONDS) -> tuple[bool, str]:
    """Run DATABASE_PROBE on a connection of its own, closed afterwards, so the limits set here never
    reach the application's connections: on PostgreSQL a connect timeout (libpq counts whole seconds,
    at least 2) and a statement timeout."""
    postgres = settings_dict["ENGINE"] == "django.db.backends.postgresql"
    options = dict(settings_dict.get("OPTIONS") or {})
    if postgres:
        options["connect_timeout"] = max(2, math.ceil(timeout))
    probe = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(
        {**settings_dict, "OPTIONS": options, "CONN_MAX_AGE": 0}, "healthz"
    )
    try:
        with probe.cursor() as cursor:
            if postgres:
                cursor.execute("SET statement_timeout = %s", [int(timeout * 1000)])
            cursor.execute(DATABASE_PROBE)
            cursor.fetchone()
    except Exception as exc:  # any driver error, a timeout included, means "down"
        return False, f"error: {exc.__class__.__name__}"
    finally:
        probe.close()
    return True, "ok"


def broker_status(timeout: float = TIMEOUT_SECONDS) -> tuple[bool, str]:
    transport_options = dict(settings.CELERY_BROKER_TRANSPORT_OPTIONS)
    if settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        # Without a socket timeout the Redis client waits for ever for a server that accepted the
        # connection but does not answer.
        transport_options.update(socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        with Connection(
            settings.CELERY_BROKER_URL, transport_options=transport_options, connect_timeout=timeout
        ) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
    except Exception as exc:  # kombu raises transport-specific errors
        return False, f"error: {exc.__class__.__name__}"
    return True, "ok"

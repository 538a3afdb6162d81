"""Fixtures shared by every app's tests.

Tests that need a real service (Redis, PostgreSQL, Chromium) ask for it through
``require_service``: on a developer machine without it they are skipped with a
visible reason; in CI (CI=true) a missing service is a failure, never a skip.
"""

from __future__ import annotations

import os
import shutil
import socket

import pytest

# A real Celery worker for integration tests: the worker_factory fixture.
pytest_plugins = ["cxmetrics.tests.worker"]

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_service(available: bool, reason: str) -> None:
    if available:
        return
    if in_ci():
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def _default_cache_cleared():
    """Per-address counters (API token failures, public answers) live in the default cache, which a
    local-memory cache keeps for the whole run: each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def redis_url() -> str:
    from urllib.parse import urlparse

    parsed = urlparse(REDIS_URL)
    require_service(
        _port_open(parsed.hostname or "127.0.0.1", parsed.port or 6379), f"Redis is not reachable at {REDIS_URL}"
    )
    return REDIS_URL


@pytest.fixture
def postgres_db():
    """For tests that need PostgreSQL's concurrency (row locks, several processes on one database).

    A SQLite run skips them: they run in the PostgreSQL pass of CI, where a database
    that cannot be reached fails the whole run at connection time.
    """
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: runs when DATABASE_URL=postgres://... (the second pass of .ci/run)")


@pytest.fixture(scope="session")
def browser():
    require_service(os.path.exists(CHROMIUM) and bool(shutil.which(CHROMIUM)), f"Chromium not found at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is in requirements-dev.txt
        require_service(False, "playwright is not installed")
    # Playwright's sync API runs an event loop; Django must allow ORM calls from tests around it.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-quic",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def phone_page(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    yield page
    context.close()

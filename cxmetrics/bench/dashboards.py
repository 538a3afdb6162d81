"""Server time of every dashboard page and of the JSON API, through Django's test client, against
the data in the current database; and, in the same run, one full count of the responses table."""

from __future__ import annotations

import statistics
import time
from datetime import date, timedelta

from django.db import connection
from django.test import Client
from django.utils import timezone

PAGES = [
    ("overview", "/"),
    ("surveys", "/surveys/"),
    ("customers", "/customers/"),
    ("combined", "/combined/"),
    ("follow_up", "/follow-up/"),
    ("api", "/api/v1/metrics/"),
]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def _timed(fn, repeats: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def full_count_ms(repeats: int = 7, warmup: int = 1) -> float:
    def count() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM surveys_response")
            cursor.fetchone()

    return statistics.median(_timed(count, repeats, warmup))


def measure(*, client: Client, repeats: int = 7, warmup: int = 1, segment: str = "Key") -> list[dict]:
    today = timezone.localdate()
    with connection.cursor() as cursor:
        cursor.execute("SELECT MIN(submitted_at) FROM surveys_response")
        first = cursor.fetchone()[0]
    first_day = timezone.localtime(first).date() if first else today - timedelta(days=365)
    periods = {
        "last quarter": {"start": (today - timedelta(days=89)).isoformat(), "end": today.isoformat()},
        "all time": {"start": first_day.isoformat(), "end": today.isoformat()},
    }
    results = []
    for name, path in PAGES:
        for period, params in periods.items():
            for label, extra in (("no filter", {}), (f"segment={segment}", {"segment": segment})):
                query = {**params, **extra}

                def get(path=path, query=query) -> None:
                    response = client.get(path, query)
                    if response.status_code != 200:
                        raise RuntimeError(f"{path} {query} answered {response.status_code}")

                samples = _timed(get, repeats, warmup)
                results.append(
                    {
                        "page": name,
                        "period": period,
                        "filter": label,
                        "median_ms": statistics.median(samples),
                        "p95_ms": _percentile(samples, 95),
                    }
                )
    return results


def overview_samples(*, client: Client, repeats: int = 7, warmup: int = 2) -> list[float]:
    """Server times (ms) of the overview over the last quarter, no filter: the page the growth figure is
    about, measured alone so that two databases can be measured in alternation (see `bench --history`)."""
    today = timezone.localdate()
    query = {"start": (today - timedelta(days=89)).isoformat(), "end": today.isoformat()}

    def get() -> None:
        response = client.get("/", query)
        if response.status_code != 200:
            raise RuntimeError(f"/ {query} answered {response.status_code}")

    return _timed(get, repeats, warmup)


def first_day_of_data() -> date | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT MIN(submitted_at) FROM surveys_response")
        first = cursor.fetchone()[0]
    return timezone.localtime(first).date() if first else None

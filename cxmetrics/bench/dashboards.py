"""Server time of every dashboard page and of the JSON API, through Django's test client, against
the data in the current database; and, in the same run, one full count of the responses table."""

from __future__ import annotations

import statistics
import time
from datetime import date, timedelta

from django.db import connection
from django.db.models import Count, Min
from django.test import Client
from django.utils import timezone

from surveys.models import Response

PAGES = [
    ("overview", "/"),
    ("surveys", "/surveys/"),
    ("customers", "/customers/"),
    ("combined", "/combined/"),
    ("value", "/value/"),
    ("comments", "/comments/"),
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
    first_day = first_day_of_data() or today - timedelta(days=365)
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


def record_pages() -> list[tuple[str, str, dict]]:
    """The pages about single answers and customers: the explorer's first page (plain and searching a word
    no comment holds), the page and API document of the customer with the most answers. Pages added by
    other features append their own entries here."""
    today = timezone.localdate()
    quarter = {"start": (today - timedelta(days=89)).isoformat(), "end": today.isoformat()}
    busiest = (
        Response.objects.filter(customer__isnull=False)
        .values_list("customer_id", "customer__external_id")
        .annotate(n=Count("pk"))
        .order_by("-n")
        .first()
    )
    pages = [
        ("explorer, first page", "/responses/", quarter),
        ("explorer, text search without a match", "/responses/", {**quarter, "q": "zzqxj"}),
    ]
    pages += [
        ("customer list, by value", "/customers/list/", {}),
        ("customer list, by churn risk", "/customers/list/", {"sort": "risk"}),
        ("customer list, detractors at high risk", "/customers/list/", {"category": "detractor", "risk": "high"}),
        ("customer list, name search", "/customers/list/", {"q": "vega energy"}),
    ]
    if busiest:
        pages += [
            ("customer page (most answers)", f"/customers/{busiest[0]}/", {}),
            ("customer API (most answers)", f"/api/v1/customers/{busiest[1]}/", {}),
        ]
    return pages


def measure_records(*, client: Client, repeats: int = 7, warmup: int = 1) -> list[dict]:
    results = []
    for name, path, query in record_pages():

        def get(path=path, query=query) -> None:
            response = client.get(path, query)
            if response.status_code != 200:
                raise RuntimeError(f"{path} {query} answered {response.status_code}")

        samples = _timed(get, repeats, warmup)
        results.append({"page": name, "median_ms": statistics.median(samples), "p95_ms": _percentile(samples, 95)})
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
    first = Response.objects.aggregate(first=Min("submitted_at"))["first"]
    return timezone.localtime(first).date() if first else None

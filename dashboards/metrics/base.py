"""Small helpers shared by the metric modules: rates, time buckets, rank correlation."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

import pandas as pd
from django.conf import settings
from django.db.models.functions import TruncMonth, TruncQuarter, TruncWeek
from django.utils import timezone

from ..filters import GRANULARITIES, MetricFilters, site_timezone

NO_VALUE = "(none)"  # the key for a blank segment / reason in JSON objects

Result = TypeVar("Result")

# --- one computation per metric and filters within a page ------------------------------------------
#
# A page draws several charts from one metric (the NPS, CSAT and CES trends from one survey_trend, the
# KPI cards and the significance test from the same survey_scores, the referral card, chart and table
# from one referrals). Within ``shared_results()`` (a page, an API call, an export) a metric function
# decorated with ``@shared`` runs once per distinct set of arguments and hands every caller the same
# result. Results are frozen dataclasses or plain lists/dicts that callers only read. Outside the block
# (the tests, the tasks) every call computes afresh.
_results: ContextVar[dict | None] = ContextVar("dashboard_metric_results", default=None)


@contextmanager
def shared_results() -> Iterator[None]:
    token = _results.set({"now": timezone.now()})
    try:
        yield
    finally:
        _results.reset(token)


def current_time() -> datetime:
    """ "Now" for the metrics: one instant for all the figures of a page (within ``shared_results()``)."""
    results = _results.get()
    return results["now"] if results is not None else timezone.now()


def shared(function: Callable[..., Result]) -> Callable[..., Result]:
    """Computes ``function(**kwargs)`` once per distinct keyword arguments inside ``shared_results()``."""

    @functools.wraps(function)
    def wrapper(**kwargs) -> Result:
        results = _results.get()
        if results is None:
            return function(**kwargs)
        key = (function.__module__, function.__qualname__, tuple(sorted(kwargs.items())))
        if key not in results:
            results[key] = function(**kwargs)
        return results[key]

    return wrapper


def min_responses() -> int:
    """Below this many answers a figure is shown as "too few responses" on the pages."""
    return getattr(settings, "DASHBOARD_MIN_RESPONSES", 30)


def is_too_few(n: int | None) -> bool:
    """For the pages only: the API always returns the numbers."""
    return n is None or n < min_responses()


def rate(numerator: float | int | Decimal | None, denominator: float | int | Decimal | None) -> float | None:
    """100 × numerator / denominator, or None ("no data") when the denominator is zero or missing."""
    if numerator is None or not denominator:
        return None
    return 100.0 * float(numerator) / float(denominator)


def as_float(value: float | int | Decimal | None) -> float | None:
    """Averages come back as Decimal on PostgreSQL and float on SQLite; metrics return floats."""
    return None if value is None else float(value)


def trunc(field: str, granularity: str):
    """A Trunc* expression bucketing ``field`` in the site's time zone."""
    if granularity not in GRANULARITIES:
        raise ValueError(f"Unknown granularity {granularity!r}; use one of {', '.join(GRANULARITIES)}.")
    function = {"week": TruncWeek, "month": TruncMonth, "quarter": TruncQuarter}[granularity]
    return function(field, tzinfo=site_timezone())


def bucket_date(value: datetime | date) -> date:
    """The local date a Trunc* bucket starts on."""
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value, site_timezone())
        return value.date()
    return value


def day_ranges(days: list[date]) -> list[tuple[date, date]]:
    """Sorted days as the fewest ranges of consecutive days, both ends included."""
    ranges: list[tuple[date, date]] = []
    for day in days:
        if ranges and ranges[-1][1] + timedelta(days=1) == day:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def buckets(filters: MetricFilters, granularity: str) -> list[date]:
    """The first day of every week (Monday) / month / quarter that overlaps the period."""
    freq = {"week": "W-SUN", "month": "M", "quarter": "Q"}[granularity]
    periods = pd.period_range(start=filters.start, end=filters.end, freq=freq)
    return [p.start_time.date() for p in periods]


def _average_ranks(values: pd.Series, weights: pd.Series) -> pd.Series:
    """The rank each distinct value would get in the expanded data, ties sharing their average rank."""
    totals = weights.groupby(values).sum().sort_index()
    below = totals.cumsum() - totals
    ranks = below + (totals + 1) / 2
    return values.map(ranks)


def weighted_spearman(table: pd.DataFrame, x: str, y: str, weight: str = "count") -> tuple[float | None, int]:
    """Spearman's rho (average ranks for ties) from a table of distinct (x, y) pairs with their
    counts, equal to Spearman over the expanded rows without expanding them: it is the Pearson
    correlation of the ranks, each pair weighted by its count. Returns (rho, n); rho is None when
    n < 3 or either variable is constant."""
    if table.empty:
        return None, 0
    w = table[weight].astype(float)
    n = int(w.sum())
    if n < 3:
        return None, n
    rx = _average_ranks(table[x], w)
    ry = _average_ranks(table[y], w)
    mx, my = (w * rx).sum() / n, (w * ry).sum() / n
    cov = (w * (rx - mx) * (ry - my)).sum()
    vx = (w * (rx - mx) ** 2).sum()
    vy = (w * (ry - my) ** 2).sum()
    if vx <= 0 or vy <= 0:
        return None, n
    return float(cov / (vx * vy) ** 0.5), n

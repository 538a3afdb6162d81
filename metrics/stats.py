"""Small helpers of the metric modules: rates, period buckets, rank correlation from counts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pandas as pd
from django.conf import settings
from django.db.models import DurationField, ExpressionWrapper, F, QuerySet

from core.definitions import Z_95

from .filters import MetricFilters


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


@dataclass(frozen=True)
class RateChange:
    """A rate (in %) against an earlier one: the change in points, its 95 % interval and whether it is
    significant (the interval excludes zero). Two independent proportions, unpooled standard error."""

    change: float | None
    low: float | None
    high: float | None
    significant: bool | None


def rate_change(hits: int, n: int, hits_before: int, n_before: int) -> RateChange:
    """100 × (hits/n − hits_before/n_before) with its 95 % interval (normal approximation); all None when
    a side has no answers. When both rates sit at 0 or 100 % the interval is the change itself and
    significance is undefined (None)."""
    if not n or not n_before:
        return RateChange(None, None, None, None)
    p, q = hits / n, hits_before / n_before
    change = 100.0 * (p - q)
    se = math.sqrt(p * (1 - p) / n + q * (1 - q) / n_before)
    if se == 0:
        return RateChange(change, change, change, None)
    margin = 100.0 * Z_95 * se
    return RateChange(change, change - margin, change + margin, abs(change) > margin)


def median_hours(rows: QuerySet, *, start: str, end: str) -> tuple[float | None, int]:
    """The median of ``end − start`` in hours over the ``rows`` that have both (None without any), and
    how many have both. The database sorts the durations and hands back the middle one or two: two
    queries, whatever the number of rows."""
    rows = rows.filter(**{f"{start}__isnull": False, f"{end}__isnull": False})
    n = rows.count()
    if not n:
        return None, 0
    took = ExpressionWrapper(F(end) - F(start), output_field=DurationField())
    middle = list(rows.annotate(took=took).order_by("took").values_list("took", flat=True)[(n - 1) // 2 : n // 2 + 1])
    return sum(d.total_seconds() for d in middle) / len(middle) / 3600, n


def as_float(value: float | int | Decimal | None) -> float | None:
    return None if value is None else float(value)


def buckets(filters: MetricFilters, granularity: str) -> list[date]:
    """The first day of every week (Monday) / month / quarter that overlaps the period."""
    freq = {"week": "W-SUN", "month": "M", "quarter": "Q"}[granularity]
    return [p.start_time.date() for p in pd.period_range(start=filters.start, end=filters.end, freq=freq)]


def bucket_end(day: date, granularity: str) -> date:
    """The last day of the week / month / quarter that starts on ``day``."""
    freq = {"week": "W-SUN", "month": "M", "quarter": "Q"}[granularity]
    return pd.Period(day, freq=freq).end_time.date()


def period_label(day: date, granularity: str) -> str:
    """A short label for a bucket: 2026-W07, 2026-02, 2026-Q1."""
    if granularity == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if granularity == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    return f"{day.year}-{day.month:02d}"


def _average_ranks(values: pd.Series, weights: pd.Series) -> pd.Series:
    """The rank each distinct value would get in the expanded data, ties sharing their average rank."""
    totals = weights.groupby(values).sum().sort_index()
    below = totals.cumsum() - totals
    return values.map(below + (totals + 1) / 2)


def weighted_spearman(table: pd.DataFrame, x: str, y: str, weight: str = "count") -> tuple[float | None, int]:
    """Spearman's rho (average ranks for ties) from a table of distinct (x, y) pairs with their counts,
    equal to Spearman over the expanded rows: the Pearson correlation of the ranks, each pair weighted
    by its count. Returns (rho, n); rho is None when n < 3 or either variable is constant."""
    if table.empty:
        return None, 0
    w = table[weight].astype(float)
    n = int(w.sum())
    if n < 3:
        return None, n
    rx, ry = _average_ranks(table[x], w), _average_ranks(table[y], w)
    mx, my = (w * rx).sum() / n, (w * ry).sum() / n
    cov = (w * (rx - mx) * (ry - my)).sum()
    vx, vy = (w * (rx - mx) ** 2).sum(), (w * (ry - my) ** 2).sum()
    if vx <= 0 or vy <= 0:
        return None, n
    return float(cov / (vx * vy) ** 0.5), n

"""Customer lifetime value (shared/METRICS.md, "Customer value and advocacy").

Revenue-based: the value of a customer is their annual revenue (``Customer.value``), not a margin.
The annual churn rate is the customer-base churn rate (``customers.customer_base``) over the
CLV churn window ending on the period's last day, so "lost" and "customers at start" mean what they
mean everywhere else; the customers active at the end and their values come from the customer base
(``customer_base.base_at``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import timedelta

from core.definitions import ADVOCACY_COMPONENTS, CLV_CHURN_WINDOW_DAYS, CLV_LIFETIME_CAP_YEARS, SCALES

from .customer_base import ALL, base_at
from .customers import customer_base
from .facts import ADVOCACY
from .filters import MetricFilters
from .read import kept_until_refresh, read, segments, shared
from .stats import as_float


@dataclass(frozen=True)
class Lifetime:
    segment: str | None  # None: every segment (or the segment of the filters)
    at_start: int  # customers at the start of the churn window
    lost: int  # lost in the churn window
    churn_rate: float | None  # annual churn rate, %
    expected_lifetime: float | None  # years; None when the churn rate is 0 or has no data
    capped: bool  # the lifetime is the cap, not 1 / churn
    active: int  # customers active at the end of the period
    mean_value: float | None  # their mean annual value
    clv: float | None  # mean value × expected lifetime

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def churn_window(filters: MetricFilters) -> MetricFilters:
    """The CLV churn window: the days up to the period's last day, that day included."""
    return dataclasses.replace(filters, start=filters.end - timedelta(days=CLV_CHURN_WINDOW_DAYS - 1))


def expected_lifetime(churn_rate: float | None) -> tuple[float | None, bool]:
    """(1 / (annual churn rate / 100) years capped, whether it was capped); (None, False) without churn."""
    if not churn_rate:
        return None, False
    years = 100.0 / churn_rate
    return (float(CLV_LIFETIME_CAP_YEARS), True) if years > CLV_LIFETIME_CAP_YEARS else (years, False)


def _lifetime(filters: MetricFilters, segment_id: int | None, name: str | None) -> Lifetime:
    window = dataclasses.replace(churn_window(filters), segment=segment_id)
    base = customer_base(filters=window)
    lifetime, capped = expected_lifetime(base.churn_rate)
    active, value = base_at(filters.end + timedelta(days=1), segment_id=segment_id)[ALL]
    mean = as_float(value) / active if active else None
    return Lifetime(
        segment=name,
        at_start=base.at_start,
        lost=base.lost,
        churn_rate=base.churn_rate,
        expected_lifetime=lifetime,
        capped=capped,
        active=active,
        mean_value=mean,
        clv=None if mean is None or lifetime is None else mean * lifetime,
    )


@shared
def customer_lifetime_value(*, filters: MetricFilters) -> Lifetime:
    """CLV of the customers active at the end of the period (of the filters' segment, if any). Kept until
    the read model's next refresh, like CLV per segment: a customer-base count over the churn window."""
    filters = filters.resolved()
    segment_id = filters.segment_id()
    name = segments().get(segment_id, {}).get("name") if segment_id else None
    return kept_until_refresh(f"clv:{name!r}", filters, lambda: _lifetime(filters, segment_id, name))


@shared
def clv_by_segment(*, filters: MetricFilters) -> list[Lifetime]:
    """CLV per segment, highest rank first, each with its own churn rate (a customer counts in the
    segment they were in at the time, as the customer-base figures with a segment filter count). Kept
    until the read model's next refresh: each segment is a customer-base count of its own."""
    named = [(pk, s) for pk, s in segments().items() if pk is not None]
    named.sort(key=lambda item: -item[1]["rank"])
    return kept_until_refresh("clv-by-segment", filters, lambda: [_lifetime(filters, pk, s["name"]) for pk, s in named])


@dataclass(frozen=True)
class AdvocacyIndex:
    index: float | None  # 0-100; None without a counted response
    n: int  # responses that answered at least the minimum of its components

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def advocacy_points(question: str, answer: int) -> float:
    """An answer mapped to 0-100 on its scale: NPS × 10, CSAT and trust (x − 1) × 25."""
    low, high = SCALES[question]
    return 100.0 * (answer - low) / (high - low)


@shared
def advocacy_index(*, filters: MetricFilters) -> AdvocacyIndex:
    """The Customer Advocacy Index: per response, the mean of the components it answered, each mapped to
    0-100; the index is the mean over the responses that answered at least the minimum of them (the
    rollup holds only those), with their number."""
    total, n = 0.0, 0
    for row in read(ADVOCACY, filters, by=ADVOCACY_COMPONENTS):
        points = [advocacy_points(q, row[q]) for q in ADVOCACY_COMPONENTS if row[q] is not None]
        total += row["n"] * sum(points) / len(points)
        n += row["n"]
    return AdvocacyIndex(index=total / n if n else None, n=n)

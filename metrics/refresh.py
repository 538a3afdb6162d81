"""Bringing the read model up to date: drain the recorded changes (recompute the stale days of each
fact and the spells of the changed customers), then roll up the days that have settled since the last
run. Idempotent, safe to run concurrently (the fill state rows are locked) and to interrupt (every
transaction leaves the rollups and the pending changes consistent)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from core.days import local_day
from core.models import Change
from core.outbox import last_settled_day

from .customer_base import customers_rebuild, customers_refresh
from .facts import DAY_FACTS, Fact
from .models import FillState
from .read import Plan, day_ranges, month_end, rows, stale_days

logger = logging.getLogger(__name__)

CHANGES_PER_RUN = 5000  # recorded changes drained per transaction
CHUNK_DAYS = 31  # days rolled up per transaction when catching up


@dataclass
class RefreshReport:
    changes: int = 0
    customers: int = 0
    days_recomputed: dict[str, int] = field(default_factory=dict)
    days_rolled_up: dict[str, int] = field(default_factory=dict)


def _lock() -> dict[str, FillState]:
    for fact in DAY_FACTS:
        FillState.objects.get_or_create(fact=fact.name)
    return {
        s.fact: s
        for s in FillState.objects.select_for_update().filter(fact__in=[f.name for f in DAY_FACTS]).order_by("fact")
    }


def _recompute(fact: Fact, days: list[date], *, through: date) -> None:
    """Replace the rollup rows of these days by their raw rows aggregated, and the month rows of the
    months they fall in that are rolled up whole (up to ``through``) by their day rows added up."""
    ranges = day_ranges(sorted(days))
    if not ranges:
        return
    fact.model.objects.filter(whole_month=False, day__in=days).delete()
    by = [*fact.dimensions, *fact.keys]
    found = rows(fact, Plan(rolled=[], raw=ranges), None, by, "day")
    fact.model.objects.bulk_create(
        [fact.model(day=row["bucket"], **{name: row[name] for name in [*by, *fact.measures]}) for row in found],
        batch_size=2000,
    )
    months = sorted({day.replace(day=1) for day in days if month_end(day) <= through})
    fact.model.objects.filter(whole_month=True, day__in=months).delete()
    for month in months:
        found = rows(fact, Plan(rolled=[(month, month_end(month))], raw=[]), None, by, None)
        fact.model.objects.bulk_create(
            [
                fact.model(day=month, whole_month=True, **{name: row[name] for name in [*by, *fact.measures]})
                for row in found
            ],
            batch_size=2000,
        )


def _drain(report: RefreshReport) -> bool:
    """One transaction's worth of recorded changes; False when there were none."""
    with transaction.atomic():
        states = _lock()
        changes = list(Change.objects.order_by("pk").values_list("pk", "kind", "day", "customer_id")[:CHANGES_PER_RUN])
        if not changes:
            return False
        report.changes += len(changes)
        customers = {c for _pk, kind, _day, c in changes if kind == Change.Kind.CUSTOMERS and c}
        report.customers += customers_refresh(customers)
        for fact in DAY_FACTS:
            through = states[fact.name].through
            days = sorted(d for d in stale_days(fact, [c[1:] for c in changes]) if through and d <= through)
            _recompute(fact, days, through=through)
            report.days_recomputed[fact.name] = report.days_recomputed.get(fact.name, 0) + len(days)
        Change.objects.filter(pk__in=[pk for pk, *_ in changes]).delete()
    return True


def _first_day(fact: Fact) -> date | None:
    first = fact.source().aggregate(first=Min(fact.moment))["first"]
    return local_day(first) if first else None


def _catch_up(report: RefreshReport) -> None:
    """Roll up, a chunk of days per transaction, the days settled since each fact's last run."""
    last = last_settled_day()
    for fact in DAY_FACTS:
        while True:
            with transaction.atomic():
                state = _lock()[fact.name]
                first = (
                    state.through + timedelta(days=1)
                    if state.through
                    else (_first_day(fact) or last + timedelta(days=1))
                )
                if first > last:
                    if state.through is None or state.through < last:
                        state.through = last  # nothing (more) to roll up up to ``last``
                        state.save(update_fields=["through"])
                    break
                chunk_last = min(first + timedelta(days=CHUNK_DAYS - 1), last)
                days = [first + timedelta(days=i) for i in range((chunk_last - first).days + 1)]
                _recompute(fact, days, through=chunk_last)
                state.through = chunk_last
                state.save(update_fields=["through"])
                report.days_rolled_up[fact.name] = (
                    report.days_rolled_up.get(fact.name, 0) + (chunk_last - first).days + 1
                )


def metrics_refresh() -> RefreshReport:
    report = RefreshReport()
    while _drain(report):
        pass
    _catch_up(report)
    # Stamped only when the rollups changed: what is kept per refresh (the driver weights) stays valid
    # through the quiet minutes in between.
    states = FillState.objects.filter(fact__in=[f.name for f in DAY_FACTS])
    if report.changes or report.days_recomputed or report.days_rolled_up:
        states.update(refreshed_at=timezone.now())
    else:
        states.filter(refreshed_at__isnull=True).update(refreshed_at=timezone.now())
    return report


def rollups_rebuild() -> RefreshReport:
    """Drop every rollup and rebuild it from the raw rows: after a bulk load that bypassed the services,
    or a change of TIME_ZONE (the days themselves move). Until the days are rolled up again the figures
    come from the raw rows, exact, only slower."""
    with transaction.atomic():
        _lock()
        for fact in DAY_FACTS:
            fact.model.objects.all().delete()
        FillState.objects.update(through=None)
        customers_rebuild()
    return metrics_refresh()

"""Reading a fact (``metrics.facts``): the days its rollup holds from the rollup, every other day of the
period from the raw rows (today and yesterday, the days a change was recorded for since the last
refresh, the days not rolled up yet), added up per group, so a figure equals the raw computation
whether or not the refresh has run. Inside ``snapshot()`` (a page, an API call, an export) every read
comes from one consistent state of the database, and each metric is computed once per arguments."""

from __future__ import annotations

import functools
import hashlib
import operator
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import reduce
from typing import TypeVar

from django.core.cache import cache
from django.db import connections, transaction
from django.db.models import DateField, F, Max, Q, QuerySet, Sum, Value
from django.db.models.functions import Trunc, TruncDate

from core.days import day_start, site_timezone
from core.days import today as local_today
from core.db import replica_reads
from core.models import Change
from core.outbox import last_settled_day
from customers.models import Segment

from .facts import Fact
from .filters import GRANULARITIES, MetricFilters
from .models import FillState

Result = TypeVar("Result")
CENT = Decimal("0.01")
# What kept_until_refresh stores outlives its refresh by no more than this (a refresh that stopped running).
KEPT_SECONDS = 3600
_context: ContextVar[dict | None] = ContextVar("metrics_snapshot", default=None)


@contextmanager
def snapshot() -> Iterator[None]:
    """Read everything inside from one consistent state of the database (the replica's, when there is
    one), and compute each ``@shared`` metric once per arguments."""
    if _context.get() is not None:
        yield
        return
    with replica_reads() as alias, _read_only_transaction(alias):
        token = _context.set({})
        try:
            yield
        finally:
            _context.reset(token)


@contextmanager
def _read_only_transaction(alias: str) -> Iterator[None]:
    connection = connections[alias]
    if connection.in_atomic_block:
        yield  # the caller's transaction (a test's) is the snapshot
        return
    if connection.vendor == "sqlite":
        # A deferred transaction reads one snapshot (WAL) without taking the write lock an
        # IMMEDIATE one (settings) would hold for the whole page.
        connection.ensure_connection()
        mode, connection.transaction_mode = connection.transaction_mode, "DEFERRED"
        try:
            with transaction.atomic(using=alias):
                yield
        finally:
            connection.transaction_mode = mode
        return
    with transaction.atomic(using=alias):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def shared(function: Callable[..., Result]) -> Callable[..., Result]:
    """Inside ``snapshot()``, ``function(**kwargs)`` runs once per distinct keyword arguments and every
    caller gets the same result (which callers only read)."""

    @functools.wraps(function)
    def wrapper(**kwargs) -> Result:
        context = _context.get()
        if context is None:
            return function(**kwargs)
        key = (function.__module__, function.__qualname__, tuple(sorted(kwargs.items())))
        if key not in context:
            context[key] = function(**kwargs)
        return context[key]

    return wrapper


def kept(name: str, compute: Callable[[], Result]) -> Result:
    """A value computed once per snapshot (the pending changes, the fill states)."""
    context = _context.get()
    if context is None:
        return compute()
    if name not in context:
        context[name] = compute()
    return context[name]


def kept_until_refresh(name: str, filters: MetricFilters, compute: Callable[[], Result]) -> Result:
    """``compute()`` for these filters, stored (the default cache) until the read model's next refresh that
    changes a rollup, or the next day: for the few estimates that cost far more than a page's rollup reads
    (the driver weights, the retention curves, CLV per segment). Answers and events stored since the last
    refresh count from the next one (within a minute), as in a rollup."""
    refreshed = last_refresh()
    if refreshed is None:
        return compute()
    # The day is in the key: a figure counted up to today (customers still followed) moves with it.
    text = f"{name}:{refreshed.isoformat()}:{local_today().isoformat()}:{filters.resolved()!r}"
    key = "kept:" + hashlib.sha256(text.encode()).hexdigest()
    found = cache.get(key)
    if found is None:
        found = compute()
        cache.set(key, found, timeout=KEPT_SECONDS)
    return found


def last_refresh() -> datetime | None:
    """When the read model's last refresh that changed a rollup ended (None before the first refresh):
    what ``kept_until_refresh`` keys its figures on. Read once per snapshot."""
    return kept("refreshed_at", lambda: FillState.objects.aggregate(latest=Max("refreshed_at"))["latest"])


def segments() -> dict[int | None, dict]:
    """{segment id: {name, rank}} (None: no segment), read once per snapshot."""

    def compute():
        rows = Segment.objects.values_list("pk", "name", "rank")
        return {None: {"name": None, "rank": None}, **{pk: {"name": n, "rank": r} for pk, n, r in rows}}

    return kept("segments", compute)


def pending_changes() -> list[tuple[str, date | None, int | None]]:
    """The changes recorded since the last refresh: (kind, day, customer id)."""
    return kept("changes", lambda: list(Change.objects.values_list("kind", "day", "customer_id")))


def _through(fact: Fact) -> date | None:
    states = kept("fill", lambda: dict(FillState.objects.values_list("fact", "through")))
    return states.get(fact.name)


def stale_days(fact: Fact, changes: list[tuple[str, date | None, int | None]]) -> set[date]:
    """The days of ``fact`` the recorded ``changes`` make stale."""
    return {
        stale
        for kind, day, _customer in changes
        if day and kind in fact.changed_by
        for stale in fact.stale_days(kind, day)
    }


@dataclass(frozen=True)
class Plan:
    rolled: list[tuple[date, date]]  # day ranges read from the rollup's day rows
    raw: list[tuple[date, date]]  # day ranges read from the raw rows
    months: list[date] = field(default_factory=list)  # whole months read from their month rows


def month_end(day: date) -> date:
    following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return following - timedelta(days=1)


def day_ranges(days: list[date]) -> list[tuple[date, date]]:
    """Sorted days as the fewest ranges of consecutive days, both ends included."""
    ranges: list[tuple[date, date]] = []
    for day in days:
        if ranges and ranges[-1][1] + timedelta(days=1) == day:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def plan(fact: Fact, start: date, end: date, *, months: bool = True) -> Plan:
    """Which days of ``start``-``end`` to read how: the rolled-up months and days without a pending
    change from the rollup (a whole month from its month row, with ``months``), every other day from
    the raw rows."""
    through = _through(fact)
    if through is None or through < start:
        return Plan([], [(start, end)])
    last = min(end, through, last_settled_day())
    stale = {day for day in stale_days(fact, pending_changes()) if start <= day <= last}
    days = [start + timedelta(days=i) for i in range((last - start).days + 1)]
    whole = {d for d in days if months and d.day == 1 and month_end(d) <= last} - {d.replace(day=1) for d in stale}
    rolled = [d for d in days if d not in stale and d.replace(day=1) not in whole]
    raw = day_ranges(sorted(stale))
    if last < end:
        raw.append((last + timedelta(days=1), end))
    return Plan(day_ranges(rolled), raw, sorted(whole))


def _on_days(field: str, ranges: list[tuple[date, date]], *, moment: bool) -> Q:
    if moment:
        parts = (
            Q(**{f"{field}__gte": day_start(a), f"{field}__lt": day_start(b + timedelta(days=1))}) for a, b in ranges
        )
    else:
        parts = (Q(**{f"{field}__gte": a, f"{field}__lte": b}) for a, b in ranges)
    return reduce(operator.or_, parts)


def _bucket(field: str, granularity: str, *, moment: bool):
    if granularity == "day":
        return TruncDate(field, tzinfo=site_timezone()) if moment else F(field)
    if granularity not in GRANULARITIES:
        raise ValueError(f"Unknown granularity {granularity!r}; use one of {', '.join(GRANULARITIES)}.")
    if moment:
        return Trunc(field, granularity, output_field=DateField(), tzinfo=site_timezone())
    return Trunc(field, granularity, output_field=DateField())


def _members(
    fact: Fact, split: Plan, filters: MetricFilters | None, by: list[str], bucket: str | None
) -> list[QuerySet]:
    """The rollup's rows of the rolled-up days and the raw rows of the others (one member per part of
    the fact), each grouped by ``by`` (and the bucket) as k0, k1… with the fact's measures: the members
    of one UNION ALL."""
    names = {f"k{i}": name for i, name in enumerate(by)}
    one_group = Value(None, output_field=DateField())  # no key: one row for the whole period
    members = []
    if split.rolled or split.months:
        keys = {alias: F(name) for alias, name in names.items()}
        keys["bucket"] = _bucket("day", bucket, moment=False) if bucket else one_group
        rows = Q(whole_month=True, day__in=split.months)
        if split.rolled:
            rows |= Q(whole_month=False) & _on_days("day", split.rolled, moment=False)
        qs = fact.model.objects.filter(rows)
        if filters is not None:
            qs = qs.filter(fact.where(filters, True))
        members.append(qs.values(**keys).annotate(**{m: Sum(m) for m in fact.measures}).order_by())
    for part in fact.parts if split.raw else ():
        keys = {
            alias: F(fact.dimensions.get(name, name)) if part.keys.get(name) is None else part.keys[name]
            for alias, name in names.items()
        }
        keys["bucket"] = _bucket(fact.moment, bucket, moment=True) if bucket else one_group
        qs = fact.source().filter(_on_days(fact.moment, split.raw, moment=True), part.where)
        if filters is not None:
            qs = qs.filter(fact.where(filters, False))
        members.append(
            qs.values(**keys).annotate(**{m: aggregate() for m, aggregate in fact.measures.items()}).order_by()
        )
    return members


def rows(fact: Fact, split: Plan, filters: MetricFilters | None, by: list[str], bucket: str | None) -> list[dict]:
    """The members as one statement, their rows with the names of ``by`` (and "bucket")."""
    members = _members(fact, split, filters, by, bucket)
    if not members:
        return []
    union = members[0].union(*members[1:], all=True) if len(members) > 1 else members[0]
    return [{**{name: row[f"k{i}"] for i, name in enumerate(by)}, **row} for row in union]


def read(fact: Fact, filters: MetricFilters, *, by: tuple[str, ...] = (), bucket: str | None = None) -> list[dict]:
    """The fact's measures summed over the period per value of ``by`` (and per ``bucket``: day, week, month
    or quarter, as the "bucket" value), one dict per group."""
    if bucket and bucket != "day" and bucket not in GRANULARITIES:
        raise ValueError(f"Unknown granularity {bucket!r}; use one of {', '.join(GRANULARITIES)}.")
    filters = filters.resolved()
    names = [*by, *(["bucket"] if bucket else [])]
    totals: dict[tuple, dict] = {}
    split = plan(fact, filters.start, filters.end, months=bucket in (None, "month", "quarter"))
    for row in rows(fact, split, filters, list(by), bucket):
        found = totals.setdefault(tuple(row[name] for name in names), dict.fromkeys(fact.measures, 0))
        for measure in fact.measures:
            found[measure] += row[measure] or 0
    for sums in totals.values():
        for measure, total in sums.items():
            if isinstance(total, Decimal):
                sums[measure] = total.quantize(CENT)  # SQLite adds decimals up as floating point
    return [dict(zip(names, key, strict=True)) | sums for key, sums in totals.items()]

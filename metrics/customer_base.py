"""The customer base at 00:00 (site time) of any day, by segment and NPS category then.

A customer counts at 00:00 of day D when acquired before it and not lost before it (never a prospect);
their segment then is the target of their last segment move before it (else the origin of their first
move after it, else their current segment); their category then is that of their latest NPS answer
before it if that answer falls within the category window before D, else "no response"; their value
is their current value (shared/METRICS.md, core.definitions).

Each customer's days are stored as spells (CustomerSpell: days on which all of that stays the same),
and the base as its changes per day (BaseDaily: spells starting and ending there), so the base at any
day is one sum however many customers there are. A customer whose data changed (a recorded change) is
read from the raw rows until the refresh recomputes their spells; both happen in ``base_at``.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Case, Count, F, Max, Q, Sum, When
from django.db.models.functions import TruncMonth

from core.days import local_day
from core.definitions import CATEGORIES, CATEGORY_WINDOW_DAYS, NO_RESPONSE, nps_category
from core.models import Change
from customers.models import Customer, Event
from surveys.models import Response

from .models import BaseDaily, BaseMonthStart, CustomerSpell
from .read import kept, pending_changes

ALL = "all"
CENT = Decimal("0.01")
CHUNK = 2000
ONE_DAY = timedelta(days=1)


# --- a customer's spells, from their raw rows -----------------------------------------------------


def _customer_spells(customer: dict, moves: list[tuple], answers: list[tuple]) -> list[CustomerSpell]:
    """``moves``: (day, from, to) in the order they happened; ``answers``: (day, nps) likewise."""
    if customer["status"] == Customer.Status.PROSPECT or customer["acquired_at"] is None:
        return []
    first = local_day(customer["acquired_at"]) + ONE_DAY
    end = local_day(customer["lost_at"]) + ONE_DAY if customer["lost_at"] else None
    if end is not None and end <= first:
        return []
    move_days = [day for day, _from, _to in moves]
    answer_days = [day for day, _nps in answers]

    def segment_on(day: date) -> int | None:
        before = bisect.bisect_left(move_days, day)  # moves on days before ``day``
        candidates = [moves[before - 1][2]] if before else []
        candidates += [moves[before][1]] if before < len(moves) else []
        return next((s for s in candidates if s is not None), customer["segment_id"])

    def category_on(day: date) -> str:
        before = bisect.bisect_left(answer_days, day)
        if not before or answer_days[before - 1] < day - timedelta(days=CATEGORY_WINDOW_DAYS):
            return NO_RESPONSE
        return nps_category(answers[before - 1][1])

    changes = {first}
    changes.update(day + ONE_DAY for day in move_days)
    for day in answer_days:
        changes.update((day + ONE_DAY, day + timedelta(days=CATEGORY_WINDOW_DAYS + 1)))
    days = sorted(day for day in changes if day >= first and (end is None or day < end))
    spells: list[CustomerSpell] = []
    for day, following in zip(days, [*days[1:], end], strict=True):
        state = (segment_on(day), category_on(day))
        if spells and (spells[-1].segment_id, spells[-1].category) == state:
            spells[-1].end_day = following
            continue
        spells.append(
            CustomerSpell(
                customer_id=customer["pk"],
                segment_id=state[0],
                category=state[1],
                first_day=day,
                end_day=following,
                value=customer["value"],
            )  # fmt: skip
        )
    return spells


def spells_for(customer_ids: Iterable[int]) -> list[CustomerSpell]:
    """The spells of these customers as their raw rows give them now (three queries per chunk)."""
    ids = sorted(set(customer_ids))
    spells: list[CustomerSpell] = []
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i : i + CHUNK]
        moves, answers = defaultdict(list), defaultdict(list)
        for customer_id, at, source, target in (
            Event.objects.filter(customer_id__in=chunk, type=Event.Type.SEGMENT_MOVE)
            .order_by("customer_id", "occurred_at", "pk")
            .values_list("customer_id", "occurred_at", "from_segment_id", "to_segment_id")
        ):
            moves[customer_id].append((local_day(at), source, target))
        for customer_id, at, nps in (
            Response.objects.filter(customer_id__in=chunk, nps__isnull=False)
            .order_by("customer_id", "submitted_at", "pk")
            .values_list("customer_id", "submitted_at", "nps")
        ):
            answers[customer_id].append((local_day(at), nps))
        for customer in Customer.objects.filter(pk__in=chunk).values(
            "pk", "status", "acquired_at", "lost_at", "segment_id", "value"
        ):
            spells += _customer_spells(customer, moves[customer["pk"]], answers[customer["pk"]])
    return spells


# --- keeping the stored spells and daily changes ----------------------------------------------------


def _store_base_days(days: set[date]) -> None:
    """Recompute the daily changes of these days from the stored spells."""
    days = sorted(days)
    for i in range(0, len(days), CHUNK):
        chunk = days[i : i + CHUNK]
        totals: dict[tuple, list] = defaultdict(lambda: [0, Decimal(0)])
        for field, sign in (("first_day", 1), ("end_day", -1)):
            for row in (
                CustomerSpell.objects.filter(**{f"{field}__in": chunk})
                .values("segment_id", "category", day=F(field))
                .annotate(n=Count("pk"), total=Sum("value"))
                .order_by()
            ):
                found = totals[(row["day"], row["segment_id"], row["category"])]
                found[0] += sign * row["n"]
                found[1] += sign * row["total"]
        BaseDaily.objects.filter(day__in=chunk).delete()
        BaseDaily.objects.bulk_create(
            [
                BaseDaily(day=day, segment_id=segment, category=category, customers=n, value=value)
                for (day, segment, category), (n, value) in totals.items()
                if n or value
            ],
            batch_size=1000,
        )
    _store_month_starts()


def _store_month_starts() -> None:
    """Recompute the base at the start of every month from the daily changes (a few hundred rows)."""
    changes = (
        BaseDaily.objects.annotate(month=TruncMonth("day"), first=Case(When(day__day=1, then=True), default=False))
        .values("month", "first", "segment_id", "category")
        .annotate(n=Sum("customers"), total=Sum("value"))
        .order_by()
    )
    by_start: dict[date, list[dict]] = defaultdict(list)
    for row in changes:
        # A change on day d is in the base at every month start on or after d.
        by_start[row["month"] if row["first"] else _next_month(row["month"])].append(row)
    if not by_start:
        BaseMonthStart.objects.all().delete()
        return
    running: dict[tuple, list] = defaultdict(lambda: [0, Decimal(0)])
    rows = []
    month = min(by_start)
    while month <= max(by_start):
        for row in by_start.get(month, []):
            found = running[(row["segment_id"], row["category"])]
            found[0] += row["n"]
            found[1] += Decimal(row["total"]).quantize(CENT)
        rows += [
            BaseMonthStart(day=month, segment_id=segment, category=category, customers=n, value=value)
            for (segment, category), (n, value) in running.items()
            if n or value
        ]
        month = _next_month(month)
    BaseMonthStart.objects.all().delete()
    BaseMonthStart.objects.bulk_create(rows, batch_size=2000)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _days_of(spells: Iterable[CustomerSpell]) -> set[date]:
    return {day for spell in spells for day in (spell.first_day, spell.end_day) if day is not None}


def customers_refresh(customer_ids: Iterable[int]) -> int:
    """Recompute the spells of these customers and the daily changes they touch; inside a transaction
    holding the refresh lock. Returns how many customers."""
    ids = sorted(set(customer_ids))
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i : i + CHUNK]
        old = CustomerSpell.objects.filter(customer_id__in=chunk)
        days = set(old.values_list("first_day", flat=True)) | set(
            old.filter(end_day__isnull=False).values_list("end_day", flat=True)
        )
        old.delete()
        new = spells_for(chunk)
        CustomerSpell.objects.bulk_create(new, batch_size=1000)
        _store_base_days(days | _days_of(new))
    return len(ids)


def customers_rebuild() -> int:
    """Recompute every customer's spells and the daily changes from the raw rows; inside a transaction."""
    CustomerSpell.objects.all().delete()
    BaseDaily.objects.all().delete()
    BaseMonthStart.objects.all().delete()
    ids = list(Customer.objects.exclude(status=Customer.Status.PROSPECT).order_by("pk").values_list("pk", flat=True))
    for i in range(0, len(ids), CHUNK):
        CustomerSpell.objects.bulk_create(spells_for(ids[i : i + CHUNK]), batch_size=5000)
    days = set(CustomerSpell.objects.values_list("first_day", flat=True).distinct())
    days |= set(CustomerSpell.objects.filter(end_day__isnull=False).values_list("end_day", flat=True).distinct())
    _store_base_days(days)
    return len(ids)


# --- reading ------------------------------------------------------------------------------------------


def pending_customers() -> set[int]:
    """The customers with a change recorded since the last refresh: read from their raw rows."""
    return {customer for kind, _day, customer in pending_changes() if kind == Change.Kind.CUSTOMERS and customer}


def pending_spells() -> tuple[list[CustomerSpell], list[CustomerSpell]]:
    """(the stored spells of the pending customers, their spells as the raw rows give them now)."""

    def compute():
        pending = pending_customers()
        if not pending:
            return [], []
        return list(CustomerSpell.objects.filter(customer_id__in=pending)), spells_for(pending)

    return kept("pending spells", compute)


def covers(spell: CustomerSpell, day: date) -> bool:
    return spell.first_day <= day and (spell.end_day is None or day < spell.end_day)


def spells_covering(day: date) -> Q:
    return Q(first_day__lte=day) & (Q(end_day__isnull=True) | Q(end_day__gt=day))


def base_at(day: date, *, segment_id: int | None = None) -> dict[str, tuple[int, Decimal]]:
    """At 00:00 of ``day``: {category: (customers, sum of their values)} for every category, no_response
    included, and "all", in segment ``segment_id`` then (any segment when None)."""
    return kept(("base", day, segment_id), lambda: _base_at(day, segment_id))


def _base_at(day: date, segment_id: int | None) -> dict[str, tuple[int, Decimal]]:
    stored, fresh = pending_spells()
    # The base at the start of the month (or of the last month anything changes in), and the changes
    # of the days since: one statement.
    last = kept("last month start", lambda: BaseMonthStart.objects.aggregate(last=Max("day"))["last"])
    month = min(day.replace(day=1), last) if last else day.replace(day=1)
    parts = [BaseMonthStart.objects.filter(day=month), BaseDaily.objects.filter(day__lte=day, day__gt=month)]
    if segment_id is not None:
        parts = [part.filter(segment_id=segment_id) for part in parts]
    parts = [part.values_list("category").annotate(Sum("customers"), Sum("value")).order_by() for part in parts]
    found = {c: [0, Decimal(0)] for c in (*CATEGORIES, NO_RESPONSE)}
    for category, n, value in parts[0].union(parts[1], all=True):
        found[category][0] += n or 0
        # Rounded to the cent: SQLite adds decimals up as floating point.
        found[category][1] += Decimal(value or 0).quantize(CENT)
    for spells, sign in ((stored, -1), (fresh, 1)):
        for spell in spells:
            if covers(spell, day) and (segment_id is None or spell.segment_id == segment_id):
                figures = found.setdefault(spell.category, [0, Decimal(0)])
                figures[0] += sign
                figures[1] += sign * spell.value
    result = {c: tuple(found.get(c, (0, Decimal(0)))) for c in (*CATEGORIES, NO_RESPONSE)}
    result[ALL] = (sum(n for n, _v in result.values()), sum((v for _n, v in result.values()), Decimal(0)))
    return result

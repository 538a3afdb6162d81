"""Keeping the daily survey rollups (dashboards.models) up to date.

The rules that keep every figure exact (the read side is ``dashboards.metrics.survey``):

* A day is rolled up only once it is over for good: ``day <= today - 2`` (local). Live submits and
  sends are stamped "now", so they never land on a rolled-up day.
* The read path uses a day's rollup only when ``day <= RollupState.rolled_up_through`` and the day
  is not marked dirty; every other day of a period is aggregated from the raw rows.
* Whoever writes raw rows for an old day (the CSV import) marks the day dirty in the same
  transaction (``rollups_mark_dirty``); a refresh recomputes it and clears the mark.
* ``InvitationDaily.responded`` counts the responses submitted before ``RollupState.responses_cutoff``;
  the read path counts the later ones from the raw rows. A refresh moves the cutoff forward and, in
  the same transaction, recomputes the sent-days of the invitations answered in between.
* Every rollup write locks the RollupState row first, so two refreshes (beat overlapping a slow run,
  or a rebuild) never interleave their deletes and inserts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Count, Exists, F, Min, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from cxmetrics.bulk import bulk_insert
from surveys.models import AttributeScore, Invitation, Response

from .filters import day_start, site_timezone
from .metrics.survey import comment_filter, score_aggregates
from .models import (
    ATTRIBUTE_NPS_COUNTERS,
    COMMENT_COUNTERS,
    PAIR_COUNTERS,
    SCORE_COUNTERS,
    SCORE_TOTALS,
    AttributeDaily,
    InvitationDaily,
    ResponseDaily,
    RollupDirtyDay,
    RollupState,
)

logger = logging.getLogger(__name__)

# Days recomputed per transaction when catching up (a rebuild walks the whole history in chunks).
CHUNK_DAYS = 31
# A day is rolled up once it is this many days before today (local): "today" and "yesterday" stay raw.
SETTLED_AFTER_DAYS = 2


def late_response_margin() -> timedelta:
    """How long a response may take from its ``submitted_at`` (stamped before the insert) to its
    commit. The responses cutoff trails the refresh by this much, so no response older than the
    cutoff can still be uncommitted when a refresh reads them."""
    return timedelta(minutes=getattr(settings, "ROLLUP_LATE_RESPONSE_MARGIN_MINUTES", 15))


def local_day(moment: datetime) -> date:
    """The date of ``moment`` in the site's time zone: the day a row is rolled up under."""
    return timezone.localtime(moment, site_timezone()).date()


@dataclass
class RefreshReport:
    days_rolled_up: int = 0
    dirty_days: int = 0
    late_invitation_days: int = 0
    rolled_up_through: date | None = None


# --- marking ---------------------------------------------------------------------------------


def rollups_mark_dirty(*, days: Iterable[date], kind: str = RollupDirtyDay.Kind.RESPONSE) -> None:
    """Mark ``days`` as changed, so the read path uses the raw rows for them until a refresh.

    Call it inside the transaction that writes the rows. It is an upsert (INSERT … ON CONFLICT DO
    UPDATE), which takes the row lock of an existing mark: a refresh recomputing one of these days
    holds that lock from before it aggregates until it deletes the mark and commits, so either the
    writer waits and re-inserts the mark after the refresh (the day stays dirty and is read raw), or
    the refresh waits for the writer's commit and then aggregates rows that include the new ones
    (PostgreSQL re-reads after a lock wait under READ COMMITTED). A mark inserted by a transaction
    the refresh cannot see yet is never deleted by it (it deletes the marks it locked, by id).
    Days are sorted so two writers and a refresh always lock marks in the same order (no deadlock).
    """
    now = timezone.now()
    marks = [RollupDirtyDay(kind=kind, day=day, marked_at=now) for day in sorted(set(days))]
    if marks:
        RollupDirtyDay.objects.bulk_create(
            marks,
            update_conflicts=True,
            unique_fields=["kind", "day"],
            update_fields=["marked_at"],
        )


# --- recomputing -----------------------------------------------------------------------------


def _set_through(state: RollupState, day: date | None) -> None:
    state.rolled_up_through = day
    state.save(update_fields=["rolled_up_through"])


def _lock_state() -> RollupState:
    RollupState.objects.get_or_create(pk=RollupState.SINGLETON)
    return RollupState.objects.select_for_update().get(pk=RollupState.SINGLETON)


def _lock_marks(first: date, last: date) -> list[int]:
    return list(
        RollupDirtyDay.objects.select_for_update()
        .filter(day__gte=first, day__lte=last)
        .order_by("kind", "day")
        .values_list("pk", flat=True)
    )


def _response_rows(first: date, last: date) -> QuerySet:
    rows = (
        Response.objects.filter(
            submitted_at__gte=day_start(first), submitted_at__lt=day_start(last + timedelta(days=1))
        )
        .annotate(day=TruncDate("submitted_at", tzinfo=site_timezone()))
        .values("day", "survey_id", "segment_id", "survey_type", "touchpoint", "audience")
        .annotate(
            responses=Count("pk"),
            **score_aggregates(),
            **{column: Count("pk", filter=Q(**{question: score})) for question, score, column in SCORE_COUNTERS},
            **{column: Count("pk", filter=Q(overall=x, **{question: y})) for x, question, y, column in PAIR_COUNTERS},
            **{column: Count("pk", filter=comment_filter(category)) for category, column in COMMENT_COUNTERS.items()},
        )
        .order_by()
    )
    return rows


def _attribute_rows(first: date, last: date) -> QuerySet:
    start, end = day_start(first), day_start(last + timedelta(days=1))
    rows = (
        # An attribute row carries its response's submitted_at (surveys.models.AttributeScore): the same
        # window on the response lets the join read only these days' responses, not the whole table.
        AttributeScore.objects.filter(
            submitted_at__gte=start,
            submitted_at__lt=end,
            response__submitted_at__gte=start,
            response__submitted_at__lt=end,
        )
        .annotate(day=TruncDate("submitted_at", tzinfo=site_timezone()))
        .values(
            "day",
            "survey_id",
            "segment_id",
            "attribute",
            survey_type=F("response__survey_type"),
            touchpoint=F("response__touchpoint"),
            audience=F("response__audience"),
        )
        .annotate(
            n=Count("pk"),
            total=Sum("score"),
            **{
                column: Count("pk", filter=Q(score=score, response__nps=nps))
                for score, nps, column in ATTRIBUTE_NPS_COUNTERS
            },
        )
        .order_by()
    )
    return rows


def _invitation_rows(first: date, last: date, *, cutoff: datetime) -> QuerySet:
    rows = (
        Invitation.objects.filter(
            status=Invitation.Status.SENT,
            sent_at__gte=day_start(first),
            sent_at__lt=day_start(last + timedelta(days=1)),
        )
        .annotate(day=TruncDate("sent_at", tzinfo=site_timezone()))
        .values("day", "survey_id", "segment_id")
        # EXISTS probes the responses' invitation index for these invitations; a join to the responses
        # would read the whole responses table for every chunk of days.
        .annotate(
            sent=Count("pk"),
            responded=Count(
                "pk", filter=Q(Exists(Response.objects.filter(invitation_id=OuterRef("pk"), submitted_at__lt=cutoff)))
            ),
        )
        .order_by()
    )
    return rows


def _store(model: type[models.Model], rows: QuerySet, *, zero: Iterable[str] = ()) -> None:
    """Store the grouped ``rows`` (a values() queryset whose names are the model's fields) as rows of
    ``model``: read as plain tuples and written by COPY on PostgreSQL (cxmetrics.bulk), not as model
    instances (bulk_create compiled a few hundred counters per row, most of a rebuild's time). Not an
    INSERT … SELECT: PostgreSQL 15 runs those without parallel workers, and the grouping is the work.
    A name in ``zero`` is a sum that is NULL over no answers, stored as 0 (the metrics read n = 0 as
    "no data")."""
    query = rows.query
    names = [*query.values_select, *query.annotation_select]
    sql, params = query.sql_with_params()
    quote = connection.ops.quote_name
    zero = set(zero)
    select = ", ".join(f"COALESCE(r.{quote(n)}, 0)" if n in zero else f"r.{quote(n)}" for n in names)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {select} FROM ({sql}) r", params)
        found = cursor.fetchall()
    bulk_insert(model._meta.db_table, [model._meta.get_field(n).column for n in names], found)


def _recompute_days(first: date, last: date, *, cutoff: datetime) -> None:
    """Replace every rollup row of the days ``[first, last]``; inside a transaction holding the state lock."""
    for model in (ResponseDaily, AttributeDaily, InvitationDaily):
        model.objects.filter(day__gte=first, day__lte=last).delete()
    _store(ResponseDaily, _response_rows(first, last), zero=SCORE_TOTALS)
    _store(AttributeDaily, _attribute_rows(first, last))
    _store(InvitationDaily, _invitation_rows(first, last, cutoff=cutoff))


def _recompute_invitation_day(day: date, *, cutoff: datetime) -> None:
    InvitationDaily.objects.filter(day=day).delete()
    _store(InvitationDaily, _invitation_rows(day, day, cutoff=cutoff))


def _first_data_day() -> date | None:
    first_response = Response.objects.aggregate(first=Min("submitted_at"))["first"]
    first_sent = Invitation.objects.filter(status=Invitation.Status.SENT).aggregate(first=Min("sent_at"))["first"]
    moments = [m for m in (first_response, first_sent) if m is not None]
    return local_day(min(moments)) if moments else None


# --- the services ----------------------------------------------------------------------------


def rollups_refresh(*, today: date | None = None, now: datetime | None = None) -> RefreshReport:
    """Bring the rollups up to date: late answers to rolled-up invitations, the days that became
    settled since the last run, then the dirty days. Idempotent; safe to run concurrently (the
    state lock serialises the writes) and to interrupt (each transaction leaves a consistent state)."""
    now = now or timezone.now()
    today = today or local_day(now)
    last = today - timedelta(days=SETTLED_AFTER_DAYS)
    report = RefreshReport()

    # 1. Move the responses cutoff forward, recomputing the invitation days answered in between.
    new_cutoff = now - late_response_margin()
    with transaction.atomic():
        state = _lock_state()
        old_cutoff = state.responses_cutoff
        if old_cutoff is None or new_cutoff > old_cutoff:
            if old_cutoff is not None and state.rolled_up_through is not None:
                days = sorted(
                    set(
                        Response.objects.filter(
                            submitted_at__gte=old_cutoff,
                            submitted_at__lt=new_cutoff,
                            invitation__status=Invitation.Status.SENT,
                            invitation__sent_at__lt=day_start(state.rolled_up_through + timedelta(days=1)),
                        )
                        .annotate(day=TruncDate("invitation__sent_at", tzinfo=site_timezone()))
                        .values_list("day", flat=True)
                        .distinct()
                    )
                )
                for day in days:
                    _recompute_invitation_day(day, cutoff=new_cutoff)
                report.late_invitation_days = len(days)
            state.responses_cutoff = new_cutoff
            state.save(update_fields=["responses_cutoff"])

    # 2. Roll up the days settled since the last run, a chunk per transaction.
    while True:
        with transaction.atomic():
            state = _lock_state()
            if state.rolled_up_through is not None:
                first = state.rolled_up_through + timedelta(days=1)
            else:
                first = _first_data_day() or last + timedelta(days=1)
            if first > last:
                if state.rolled_up_through is None or state.rolled_up_through < last:
                    _set_through(state, last)  # no data yet: nothing to roll up up to ``last``
                break
            chunk_last = min(first + timedelta(days=CHUNK_DAYS - 1), last)
            marks = _lock_marks(first, chunk_last)
            _recompute_days(first, chunk_last, cutoff=state.responses_cutoff)
            RollupDirtyDay.objects.filter(pk__in=marks).delete()
            _set_through(state, chunk_last)
            report.days_rolled_up += (chunk_last - first).days + 1

    # 3. Recompute the dirty days already rolled up, one per transaction.
    dirty = sorted(set(RollupDirtyDay.objects.filter(day__lte=last).values_list("day", flat=True)))
    for day in dirty:
        with transaction.atomic():
            state = _lock_state()
            if state.rolled_up_through is None or day > state.rolled_up_through:
                continue
            marks = _lock_marks(day, day)
            if not marks:
                continue  # another refresh got there first
            _recompute_days(day, day, cutoff=state.responses_cutoff)
            RollupDirtyDay.objects.filter(pk__in=marks).delete()
            report.dirty_days += 1

    with transaction.atomic():
        state = _lock_state()
        state.refreshed_at = timezone.now()
        state.save(update_fields=["refreshed_at"])
        report.rolled_up_through = state.rolled_up_through
    return report


def rollups_rebuild(*, today: date | None = None, now: datetime | None = None) -> RefreshReport:
    """Recompute every rollup from the raw rows: after a bulk load that bypassed the services, or a
    change of TIME_ZONE (the days themselves move). While it runs the read path uses the raw rows for
    the days not rolled up again yet, so the figures stay exact (only slower)."""
    with transaction.atomic():
        state = _lock_state()
        for model in (ResponseDaily, AttributeDaily, InvitationDaily):
            model.objects.all().delete()
        _set_through(state, None)
        state.responses_cutoff = None
        state.save(update_fields=["responses_cutoff"])
    return rollups_refresh(today=today, now=now)

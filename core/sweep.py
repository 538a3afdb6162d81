"""Follow the new rows of another app's table without that app knowing about the follower.

A writer low in the house (surveys storing an answer) must not call the apps above it (comment analysis,
alert rules). Instead each follower sweeps the table from a beat task: it asks for the rows above its
cursor that it has not handled yet, handles them idempotently (its own unique constraint on the row it
writes per source row), and the cursor moves on.

Primary keys are handed out when a row is inserted, not when its transaction commits, so a row with a
lower key can become visible after a higher one was seen. The cursor therefore keeps two positions: rows
above ``settled`` are looked at on every sweep; ``settled`` only moves up to the highest key seen at least
``SETTLE_SECONDS`` earlier. A transaction open longer than that (a very large import) can slip under the
cursor: followers that must see every row run a full catch-up from their own command or nightly task.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from .models import Cursor

SETTLE_SECONDS = 600


@contextmanager
def sweep(name: str, pending: QuerySet, *, batch: int = 500) -> Iterator[list[int]]:
    """Yield up to ``batch`` primary keys of ``pending`` above consumer ``name``'s cursor, in key order.

    ``pending`` is the source table already narrowed to the rows this consumer has not handled (an
    ``Exists`` anti-join on its own table): rows above the settled position are offered again until then.
    The block runs in the sweep's transaction with the cursor row locked, so one sweep per consumer runs at
    a time and the cursor moves only when the block finishes without an exception. A row that cannot be
    handled must still be marked handled by the consumer (with its error), or it would stop the sweep."""
    with transaction.atomic():
        now = timezone.now()
        cursor, _created = Cursor.objects.select_for_update().get_or_create(name=name, defaults={"marked_at": now})
        keys = list(pending.filter(pk__gt=cursor.settled).order_by("pk").values_list("pk", flat=True)[:batch])
        yield keys
        seen = max(keys, default=cursor.mark)
        # Handled rows drop out of ``pending``, so a backlog drains whatever ``settled`` says; ``settled``
        # only bounds how far back each sweep looks.
        if now - cursor.marked_at >= timedelta(seconds=SETTLE_SECONDS):
            cursor.settled = max(cursor.settled, cursor.mark)
            cursor.marked_at = now
        cursor.mark = max(cursor.mark, seen)
        cursor.save()


def sweep_start_after(name: str, key: int) -> None:
    """Start consumer ``name`` after ``key``: the rows up to it are never offered (a follower added to a
    table that already holds a history it has nothing to do with). The cursor only moves forward."""
    with transaction.atomic():
        cursor, _created = Cursor.objects.select_for_update().get_or_create(
            name=name, defaults={"marked_at": timezone.now()}
        )
        cursor.settled = max(cursor.settled, key)
        cursor.mark = max(cursor.mark, key)
        cursor.save()

"""The sweep offers each new row until its consumer has handled it, including a row that becomes visible
after higher keys were seen, and moves its cursor only when the block succeeds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import CharField, Exists, OuterRef, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from core.models import Change, Cursor
from core.sweep import SETTLE_SECONDS, sweep

pytestmark = pytest.mark.django_db


# The consumer under test "handles" a Change row by writing a Cursor row named after it: a table of its own.
def _pending():
    return Change.objects.exclude(Exists(Cursor.objects.filter(name=_handled_name(OuterRef("pk")))))


def _handled_name(pk):
    return Concat(Value("done-"), Cast(pk, CharField()))


def _handle(keys):
    now = timezone.now()
    Cursor.objects.bulk_create([Cursor(name=f"done-{k}", marked_at=now) for k in keys])


def _change(n=1):
    return [Change.objects.create(kind=Change.Kind.CUSTOMERS, customer_id=1).pk for _ in range(n)]


def test_new_rows_are_offered_once_handled_and_in_key_order():
    keys = _change(3)
    with sweep("t", _pending()) as got:
        assert got == keys
        _handle(got)
    with sweep("t", _pending()) as got:
        assert got == []


def test_a_backlog_drains_batch_by_batch():
    keys = _change(5)
    taken = []
    for _ in range(3):
        with sweep("t", _pending(), batch=2) as got:
            taken += got
            _handle(got)
    assert taken == keys


def test_a_failed_block_leaves_the_rows_for_the_next_sweep():
    keys = _change(2)
    with pytest.raises(RuntimeError), sweep("t", _pending()) as got:
        _handle(got)
        raise RuntimeError("worker died")
    with sweep("t", _pending()) as got:
        assert got == keys


def test_a_row_committed_late_below_a_seen_key_is_still_offered():
    low, high = _change(2)
    # The low key's transaction had not committed when the high key was seen.
    Change.objects.filter(pk=low).update(kind="hidden")
    visible = _pending().exclude(kind="hidden")
    with sweep("t", visible) as got:
        assert got == [high]
        _handle(got)
    Change.objects.filter(pk=low).update(kind=Change.Kind.CUSTOMERS)
    with sweep("t", _pending()) as got:
        assert got == [low]


def test_the_settled_position_moves_only_after_the_settle_time():
    first = _change(1)
    with sweep("t", _pending()) as got:
        _handle(got)
    assert Cursor.objects.get(name="t").settled == 0
    Cursor.objects.filter(name="t").update(marked_at=timezone.now() - timedelta(seconds=SETTLE_SECONDS + 1))
    with sweep("t", _pending()) as got:
        assert got == []
    assert Cursor.objects.get(name="t").settled == first[0]

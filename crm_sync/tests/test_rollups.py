"""crm_sync.rollups: the daily event rollups (marking, refresh, rebuild) and each customer's latest NPS
answer (kept by response_submit and responses_import, rebuilt by the command and seed_demo)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.db.models import Count, Sum
from django.utils import timezone

from crm_sync.connectors.base import EventRecord
from crm_sync.models import Customer, Event, EventDaily, EventDirtyDay, EventRollupState
from crm_sync.rollups import customers_nps_rebuild, events_rollup_rebuild, events_rollup_refresh, local_day
from crm_sync.services import crm_file_import, crm_records_apply
from crm_sync.tests.factories import ConnectionFactory, CustomerFactory, EventFactory
from dashboards.tests.factories import ResponseFactory, at
from surveys.models import Response
from surveys.services import response_submit, responses_import
from surveys.tests.factories import InvitationFactory, relational_survey

pytestmark = pytest.mark.django_db

TODAY = date(2026, 3, 20)


def _totals_by_day() -> dict:
    return {
        (r["day"], r["type"]): (r["n"], r["v"])
        for r in EventDaily.objects.values("day", "type").annotate(n=Sum("count"), v=Sum("value_sum")).order_by()
    }


def test_refresh_rolls_up_settled_days_only_and_rebuild_is_the_same():
    customer = CustomerFactory()
    for days_ago in (30, 3, 2, 1, 0):
        EventFactory(
            customer=customer,
            type=Event.Type.NEW,
            value=Decimal("10.50"),
            occurred_at=at(TODAY - timedelta(days=days_ago)),
        )
    EventFactory(
        customer=customer, type=Event.Type.LOST, value=None, reason="price", occurred_at=at(TODAY - timedelta(days=3))
    )
    report = events_rollup_refresh(today=TODAY)
    assert report.rolled_up_through == TODAY - timedelta(days=2)
    state = EventRollupState.objects.get()
    assert state.rolled_up_through == TODAY - timedelta(days=2)
    assert _totals_by_day() == {
        (TODAY - timedelta(days=30), "new"): (1, Decimal("10.50")),
        (TODAY - timedelta(days=3), "new"): (1, Decimal("10.50")),
        (TODAY - timedelta(days=3), "lost"): (1, Decimal("0")),
        (TODAY - timedelta(days=2), "new"): (1, Decimal("10.50")),
    }
    assert EventDaily.objects.get(type="lost").value_missing == 1
    before = _totals_by_day()
    events_rollup_rebuild(today=TODAY)
    assert _totals_by_day() == before
    assert events_rollup_refresh(today=TODAY).days_rolled_up == 0  # idempotent


def test_a_refresh_without_events_moves_the_state_forward():
    assert events_rollup_refresh(today=TODAY).rolled_up_through == TODAY - timedelta(days=2)


HEADER = "event_id,type,occurred_at,customer_id,customer_name,customer_email,segment,value,reason,referrer_id,from_segment,to_segment\n"


def _events_csv(connection, rows: list[str], name: str = "events.csv"):
    return crm_file_import(
        connection=connection, stream=io.BytesIO((HEADER + "\n".join(rows) + "\n").encode()), name=name, kind="events"
    )


def test_a_crm_import_marks_the_days_of_the_events_it_inserts_dirty():
    connection = ConnectionFactory()
    with time_machine.travel(at(TODAY, 9), tick=False):
        events_rollup_refresh()
        old, recent = at(TODAY - timedelta(days=10)), at(TODAY)
        result = _events_csv(
            connection, [f"e1,new,{old.isoformat()},X1,,,Key,5,,,,", f"e2,new,{recent.isoformat()},X2,,,Key,7,,,,"]
        )
        assert result.events_created == 2
        assert set(EventDirtyDay.objects.values_list("day", flat=True)) == {local_day(old), local_day(recent)}
        report = events_rollup_refresh()
    assert report.dirty_days == 1
    assert list(EventDirtyDay.objects.values_list("day", flat=True)) == [local_day(recent)]  # not settled yet
    assert _totals_by_day()[(local_day(old), "new")] == (1, Decimal("5"))


def test_the_apply_service_reports_the_days_of_the_events_it_inserted():
    connection = ConnectionFactory()
    record = EventRecord(
        event_id="e1",
        type="new",
        occurred_at=at(TODAY - timedelta(days=10)),
        customer_id="X1",
        source="t",
        segment="Key",
        value=Decimal("5"),
    )
    assert crm_records_apply(connection=connection, records=[record]).event_days == {TODAY - timedelta(days=10)}
    # Replayed: nothing inserted, no day to mark, no rollup changed.
    events_rollup_refresh(today=TODAY)
    assert crm_records_apply(connection=connection, records=[record]).event_days == set()
    events_rollup_refresh(today=TODAY)
    assert _totals_by_day() == {(TODAY - timedelta(days=10), "new"): (1, Decimal("5"))}


def test_rollup_days_are_local_days(settings):
    settings.TIME_ZONE = "America/New_York"
    customer = CustomerFactory()
    # 02:00 UTC on the 10th is still the 9th in New York.
    EventFactory(customer=customer, type=Event.Type.NEW, occurred_at=datetime(2026, 3, 10, 2, tzinfo=UTC))
    events_rollup_refresh(today=TODAY)
    assert list(EventDaily.objects.values_list("day", flat=True)) == [date(2026, 3, 9)]


def test_commands_rebuild_the_rollups_and_the_latest_answers(capsys):
    EventFactory(occurred_at=at(TODAY - timedelta(days=5)))
    call_command("events_rollup_rebuild")
    call_command("customers_nps_rebuild")
    out = capsys.readouterr().out
    assert "rolled up" in out and "customer rows written" in out
    assert EventDaily.objects.aggregate(n=Sum("count"))["n"] == 1


# --- the latest NPS answer ------------------------------------------------------------------------


def _expected_last_nps() -> dict[int, tuple[int | None, object]]:
    """Straight from the responses: the answer with the greatest (submitted_at, id) per customer."""
    expected: dict[int, tuple[int | None, object]] = dict.fromkeys(
        Customer.objects.values_list("pk", flat=True), (None, None)
    )
    for customer_id, nps, submitted_at in (
        Response.objects.filter(customer__isnull=False, nps__isnull=False)
        .order_by("customer_id", "submitted_at", "pk")
        .values_list("customer_id", "nps", "submitted_at")
    ):
        expected[customer_id] = (nps, submitted_at)
    return expected


def _stored_last_nps() -> dict[int, tuple[int | None, object]]:
    return {pk: (nps, at_) for pk, nps, at_ in Customer.objects.values_list("pk", "last_nps", "last_nps_at")}


def _answers(survey, **by_kind):
    return {q.pk: by_kind[q.attribute or q.kind] for q in survey.questions.all() if (q.attribute or q.kind) in by_kind}


def test_response_submit_moves_the_latest_answer_forward():
    survey = relational_survey()
    customer = CustomerFactory()
    response_submit(
        survey=survey,
        invitation=InvitationFactory(survey=survey, customer=customer),
        answers=_answers(survey, nps=4),
        language="en",
    )
    customer.refresh_from_db()
    assert customer.last_nps == 4 and customer.last_nps_at is not None
    # A response without an NPS answer changes nothing; a later one with an answer replaces it.
    response_submit(
        survey=survey,
        invitation=InvitationFactory(survey=survey, customer=customer),
        answers=_answers(survey, overall=3),
        language="en",
    )
    customer.refresh_from_db()
    assert customer.last_nps == 4
    response_submit(
        survey=survey,
        invitation=InvitationFactory(survey=survey, customer=customer),
        answers=_answers(survey, nps=10),
        language="en",
    )
    assert _stored_last_nps() == _expected_last_nps()


def test_an_older_answer_never_overwrites_a_newer_one():
    survey = relational_survey()
    customer = CustomerFactory(last_nps=9, last_nps_at=timezone.now() + timedelta(hours=1))
    response_submit(
        survey=survey,
        invitation=InvitationFactory(survey=survey, customer=customer),
        answers=_answers(survey, nps=2),
        language="en",
    )
    customer.refresh_from_db()
    assert customer.last_nps == 9


def test_responses_import_updates_the_customers_it_touches():
    a, b, c = CustomerFactory(external_id="A"), CustomerFactory(external_id="B"), CustomerFactory(external_id="C")
    ResponseFactory(customer=c, nps=8, submitted_at=at("2026-03-01"))
    customers_nps_rebuild()
    data = (
        b"response_id,customer_id,submitted_at,nps,csat\n"
        b"r1,A,2026-02-01,3,\nr2,A,2026-02-03,10,\nr3,A,2026-02-02,5,\n"
        b"r4,B,2026-01-01,,4\nr5,C,2026-02-01,1,\nr6,,2026-02-01,7,\n"
    )
    report = responses_import(data=data, survey_slug="legacy", create_survey=True)
    assert report.created == 6
    assert _stored_last_nps() == _expected_last_nps()
    assert Customer.objects.get(pk=a.pk).last_nps == 10
    assert Customer.objects.get(pk=b.pk).last_nps is None
    assert Customer.objects.get(pk=c.pk).last_nps == 8  # the imported answer is older


def test_rebuild_recomputes_from_the_responses_with_the_id_as_tie_break():
    customers = [CustomerFactory() for _ in range(5)]
    when = at("2026-03-01")
    for i, customer in enumerate(customers):
        ResponseFactory(customer=customer, nps=i, submitted_at=when - timedelta(days=i))
        ResponseFactory(customer=customer, nps=10 - i, submitted_at=when - timedelta(days=i))  # same instant, later id
        ResponseFactory(customer=customer, nps=None, submitted_at=when + timedelta(days=1))
    stale = CustomerFactory(last_nps=3, last_nps_at=when)  # no response at all
    customers_nps_rebuild()
    assert _stored_last_nps() == _expected_last_nps()
    assert Customer.objects.get(pk=stale.pk).last_nps is None
    customers_nps_rebuild()
    assert _stored_last_nps() == _expected_last_nps()


def test_seed_demo_sets_the_latest_answers_and_the_event_rollups():
    from cxmetrics.demo import seed_demo

    seed_demo(customers=60, months=3, seed=3)
    assert _stored_last_nps() == _expected_last_nps()
    assert Customer.objects.filter(last_nps__isnull=False).exists()
    rolled = EventDaily.objects.aggregate(n=Sum("count"))["n"]
    through = EventRollupState.objects.get().rolled_up_through
    raw = Event.objects.filter(occurred_at__lt=at(through + timedelta(days=1), 0)).aggregate(n=Count("pk"))["n"]
    assert rolled == raw > 0

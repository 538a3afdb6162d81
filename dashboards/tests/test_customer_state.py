"""The customer state per day (dashboards.customer_state) equals the raw computation, is read by the
metrics while it is current, and stops being read the moment a change it does not hold commits.

PostgreSQL only (date ranges and triggers); on SQLite the metrics always compute from the raw rows.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from crm_sync.models import Customer, Event
from crm_sync.rollups import customers_nps_rebuild
from dashboards.customer_state import customer_state_at, customer_state_build, customer_state_is_current
from dashboards.filters import MetricFilters, day_start
from dashboards.metrics import combined, customers
from dashboards.models import CustomerChanges, CustomerStateBuild, CustomerStateDaily
from dashboards.tests.factories import CustomerFactory, EventFactory, ResponseFactory, SegmentFactory, at

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("postgres_db")]

TODAY = date(2026, 5, 14)


def _random_base(rng: random.Random, *, today: date = TODAY) -> dict:
    segments = [
        SegmentFactory(name="Key", rank=3),
        SegmentFactory(name="Growth", rank=2),
        SegmentFactory(name="Standard", rank=1),
    ]
    choices = [*segments, None]
    people = []
    for i in range(45):
        acquired = at(today - timedelta(days=rng.randint(1, 500)), rng.randint(0, 23))
        lost = acquired + timedelta(days=rng.randint(-3, 200)) if rng.random() < 0.35 else None  # some "before"
        people.append(
            CustomerFactory(
                external_id=f"S{i}",
                segment=rng.choice(choices),
                value=Decimal(rng.randint(100, 99999)) / 100,
                acquired_at=None if i == 0 else acquired,
                lost_at=lost,
                status=Customer.Status.PROSPECT if i == 1 else Customer.Status.LOST if lost else Customer.Status.ACTIVE,
            )
        )
    for customer in people:  # lost events: at the loss, and a few stray ones (a second loss, a wrong date)
        if customer.lost_at is not None:
            EventFactory(type=Event.Type.LOST, customer=customer, occurred_at=customer.lost_at)
        if rng.random() < 0.1:
            EventFactory(
                type=Event.Type.LOST, customer=customer, occurred_at=at(today - timedelta(days=rng.randint(0, 300)))
            )
    for _ in range(160):  # segment moves, several on one day for some customers, some to or from no segment
        who = rng.choice(people)
        day = today - timedelta(days=rng.randint(0, 450))
        for hour in sorted(rng.sample(range(24), rng.choice([1, 1, 1, 2]))):
            EventFactory(
                type=Event.Type.SEGMENT_MOVE,
                customer=who,
                occurred_at=at(day, hour),
                from_segment=rng.choice(choices),
                to_segment=rng.choice(choices),
            )
    for customer in people:
        for _ in range(rng.randint(0, 6)):
            when = at(today - timedelta(days=rng.randint(0, 700)), rng.randint(0, 23), rng.randint(0, 59))
            ResponseFactory(customer=customer, submitted_at=when, nps=rng.choice([None, *range(11)]))
    # The edges: an answer at midnight, another 365 days before a day, two on one day.
    edge = people[2]
    ResponseFactory(customer=edge, submitted_at=at(today - timedelta(days=30), 0), nps=2)
    ResponseFactory(customer=edge, submitted_at=at(today - timedelta(days=30 + 365), 0), nps=10)
    ResponseFactory(customer=edge, submitted_at=at(today - timedelta(days=60), 8), nps=9)
    ResponseFactory(customer=edge, submitted_at=at(today - timedelta(days=60), 9), nps=4)
    customers_nps_rebuild()  # what the survey services keep current; the raw "now" path reads it
    return {"segments": segments, "customers": people}


def _raw_state(day: date, segment_id: int | None) -> dict:
    rows = (
        combined.customers_by_category(day_start(day), segment_id=segment_id)
        .values("category")
        .annotate(n=Count("pk"), value=Sum("value"))
        .order_by()
    )
    found = {r["category"]: (r["n"], r["value"] or Decimal(0)) for r in rows}
    state = {c: found.get(c, (0, Decimal(0))) for c in combined.CATEGORIES}
    state["all"] = (sum(n for n, _v in state.values()), sum((v for _n, v in state.values()), Decimal(0)))
    return state


def _days() -> list[date]:
    return [TODAY - timedelta(days=d) for d in (0, 1, 2, 29, 30, 31, 59, 60, 61, 90, 180, 364, 365, 366, 400, 499)]


@pytest.mark.parametrize(("seed", "tz"), [(1, "UTC"), (2, "America/New_York"), (3, "Asia/Kolkata")])
def test_the_state_of_every_day_equals_the_raw_customers_segments_and_categories(settings, seed, tz):
    settings.TIME_ZONE = tz
    rng = random.Random(seed)
    with time_machine.travel(at(TODAY, 15), tick=False):
        data = _random_base(rng)
        report = customer_state_build()
        assert report.built and report.through == TODAY
        segment_ids = [None, -1, *(s.pk for s in data["segments"])]
        for day in _days():
            for segment_id in segment_ids:
                assert customer_state_at(day, segment_id=segment_id) == _raw_state(day, segment_id), (day, segment_id)
        assert customer_state_at(TODAY + timedelta(days=1)) is None  # a day it does not hold


def _metrics(filters: MetricFilters) -> dict:
    return {
        "base": customers.customer_base(filters=filters),
        "at_start": customers.customers_at_start(filters=filters),
        "risk": combined.revenue_at_risk(filters=filters),
        "by_category": combined.value_by_nps_category(filters=filters),
        "churn": combined.churn_by_nps_category(filters=filters),
    }


def test_the_metrics_read_the_state_and_agree_with_the_raw_tables():
    rng = random.Random(4)
    with time_machine.travel(at(TODAY, 15), tick=False):
        data = _random_base(rng)
        periods = [
            (TODAY - timedelta(days=89), TODAY),
            (TODAY - timedelta(days=179), TODAY - timedelta(days=90)),
            (TODAY - timedelta(days=400), TODAY - timedelta(days=31)),
        ]
        filters = [
            MetricFilters(start=s, end=e, segment=seg)
            for s, e in periods
            for seg in (None, data["segments"][0].pk, "Growth")
        ]
        raw = [_metrics(f) for f in filters]
        customer_state_build()
        for f, expected in zip(filters, raw, strict=True):
            found = _metrics(f)
            for name in ("base", "at_start", "risk", "churn"):
                assert found[name] == expected[name], (name, f)
            for category, row in expected["by_category"].items():
                assert found["by_category"][category]["customers"] == row["customers"]
                assert found["by_category"][category]["mean_value"] == pytest.approx(row["mean_value"], rel=1e-12)

        # They do read it: a (deliberately) wrong row shows, until a change makes the state stale.
        past = MetricFilters(start=TODAY - timedelta(days=179), end=TODAY - timedelta(days=90))
        rows = CustomerStateDaily.objects.filter(day=past.start, category="all").update(customers=10_000)
        assert customers.customers_at_start(filters=past) == 10_000 * rows
        Customer.objects.filter(pk=data["customers"][3].pk).update(value=Decimal("1.00"))  # the trigger bumps
        assert customers.customers_at_start(filters=past) == _raw_state(past.start, None)["all"][0]


def _without_state(function, **kwargs):
    with transaction.atomic():
        CustomerStateBuild.objects.all().delete()
        result = function(**kwargs)
        transaction.set_rollback(True)
    return result


def test_now_is_the_state_at_midnight_corrected_for_todays_answers_acquisitions_and_losses():
    # The database's clock is real (the triggers compare with it), so "now" is now, frozen in Python.
    now = timezone.now()
    today = timezone.localdate(now)
    with time_machine.travel(now, tick=False):
        data = _random_base(random.Random(5), today=today)
        people = data["customers"]
        # Today before now: an acquisition, a loss; answers that leave the 365-day window today.
        CustomerFactory(acquired_at=now - timedelta(seconds=1), value=Decimal("7.00"), segment=data["segments"][0])
        Customer.objects.filter(pk=people[4].pk).update(lost_at=now - timedelta(seconds=1), status="lost")
        ResponseFactory(customer=people[5], submitted_at=now - timedelta(days=365, seconds=-1), nps=1)
        report = customer_state_build()
        # The state holds today from 00:30 on (before then the metrics compute "now" from the raw rows).
        assert report.through == today or now - day_start(today) < timedelta(minutes=30)
        # Live answers after the build: no new state, yet they count now.
        for customer, score in zip(people[6:16], range(11), strict=False):
            ResponseFactory(customer=customer, submitted_at=now, nps=score)
        customers_nps_rebuild()
        assert customer_state_is_current()
        for segment in (None, data["segments"][0].pk, data["segments"][1].pk):
            filters = MetricFilters(start=today - timedelta(days=89), end=today, segment=segment)
            risk = combined.revenue_at_risk(filters=filters, limit=0)
            assert risk.as_of == now
            expected = _without_state(combined.revenue_at_risk, filters=filters, limit=0)
            assert (risk.value, risk.customers) == (expected.value, expected.customers)
            found = combined.value_by_nps_category(filters=filters)
            expected = _without_state(combined.value_by_nps_category, filters=filters)
            for category, row in expected.items():
                assert found[category]["customers"] == row["customers"], (segment, category)
                assert found[category]["mean_value"] == pytest.approx(row["mean_value"], rel=1e-12)


def _generation() -> int:
    return CustomerChanges.objects.get(pk=CustomerChanges.SINGLETON).generation


def test_writes_that_change_the_state_make_it_stale_and_live_answers_do_not():
    customer = CustomerFactory(acquired_at=timezone.now() - timedelta(days=40), value=Decimal("10.00"))
    other = SegmentFactory(name="Other", rank=9)
    customer_state_build()
    assert customer_state_is_current()

    # The survey services' latest-answer columns, a live answer: still current.
    Customer.objects.filter(pk=customer.pk).update(last_nps=3, last_nps_at=timezone.now())
    ResponseFactory(customer=customer, submitted_at=timezone.now(), nps=3)
    assert customer_state_is_current()

    writes = [
        lambda: Customer.objects.filter(pk=customer.pk).update(value=Decimal("20.00")),
        lambda: Customer.objects.filter(pk=customer.pk).update(segment=other),
        lambda: Customer.objects.filter(pk=customer.pk).update(lost_at=timezone.now()),
        lambda: CustomerFactory(),
        lambda: EventFactory(type=Event.Type.SEGMENT_MOVE, customer=customer, to_segment=other),
        lambda: ResponseFactory(customer=customer, submitted_at=timezone.now() - timedelta(days=3), nps=9),
        lambda: Event.objects.filter(customer=customer).delete(),
    ]
    for write in writes:
        before = _generation()
        write()
        assert _generation() == before + 1
        assert not customer_state_is_current()
        assert customer_state_at(timezone.localdate() - timedelta(days=5)) is None
        customer_state_build()
        assert customer_state_is_current()


def test_a_deleted_changes_row_comes_back_with_a_generation_no_build_has_seen():
    CustomerFactory(acquired_at=timezone.now() - timedelta(days=3))
    customer_state_build()
    CustomerChanges.objects.all().delete()  # what a test database flush does
    assert customer_state_at(timezone.localdate() - timedelta(days=1)) is None
    CustomerFactory()
    assert _generation() > 10**15
    assert not customer_state_is_current()


def test_a_current_state_is_not_rebuilt():
    CustomerFactory(acquired_at=timezone.now() - timedelta(days=3))
    assert customer_state_build().built
    assert not customer_state_build().built
    assert customer_state_build(force=True).built


def test_the_migration_installs_the_triggers():
    with connection.cursor() as cursor:
        cursor.execute("SELECT tgname FROM pg_trigger WHERE tgname LIKE 'dashboards_%%' ORDER BY 1")
        names = [name for (name,) in cursor.fetchall()]
    assert names == [
        "dashboards_customer_updated",
        "dashboards_customer_written",
        "dashboards_event_written",
        "dashboards_response_deleted",
        "dashboards_response_inserted",
        "dashboards_response_truncated",
        "dashboards_response_updated",
    ]


def test_churn_from_a_start_with_no_answer_in_the_year_before_it():
    """ "All time" starts where the answers start: nobody had answered in the 365 days before, so every
    customer lost in the period was no_response at its start, without a subquery per customer. One
    answer inside that window brings the subquery back, and its category."""
    start = TODAY - timedelta(days=200)
    with time_machine.travel(at(TODAY, 15), tick=False):
        people = [CustomerFactory(external_id=f"W{i}", acquired_at=at(start - timedelta(days=100)),
                                  value=Decimal(100)) for i in range(4)]  # fmt: skip
        EventFactory(type=Event.Type.LOST, customer=people[0], occurred_at=at(TODAY - timedelta(days=10), 9))
        EventFactory(type=Event.Type.LOST, customer=people[1], occurred_at=at(TODAY - timedelta(days=5), 9))
        ResponseFactory(customer=people[0], submitted_at=at(TODAY - timedelta(days=20), 9), nps=2)  # after start
        ResponseFactory(customer=people[1], submitted_at=at(start - timedelta(days=366), 23), nps=10)  # a day too early
        customers_nps_rebuild()
        customer_state_build(force=True)
        filters = MetricFilters(start=start, end=TODAY)
        assert not combined._answers_in_window_before(day_start(start))
        churn = combined.churn_by_nps_category(filters=filters)
        assert {c: (r.at_start, r.lost) for c, r in churn.items()} == {
            "promoter": (0, 0), "passive": (0, 0), "detractor": (0, 0), "no_response": (4, 2)}  # fmt: skip
        assert churn == _without_state(combined.churn_by_nps_category, filters=filters)

        ResponseFactory(customer=people[1], submitted_at=at(start - timedelta(days=365), 0), nps=10)  # the edge
        customers_nps_rebuild()
        customer_state_build(force=True)
        assert combined._answers_in_window_before(day_start(start))
        churn = combined.churn_by_nps_category(filters=filters)
        assert {c: (r.at_start, r.lost) for c, r in churn.items()} == {
            "promoter": (1, 1), "passive": (0, 0), "detractor": (0, 0), "no_response": (3, 1)}  # fmt: skip
        assert churn == _without_state(combined.churn_by_nps_category, filters=filters)

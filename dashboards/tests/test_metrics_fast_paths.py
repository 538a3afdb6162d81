"""The fast paths of the customer-base and combined metrics (issue 6) equal the raw computation.

Customer-base metrics read the daily event rollups for clean days and the raw events for the others;
the reference is the same function with no rollup state (everything raw), computed in a savepoint that
is rolled back. Combined metrics "now" read Customer.last_nps; the reference is the per-customer
subquery at the same frozen instant.
"""

from __future__ import annotations

import io
import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import transaction
from django.db.models import Avg, Count, Sum
from django.utils import timezone

from crm_sync.models import Customer, Event, EventDirtyDay, EventRollupState
from crm_sync.rollups import customers_nps_rebuild, events_rollup_refresh
from crm_sync.services import crm_file_import
from dashboards.filters import MetricFilters
from dashboards.metrics import combined, customers
from dashboards.tests.factories import (
    ConnectionFactory,
    CustomerFactory,
    EventFactory,
    ResponseFactory,
    SegmentFactory,
    at,
)
from surveys.services import responses_import

pytestmark = pytest.mark.django_db

TODAY = date(2026, 5, 14)
REASONS = ["price", "service", "", "moved"]


def _random_data(rng: random.Random, *, days: int = 120, events: int = 400) -> dict:
    segments = [
        SegmentFactory(name="Key", rank=3),
        SegmentFactory(name="Growth", rank=2),
        SegmentFactory(name="Standard", rank=1),
    ]
    choices = [*segments, None]
    people = []
    for i in range(40):
        acquired = at(TODAY - timedelta(days=rng.randint(1, days + 30)), rng.randint(0, 23))
        lost = acquired + timedelta(days=rng.randint(1, 90)) if rng.random() < 0.3 else None
        people.append(
            CustomerFactory(
                external_id=f"R{i}",
                segment=rng.choice(choices),
                value=Decimal(rng.randint(100, 99999)) / 100,
                acquired_at=acquired,
                lost_at=lost,
                status=Customer.Status.LOST if lost else Customer.Status.ACTIVE,
            )
        )
    for _ in range(events):
        when = at(TODAY - timedelta(days=rng.randint(0, days)), rng.randint(0, 23), rng.randint(0, 59))
        kind = rng.choice(list(Event.Type))
        extra = {}
        if kind == Event.Type.SEGMENT_MOVE:
            extra = {"from_segment": rng.choice(choices), "to_segment": rng.choice(choices)}
        if kind == Event.Type.REFERRAL:
            extra = {"referrer": rng.choice(people)}
        EventFactory(
            type=kind,
            customer=rng.choice(people),
            occurred_at=when,
            segment=rng.choice(choices),
            reason=rng.choice(REASONS) if kind == Event.Type.LOST else "",
            value=None if rng.random() < 0.2 else Decimal(rng.randint(0, 50000)) / 100,
            **extra,
        )
    # Answers before the losses, so lost_after_incident's flags take all four values.
    for _ in range(150):
        person = rng.choice(people)
        when = at(TODAY - timedelta(days=rng.randint(0, days + 60)), rng.randint(0, 23), rng.randint(0, 59))
        ResponseFactory(
            customer=person,
            submitted_at=when,
            nps=rng.choice([None, 2, 6, 7, 9, 10]),
            ces=rng.choice([None, 2, 3, 4, 7]),
            csat=rng.choice([None, 1, 2, 3, 5]),
        )
    return {"segments": segments, "customers": people}


def _filters() -> list[MetricFilters]:
    periods = [
        (TODAY - timedelta(days=89), TODAY),
        (TODAY - timedelta(days=6), TODAY),
        (TODAY - timedelta(days=40), TODAY - timedelta(days=5)),
        (TODAY - timedelta(days=130), TODAY),
        (TODAY - timedelta(days=1), TODAY + timedelta(days=3)),
        (TODAY - timedelta(days=30), TODAY - timedelta(days=2)),
    ]
    return [MetricFilters(start=s, end=e, segment=seg) for s, e in periods for seg in (None, "Key", "Growth", "Nope")]


def _customer_metrics(filters: MetricFilters) -> dict:
    return {
        "base": customers.customer_base(filters=filters),
        "new": customers.new_customers(filters=filters),
        "lost": customers.lost_customers(filters=filters),
        "by_reason": customers.lost_by_reason(filters=filters),
        "moves": customers.segment_moves(filters=filters),
        "referrals": customers.referrals(filters=filters),
        "after_incident": customers.lost_after_incident(filters=filters),
        **{
            f"trend_{g}": customers.customer_trend(filters=filters, granularity=g) for g in ("week", "month", "quarter")
        },
    }


def _raw(function, *args):
    """``function`` with no rollup state (every day read raw), in a savepoint rolled back afterwards."""
    with transaction.atomic():
        EventRollupState.objects.all().delete()
        result = function(*args)
        transaction.set_rollback(True)
    return result


def _assert_equal_to_raw() -> None:
    for filters in _filters():
        assert _customer_metrics(filters) == _raw(_customer_metrics, filters), filters


def _late_import(rng: random.Random) -> set[date]:
    """A late CRM page: events on old (rolled-up) days, today and a day not rolled up yet."""
    days = [TODAY - timedelta(days=d) for d in (50, 20, 3, 2, 1, 0)]
    header = "event_id,type,occurred_at,customer_id,customer_name,customer_email,segment,value,reason,referrer_id,from_segment,to_segment"
    rows = [header]
    for i, day in enumerate(days):
        rows.append(f"late-{i}-new,new,{at(day, 10).isoformat()},R{i},,,Key,123.45,,,,")
        rows.append(f"late-{i}-lost,lost,{at(day, 11).isoformat()},R{i + 10},,,Growth,,price,,,")
        rows.append(f"late-{i}-move,segment_move,{at(day, 12).isoformat()},R{i + 20},,,,,,,Growth,Key")
    result = crm_file_import(
        connection=ConnectionFactory(),
        stream=io.BytesIO(("\n".join(rows) + "\n").encode()),
        name="late.csv",
        kind="events",
    )
    assert result.events_created == len(rows) - 1 and not result.quarantined
    return set(days)


@pytest.mark.parametrize("seed", [1, 2])
def test_customer_metrics_equal_the_raw_computation_before_and_after_refresh(seed):
    rng = random.Random(seed)
    with time_machine.travel(at(TODAY, 15), tick=False):
        _random_data(rng)
        _assert_equal_to_raw()  # never refreshed: everything raw
        report = events_rollup_refresh()
        assert report.rolled_up_through == TODAY - timedelta(days=2)
        _assert_equal_to_raw()
        marked = _late_import(rng)
        assert set(EventDirtyDay.objects.values_list("day", flat=True)) == marked
        _assert_equal_to_raw()  # dirty days read raw
        assert events_rollup_refresh().dirty_days == 4  # 50, 20, 3 and 2 days ago; 1 and 0 not rolled up yet
        _assert_equal_to_raw()
    with time_machine.travel(at(TODAY + timedelta(days=2), 1), tick=False):
        events_rollup_refresh()
        assert not EventDirtyDay.objects.filter(day__lte=TODAY).exists()
        _assert_equal_to_raw()


def test_lost_after_incident_rollups_follow_a_late_response_import():
    rng = random.Random(3)
    with time_machine.travel(at(TODAY, 15), tick=False):
        data = _random_data(rng)
        events_rollup_refresh()
        lost = Event.objects.filter(type=Event.Type.LOST).order_by("occurred_at").first()
        person = lost.customer
        # A detractor answer with an incident (CES 2) a day before that loss, imported late.
        submitted = (lost.occurred_at - timedelta(days=1)).isoformat()
        report = responses_import(
            data=f"response_id,customer_id,submitted_at,nps,ces\nlate-1,{person.external_id},"
            f"{submitted},3,2\n".encode(),
            survey_slug="legacy",
            create_survey=True,
        )
        assert report.created == 1
        assert EventDirtyDay.objects.filter(day=timezone.localdate(lost.occurred_at)).exists()
        whole = MetricFilters(start=TODAY - timedelta(days=200), end=TODAY)
        result = customers.lost_after_incident(filters=whole)
        assert result == _raw(lambda f: customers.lost_after_incident(filters=f), whole)
        assert any(r["customer_id"] == person.pk and r["detractor"] and r["incident"] for r in result.customers)
        events_rollup_refresh()
        assert not EventDirtyDay.objects.exists()
        assert customers.lost_after_incident(filters=whole) == result
        _assert_equal_to_raw()
    assert data["customers"]


@pytest.mark.parametrize("tz", ["America/New_York", "Asia/Kolkata"])
def test_rollups_follow_the_site_time_zone(settings, tz):
    settings.TIME_ZONE = tz
    rng = random.Random(3)
    with time_machine.travel(at(TODAY, 23, 30), tick=False):
        _random_data(rng, events=250)
        events_rollup_refresh()
        _assert_equal_to_raw()


def test_rolled_up_events_without_a_value_are_valued_at_the_customers_current_value():
    with time_machine.travel(at(TODAY, 15), tick=False):
        customer = CustomerFactory(value=Decimal("100.00"))
        EventFactory(type=Event.Type.LOST, customer=customer, occurred_at=at(TODAY - timedelta(days=10)), value=None)
        EventFactory(
            type=Event.Type.LOST, customer=customer, occurred_at=at(TODAY - timedelta(days=9)), value=Decimal("7")
        )
        events_rollup_refresh()
        Customer.objects.filter(pk=customer.pk).update(value=Decimal("250.00"))
        filters = MetricFilters(start=TODAY - timedelta(days=30), end=TODAY)
        assert customers.lost_customers(filters=filters) == {"count": 2, "value": 257.0}
        assert customers.lost_by_reason(filters=filters) == [{"reason": "(none)", "count": 2, "value": 257.0}]


def test_unknown_granularity_is_refused_before_any_query():
    with pytest.raises(ValueError, match="Unknown granularity"):
        customers.customer_trend(filters=MetricFilters(start=TODAY, end=TODAY), granularity="day")


# --- combined metrics "now" from Customer.last_nps -----------------------------------------------


def _answers(rng: random.Random, people: list, now) -> None:
    for customer in people:
        for _ in range(rng.randint(0, 4)):
            ago = timedelta(days=rng.randint(-1, 500), hours=rng.randint(0, 23))  # a few after now
            ResponseFactory(customer=customer, submitted_at=now - ago, nps=rng.choice([None, *range(11)]))


def _reference_risk(moment, segment_id):
    detractors = combined.customers_by_category(moment, segment_id=segment_id).filter(category="detractor")
    totals = detractors.aggregate(value=Sum("value"), customers=Count("pk"))
    rows = list(
        detractors.annotate(score=combined.last_nps_before(moment))
        .values_list("pk", "value", "score")
        .order_by("-value", "pk")
    )
    return float(totals["value"] or 0), totals["customers"], rows


@pytest.mark.parametrize("seed", [4, 5])
def test_revenue_at_risk_and_value_by_category_now_equal_the_subquery(seed):
    rng = random.Random(seed)
    now = at(TODAY, 15)
    with time_machine.travel(now, tick=False):
        data = _random_data(rng, events=100)
        _answers(rng, data["customers"], now)
        customers_nps_rebuild()
        for segment in (None, data["segments"][0].pk, data["segments"][1].pk):
            filters = MetricFilters(start=TODAY - timedelta(days=89), end=TODAY, segment=segment)
            risk = combined.revenue_at_risk(filters=filters, limit=500)
            assert risk.as_of == now
            value, count, rows = _reference_risk(now, segment)
            assert (risk.value, risk.customers) == (value, count)
            assert [(r["customer_id"], Decimal(str(r["value"])), r["nps"]) for r in risk.detractors] == rows
            assert combined.revenue_at_risk(filters=filters, limit=3).detractors == risk.detractors[:3]
            # A past moment: the columns for answers before it, the subquery for the others.
            past = MetricFilters(start=TODAY - timedelta(days=179), end=TODAY - timedelta(days=90), segment=segment)
            risk = combined.revenue_at_risk(filters=past, limit=500)
            value, count, rows = _reference_risk(risk.as_of, segment)
            assert (risk.value, risk.customers) == (value, count)
            assert [(r["customer_id"], Decimal(str(r["value"])), r["nps"]) for r in risk.detractors] == rows

            found = {
                r["category"]: r
                for r in combined.customers_by_category(now, segment_id=segment)
                .values("category")
                .annotate(n=Count("pk"), mean=Avg("value"))
                .order_by()
            }
            by_category = combined.value_by_nps_category(filters=filters)
            for category in combined.CATEGORIES:
                expected = found.get(category, {"n": 0, "mean": None})
                assert by_category[category]["customers"] == expected["n"]
                if expected["mean"] is None:
                    assert by_category[category]["mean_value"] is None
                else:  # Σ / n in Decimal when merged with the later answers, AVG() otherwise
                    assert by_category[category]["mean_value"] == pytest.approx(float(expected["mean"]), rel=1e-12)


def test_a_live_submit_is_counted_now_without_a_rebuild():
    from surveys.services import response_submit
    from surveys.tests.factories import InvitationFactory, relational_survey

    survey = relational_survey()
    customer = CustomerFactory(value=Decimal("500.00"), acquired_at=at(TODAY - timedelta(days=100)))
    filters = MetricFilters(start=TODAY - timedelta(days=89), end=TODAY + timedelta(days=1))
    with time_machine.travel(at(TODAY, 9), tick=False):
        assert combined.revenue_at_risk(filters=filters).customers == 0
        nps = next(q.pk for q in survey.questions.all() if q.kind == "nps")
        response_submit(
            survey=survey,
            invitation=InvitationFactory(survey=survey, customer=customer),
            answers={nps: 3},
            language="en",
        )
    with time_machine.travel(at(TODAY, 10), tick=False):
        risk = combined.revenue_at_risk(filters=filters)
        assert (risk.value, risk.customers, risk.detractors[0]["nps"]) == (500.0, 1, 3)
        assert combined.value_by_nps_category(filters=filters)["detractor"] == {"customers": 1, "mean_value": 500.0}


def _reference_churn(filters: MetricFilters) -> dict:
    """churn_by_nps_category as it was: a correlated subquery per customer."""
    from django.db.models import Exists, OuterRef, Q

    start, end = filters.period()
    lost = Event.objects.filter(
        customer=OuterRef("pk"), type=Event.Type.LOST, occurred_at__gte=start, occurred_at__lt=end
    )
    rows = (
        combined.customers_by_category(start, segment_id=filters.segment_id())
        .annotate(lost_in_period=Exists(lost))
        .values("category")
        .annotate(at_start=Count("pk"), lost=Count("pk", filter=Q(lost_in_period=True)))
        .order_by()
    )
    found = {r["category"]: (r["at_start"], r["lost"]) for r in rows}
    return {c: found.get(c, (0, 0)) for c in combined.CATEGORIES}


@pytest.mark.parametrize("seed", [6, 7])
def test_churn_by_nps_category_equals_the_subquery(seed):
    rng = random.Random(seed)
    now = at(TODAY, 15)
    with time_machine.travel(now, tick=False):
        data = _random_data(rng, events=150)
        _answers(rng, data["customers"], now)
        # Answers exactly at a period start and 365 days before it: the window's edges.
        edge = data["customers"][0]
        ResponseFactory(customer=edge, submitted_at=at(TODAY - timedelta(days=30), 0), nps=2)
        ResponseFactory(customer=edge, submitted_at=at(TODAY - timedelta(days=30 + 365), 0), nps=10)
        for filters in _filters():
            result = combined.churn_by_nps_category(filters=filters)
            assert {c: (r.at_start, r.lost) for c, r in result.items()} == _reference_churn(filters), filters

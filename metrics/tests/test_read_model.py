"""The read model equals the raw reference (``reference``) for each fact, on random data, at every step of
a history of writes: before and after refreshes, late answers, backdated imports, deletes and corrections
in admin, days settling, in two time zones (one with daylight saving)."""

from __future__ import annotations

import io
import random
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine

from core.days import day_start
from crm_sync.services import crm_file_import
from customers.models import Customer, Event
from customers.services import customer_update, customers_delete, event_correct
from metrics import combined, customer_base, customers, survey
from metrics.filters import MetricFilters
from metrics.refresh import metrics_refresh, rollups_rebuild
from metrics.tests import reference
from metrics.tests.factories import (
    AttributeScoreFactory,
    CustomerFactory,
    EventFactory,
    InvitationFactory,
    ResponseFactory,
    SegmentFactory,
    SurveyFactory,
    at,
)
from surveys.models import Invitation, Response
from surveys.services import invitations_delete, response_submit, responses_delete, responses_import

pytestmark = [pytest.mark.django_db, pytest.mark.refreshes_itself]

TODAY = date(2026, 5, 14)
REASONS = ["price", "service", "", "moved"]
SCORES = {
    "nps": [None, 0, 3, 6, 7, 8, 9, 10],
    "csat": [None, 1, 2, 4, 5],
    "ces": [None, 2, 3, 5, 7],
    "likelihood_switch": [None, 1, 8],
    "likelihood_repurchase": [None, 4, 10],
    "overall": [None, 1, 3, 5],
}


def _day(rng: random.Random, back: int) -> date:
    return TODAY - timedelta(days=rng.randint(0, back))


def random_data(rng: random.Random) -> dict:
    segments = [SegmentFactory(name="Key", rank=3), SegmentFactory(name="Growth", rank=2)]
    choices = [*segments, None]
    surveys = [SurveyFactory(slug="rel"), SurveyFactory(slug="tx", survey_type="transactional", touchpoint="support")]
    people = []
    for i in range(24):
        acquired = at(_day(rng, 200), rng.randint(0, 23), rng.randint(0, 59))
        lost = acquired + timedelta(days=rng.randint(0, 120), hours=rng.randint(0, 23)) if rng.random() < 0.3 else None
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
    for _ in range(120):
        kind = rng.choice(list(Event.Type))
        extra = {"reason": rng.choice(REASONS)} if kind == Event.Type.LOST else {}
        if kind == Event.Type.SEGMENT_MOVE:
            extra = {"from_segment": rng.choice(choices), "to_segment": rng.choice(choices)}
        if kind == Event.Type.REFERRAL:
            extra = {"referrer": rng.choice(people)}
        EventFactory(
            type=kind,
            customer=rng.choice(people),
            occurred_at=at(_day(rng, 160), rng.randint(0, 23), rng.randint(0, 59)),
            segment=rng.choice(choices),
            value=Decimal(rng.randint(0, 50000)) / 100,
            **extra,
        )
    for _ in range(140):
        person = rng.choice([*people, None])
        invitation = None
        if person and rng.random() < 0.4:
            invitation = InvitationFactory(customer=person, survey=surveys[0], sent_at=at(_day(rng, 150), 8))
        response = ResponseFactory(
            survey=rng.choice(surveys),
            customer=person,
            invitation=invitation,
            segment=rng.choice(choices),
            submitted_at=at(_day(rng, 150), rng.randint(0, 23), rng.randint(0, 59)),
            comment=rng.choice(["", "", "Late again", "Great"]),
            **{question: rng.choice(values) for question, values in SCORES.items()},
        )
        for attribute in rng.sample(["speed", "price"], rng.randint(0, 2)):
            AttributeScoreFactory(response=response, attribute=attribute, score=rng.randint(1, 5))
    for person in rng.sample(people, 6):  # invitations nobody answered (yet), some bounced
        InvitationFactory(
            customer=person,
            survey=surveys[0],
            sent_at=at(_day(rng, 100), 9),
            status=rng.choice([Invitation.Status.SENT, Invitation.Status.BOUNCED]),
        )
    return {"segments": segments, "customers": people, "surveys": surveys}


def all_filters() -> list[MetricFilters]:
    periods = [
        (TODAY - timedelta(days=89), TODAY),
        (TODAY - timedelta(days=150), TODAY - timedelta(days=20)),
        (TODAY - timedelta(days=3), TODAY + timedelta(days=2)),
    ]
    filters = [MetricFilters(start=s, end=e, segment=segment) for s, e in periods for segment in (None, "Key")]
    return [*filters, MetricFilters(start=periods[0][0], end=TODAY, survey="rel", touchpoint="relationship")]


# --- what each fact says, through the read model and in the reference ------------------------------------


def _scores(filters: MetricFilters) -> tuple:
    mine = {q: {s: n for s, n in c.items() if n} for q, c in survey.answer_counts(filters=filters).items()}
    breakdowns = {
        by: {
            row["key"]: (row["nps"], row["csat"], row["ces"]) for row in survey.survey_breakdown(filters=filters, by=by)
        }
        for by in ("touchpoint", "survey_type")
    }
    return {q: c for q, c in mine.items() if c}, breakdowns


def _reference_scores(filters: MetricFilters) -> tuple:
    return reference.answer_counts(filters), {
        by: reference.breakdown(filters, by) for by in ("touchpoint", "survey_type")
    }


def _pairs(filters: MetricFilters) -> dict:
    tables = survey.answer_pairs(filters=filters)
    return {q: Counter({(o, s): n for o, s, n in tables[q].itertuples(index=False)}) for q in tables}


def _attributes(filters: MetricFilters) -> Counter:
    rows = survey.attribute_counts(filters=filters)
    return Counter({(r["attribute"], r["score"], r["nps"]): r["n"] for r in rows if r["n"]})


def _invitations(filters: MetricFilters) -> tuple[int, int]:
    rate = survey.response_rate(filters=filters)
    return rate.sent, rate.responses


def _events(filters: MetricFilters) -> dict:
    by = ("reason", "segment_id", "from_segment_id", "to_segment_id")
    rows = customers.events_by(filters=filters, by=by)
    found = {
        t: Counter({tuple(r[f] for f in by): r["count"] for r in rows if r["type"] == t and r["count"]})
        for t in Event.Type.values
    }
    values = {t: sum(r["value"] for r in rows if r["type"] == t) for t in (Event.Type.NEW, Event.Type.LOST)}
    flags = Counter(
        {
            r["flags"]: r["count"]
            for r in customers.events_by(filters=filters, by=("flags",))
            if r["type"] == "lost" and r["count"]
        }
    )
    categories = Counter({c: n for c, n in combined.referrals_by_nps_category(filters=filters).items() if n})
    return {"events": found, "values": values, "flags": flags, "categories": categories}


def _reference_events(filters: MetricFilters) -> dict:
    by = ("reason", "segment_id", "from_segment_id", "to_segment_id")
    return {
        "events": {t: reference.events_by(filters, t, *by) for t in Event.Type.values},
        "values": {
            t: sum((e.value or 0 for e in reference.events(filters, t)), Decimal(0))
            for t in (Event.Type.NEW, Event.Type.LOST)
        },
        "flags": reference.lost_flags_counts(filters),
        "categories": reference.referrals_by_category(filters),
    }


def _base(filters: MetricFilters) -> dict:
    segment = filters.segment_id()
    result = customers.customer_base(filters=filters)
    days = [filters.start, filters.end + timedelta(days=1), TODAY, TODAY + timedelta(days=1)]
    risk = combined.revenue_at_risk(filters=filters)
    return {
        "base": (result.at_start, result.at_start_value, result.at_end),
        "days": {d: customer_base.base_at(d, segment_id=segment) for d in days},
        "churn": {c: (v.at_start, v.lost) for c, v in combined.churn_by_nps_category(filters=filters).items()},
        "risk": (
            risk.customers,
            Decimal(str(risk.value)),
            [(r["customer_id"], Decimal(str(r["value"]))) for r in risk.detractors],
        ),
    }


def _reference_base(filters: MetricFilters) -> dict:
    segment = filters.segment_id()
    raw = reference.customer_base(filters)
    days = [filters.start, filters.end + timedelta(days=1), TODAY, TODAY + timedelta(days=1)]
    detractors = reference.detractors(filters, TODAY)
    at_end = raw["at_start"] + raw["new"] - raw["lost"] + raw["moved_in"] - raw["moved_out"]
    return {
        "base": (raw["at_start"], raw["at_start_value"], at_end),
        "days": {d: reference.base_at(day_start(d), segment_id=segment) for d in days},
        "churn": reference.churn_by_category(filters),
        "risk": (len(detractors), sum((v for _c, v in detractors), Decimal(0)), detractors[:200]),
    }


FACTS = {
    "scores": (_scores, _reference_scores),
    "pairs": (_pairs, reference.answer_pairs),
    "attributes": (_attributes, reference.attribute_counts),
    "invitations": (_invitations, reference.response_rate),
    "events": (_events, _reference_events),
    "customer base": (_base, _reference_base),
}


def check(fact: str, step: str) -> None:
    mine, theirs = FACTS[fact]
    for filters in all_filters():
        assert mine(filters) == theirs(filters), f"{fact} after {step}, {filters}"


# --- a history of writes ---------------------------------------------------------------------------------


def history(rng: random.Random, data: dict):
    """The steps after the random data: each yields its name once done."""
    yield "the writes, nothing rolled up"
    metrics_refresh()
    yield "a refresh"

    people = data["customers"]
    open_invitation = Invitation.objects.filter(status=Invitation.Status.SENT, response__isnull=True).first()
    survey = data["surveys"][0]
    question = survey.questions.create(kind="nps", text_en="Recommend?", order=1)
    response_submit(survey=survey, invitation=open_invitation, answers={question.pk: 3}, language="en")
    yield "a late answer to an old invitation"

    lines = ["response_id,customer_id,submitted_at,nps,csat,overall,comment,attr:speed"]
    for i in range(12):
        day = _day(rng, 180)
        who = rng.choice([p.external_id for p in people] + ["unknown"])
        lines.append(f"imp{i},{who},{day.isoformat()}T10:30:00,{rng.randint(0, 10)},{rng.randint(1, 5)},3,Imported,2")
    responses_import(data="\n".join(lines).encode(), survey_slug="tx")
    csv = [
        "event_id,type,occurred_at,customer_id,customer_name,customer_email,segment,value,reason,referrer_id,from_segment,to_segment"
    ]
    for i in range(6):
        who = rng.choice(people).external_id
        csv.append(f"x{i},lost,{_day(rng, 90).isoformat()}T15:00:00,{who},,,Key,{100 + i},price,,,")
        csv.append(f"m{i},segment_move,{_day(rng, 90).isoformat()}T16:00:00,{who},,,,,,,Growth,Key")
    crm_file_import(
        connection=people[0].connection, stream=io.BytesIO("\n".join(csv).encode()), name="events.csv", kind="events"
    )
    yield "backdated imports of answers and CRM events"
    metrics_refresh()
    yield "a refresh after the imports"

    responses_delete(
        responses=Response.objects.filter(pk__in=list(Response.objects.order_by("?").values_list("pk", flat=True)[:8]))
    )
    invitations_delete(invitations=Invitation.objects.filter(status=Invitation.Status.SENT)[:2])
    customers_delete(customers=Customer.objects.filter(pk=rng.choice(people).pk))
    lost = Event.objects.filter(type=Event.Type.LOST).order_by("pk").first()
    event_correct(event=lost, by=None, why="typo", reason="service", value=Decimal("77.70"))
    survivor = Customer.objects.exclude(status="prospect").order_by("pk").first()
    customer_update(customer=survivor, value=Decimal("4321.00"))
    yield "deletes and corrections in admin"
    metrics_refresh()
    yield "a refresh after the deletes"


@pytest.mark.parametrize("tz", ["UTC", "Europe/Madrid"])
@pytest.mark.parametrize("fact", list(FACTS))
def test_the_read_model_equals_the_reference(settings, tz, fact):
    settings.TIME_ZONE = tz
    rng = random.Random(f"{fact}-{tz}")
    with time_machine.travel(day_start(TODAY) + timedelta(hours=15), tick=False) as traveller:
        data = random_data(rng)
        for step in history(rng, data):
            check(fact, step)
        traveller.shift(timedelta(days=3))  # new days settle and are rolled up
        metrics_refresh()
        check(fact, "three days later")
        rollups_rebuild()
        check(fact, "a rebuild")


def test_a_refresh_with_nothing_to_do_changes_nothing():
    with time_machine.travel(day_start(TODAY) + timedelta(hours=15), tick=False):
        random_data(random.Random(1))
        metrics_refresh()
        report = metrics_refresh()
    assert report.changes == 0 and not any(report.days_rolled_up.values())


def test_an_unknown_granularity_is_refused_before_any_query(django_assert_num_queries):
    filters = MetricFilters(start=TODAY - timedelta(days=30), end=TODAY)
    with django_assert_num_queries(0), pytest.raises(ValueError, match="granularity"):
        customers.customer_trend(filters=filters, granularity="fortnight")

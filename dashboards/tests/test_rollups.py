"""Daily survey rollups (issue 6): every survey metric read through the rollups equals the raw
computation (the ``_raw_*`` reference functions) at every moment: before the worker ever ran, after
a refresh, after an import changed old days (before and after the next refresh), after late answers
to old invitations, and in a time zone other than UTC."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import pandas as pd
import pytest
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from crm_sync.models import Customer
from dashboards.filters import MetricFilters
from dashboards.metrics import combined, survey
from dashboards.models import AttributeDaily, InvitationDaily, ResponseDaily, RollupDirtyDay, RollupState
from dashboards.rollups import rollups_mark_dirty, rollups_rebuild, rollups_refresh
from dashboards.tests.factories import CustomerFactory, SegmentFactory, SurveyFactory, at
from surveys.models import AttributeScore, Invitation, Response
from surveys.services.imports import responses_import

pytestmark = pytest.mark.django_db

ATTRIBUTES = ["delivery speed", "price", "support quality"]
QUESTIONS = list(survey.SCALES)


def _score(rng: random.Random, question: str) -> int | None:
    low, high = survey.SCALES[question]
    return None if rng.random() < 0.2 else rng.randint(low, high)


def build_dataset(*, now: datetime, seed: int = 7, days: int = 120) -> dict:
    """Responses over ``days`` days up to ``now`` (today and yesterday included), three surveys with
    different dimensions, three segments and blanks, invitations answered on time, late or never."""
    rng = random.Random(seed)
    segments = [
        SegmentFactory(name="Key", rank=4),
        SegmentFactory(name="Gold", rank=3),
        SegmentFactory(name="Silver", rank=2),
        None,
    ]
    surveys = [
        SurveyFactory(slug="relationship", survey_type="relational", touchpoint="relationship", audience="b2b"),
        SurveyFactory(slug="support", survey_type="transactional", touchpoint="support", audience="b2c"),
        SurveyFactory(slug="delivery", survey_type="transactional", touchpoint="delivery", audience="b2b"),
    ]
    customers = [CustomerFactory(segment=rng.choice(segments[:3])) for _ in range(12)]

    def response(survey_obj, submitted_at, *, segment, invitation=None, customer=None) -> Response:
        return Response(
            survey=survey_obj,
            invitation=invitation,
            customer=customer,
            segment=segment,
            survey_type=survey_obj.survey_type,
            touchpoint=survey_obj.touchpoint,
            audience=survey_obj.audience,
            channel="email",
            submitted_at=submitted_at,
            **{q: _score(rng, q) for q in QUESTIONS},
            comment=rng.choice(["", "", "Great service", "Too slow"]),
        )

    invitations, answers = [], []
    for i in range(400):
        customer = rng.choice(customers)
        sent_at = now - timedelta(seconds=rng.uniform(0, days * 86400))
        status = rng.choices(["sent", "bounced", "failed", "queued"], weights=[85, 5, 5, 5])[0]
        invitations.append(
            Invitation(
                survey=rng.choice(surveys),
                customer=customer,
                token=f"t{seed}-{i}",
                segment=rng.choice(segments),
                status=status,
                sent_at=sent_at if status == "sent" else None,
            )
        )
    Invitation.objects.bulk_create(invitations)
    for invitation in invitations:
        if invitation.status != "sent" or rng.random() < 0.4:
            continue
        # Most answer within days; some answer just now (after a refresh's cutoff) to an old invitation.
        late = rng.random() < 0.1
        submitted_at = (
            now - timedelta(minutes=rng.uniform(0, 10))
            if late
            else min(invitation.sent_at + timedelta(hours=rng.uniform(0, 240)), now)
        )
        answers.append(
            response(
                invitation.survey,
                submitted_at,
                segment=invitation.segment,
                invitation=invitation,
                customer=invitation.customer,
            )
        )
    for _ in range(500):
        answers.append(
            response(
                rng.choice(surveys), now - timedelta(seconds=rng.uniform(0, days * 86400)), segment=rng.choice(segments)
            )
        )
    # Near local midnight, to catch any UTC/local slip.
    for back in range(1, days, 9):
        midnight = timezone.make_aware(
            datetime.combine(timezone.localdate(now) - timedelta(days=back), datetime.min.time()),
            timezone.get_default_timezone(),
        )
        for offset in (-1, 0, 1):
            answers.append(response(surveys[0], midnight + timedelta(seconds=offset), segment=segments[1]))
    Response.objects.bulk_create(answers)
    AttributeScore.objects.bulk_create(
        AttributeScore(
            response=r,
            attribute=name,
            score=rng.randint(1, 5),
            submitted_at=r.submitted_at,
            survey=r.survey,
            segment=r.segment,
        )
        for r in answers
        if r.survey_type == "relational"
        for name in rng.sample(ATTRIBUTES, rng.randint(0, 3))
    )
    return {"segments": segments, "surveys": surveys, "customers": customers}


def filter_sets(today: date) -> list[MetricFilters]:
    periods = [
        (today - timedelta(days=89), today),  # the overview's last 90 days
        (today - timedelta(days=130), today),  # beyond the data
        (today - timedelta(days=70), today - timedelta(days=10)),  # all rolled up
        (today - timedelta(days=1), today),  # never rolled up
        (today - timedelta(days=33), today - timedelta(days=33)),  # one old day
    ]
    dimensions = [
        {},
        {"segment": "Key"},
        {"segment": "Gold", "survey_type": "relational"},
        {"survey": "support"},
        {"touchpoint": "delivery"},
        {"audience": "b2b"},
        {"audience": "b2b", "survey_type": "transactional"},
        {"segment": "Nobody"},
    ]
    # Every dimension on the overview's period; a few on the others (the split of days is what varies).
    return [MetricFilters(start=periods[0][0], end=periods[0][1], **dims) for dims in dimensions] + [
        MetricFilters(start=start, end=end, **dims) for start, end in periods[1:] for dims in dimensions[:3]
    ]


def assert_exact(filters: MetricFilters) -> None:
    """Every public survey metric equals the raw reference, value for value."""
    raw_scores = survey._raw_survey_scores(filters=filters)
    assert survey.survey_scores(filters=filters) == raw_scores, filters
    assert survey.nps(filters=filters) == survey._raw_nps(filters=filters) == raw_scores.nps, filters
    assert survey.csat(filters=filters) == raw_scores.csat
    assert survey.ces(filters=filters) == raw_scores.ces
    assert survey.likelihood_switch(filters=filters) == raw_scores.likelihood_switch
    assert survey.likelihood_repurchase(filters=filters) == raw_scores.likelihood_repurchase
    assert survey.overall(filters=filters) == raw_scores.overall
    assert survey.nps_significance(filters=filters) == survey._raw_nps_significance(filters=filters), filters
    for question in QUESTIONS:
        assert survey.score_distribution(filters=filters, question=question) == survey._raw_score_distribution(
            filters=filters, question=question
        ), (filters, question)
    for by in survey.BREAKDOWNS:
        assert survey.survey_breakdown(filters=filters, by=by) == survey._raw_survey_breakdown(
            filters=filters, by=by
        ), (filters, by)
    for granularity in ("week", "month", "quarter"):
        assert survey.survey_trend(filters=filters, granularity=granularity) == survey._raw_survey_trend(
            filters=filters, granularity=granularity
        ), (filters, granularity)
    assert survey.attribute_ratings(filters=filters) == survey._raw_attribute_ratings(filters=filters), filters
    assert survey.response_rate(filters=filters) == survey._raw_response_rate(filters=filters), filters
    assert combined.key_metric_links(filters=filters) == combined._raw_key_metric_links(filters=filters), filters
    for category in ("", "promoter", "passive", "detractor"):
        expected = survey.filtered_responses(filters=filters).filter(survey.comment_filter(category)).count()
        assert survey.comment_count(filters=filters, category=category) == expected, (filters, category)
    pd.testing.assert_frame_equal(
        survey.attribute_nps_pairs(filters=filters),
        combined._raw_driver_importance_table(filters=filters),
        check_dtype=False,
    )


def assert_all_exact(today: date) -> None:
    for filters in filter_sets(today):
        assert_exact(filters)


def rollup_rows() -> dict[str, list[tuple]]:
    def rows(model) -> list[tuple]:
        fields = [f.attname for f in model._meta.concrete_fields if f.attname != "id"]
        return sorted(model.objects.values_list(*fields), key=repr)

    return {m.__name__: rows(m) for m in (ResponseDaily, AttributeDaily, InvitationDaily)}


@pytest.fixture
def now() -> datetime:
    return timezone.now()


@pytest.fixture
def today(now) -> date:
    return timezone.localdate(now)


def test_exact_when_the_worker_never_ran(now, today):
    build_dataset(now=now)

    assert not RollupState.objects.exists()
    assert_all_exact(today)


def test_exact_after_refresh_and_only_settled_days_rolled_up(now, today):
    build_dataset(now=now)

    report = rollups_refresh(now=now)

    state = RollupState.objects.get()
    assert report.rolled_up_through == state.rolled_up_through == today - timedelta(days=2)
    assert ResponseDaily.objects.filter(day__gt=today - timedelta(days=2)).count() == 0
    assert ResponseDaily.objects.count() and AttributeDaily.objects.count() and InvitationDaily.objects.count()
    assert (
        sum(ResponseDaily.objects.values_list("responses", flat=True))
        == Response.objects.filter(submitted_at__lt=at(today - timedelta(days=1), 0)).count()
    )
    assert_all_exact(today)


def test_import_into_rolled_up_days_is_exact_before_and_after_the_next_refresh(now, today):
    data = build_dataset(now=now)
    rollups_refresh(now=now)
    customer = data["customers"][0]
    Customer.objects.filter(pk=customer.pk).update(external_id="C-1")
    old, older = today - timedelta(days=30), today - timedelta(days=61)
    csv = (
        "response_id,customer_id,submitted_at,nps,csat,attr:price\n"
        f"r1,C-1,{old}T09:00:00,10,5,4\n"
        f"r2,,{old}T23:59:59,0,,2\n"
        f"r3,C-1,{older}T00:00:00,7,3,\n"
        f"r4,,{today}T00:00:01,9,4,5\n"
    ).encode()

    report = responses_import(data=csv, survey_slug="relationship")

    assert report.imported and report.created == 4
    assert set(RollupDirtyDay.objects.values_list("day", flat=True)) == {old, older, today}
    assert_all_exact(today)  # the worker has not run: the dirty days are read raw

    refreshed = rollups_refresh(now=now)

    assert refreshed.dirty_days == 2
    assert set(RollupDirtyDay.objects.values_list("day", flat=True)) == {today}  # not settled yet
    assert_all_exact(today)


def test_responses_deleted_in_admin_leave_no_trace_in_any_figure(now, today, admin_client):
    data = build_dataset(now=now)
    rollups_refresh(now=now)
    customer = data["customers"][0]
    doomed = list(
        Response.objects.filter(
            submitted_at__lt=now - timedelta(days=10), invitation__isnull=False, customer=customer, nps__isnull=False
        ).order_by("-submitted_at", "-pk")[:3]
    ) + list(Response.objects.filter(submitted_at__lt=now - timedelta(days=30), customer__isnull=True)[:2])
    Customer.objects.filter(pk=customer.pk).update(last_nps=doomed[0].nps, last_nps_at=doomed[0].submitted_at)
    AttributeScore.objects.create(
        response=doomed[0],
        attribute="price",
        score=2,
        survey=doomed[0].survey,
        submitted_at=doomed[0].submitted_at,
        segment=doomed[0].segment,
    )

    response = admin_client.post(
        reverse("admin:surveys_response_changelist"),
        {"action": "delete_selected", "_selected_action": [r.pk for r in doomed], "post": "yes"},
    )

    assert response.status_code == 302
    assert not Response.objects.filter(pk__in=[r.pk for r in doomed]).exists()
    marked = set(RollupDirtyDay.objects.values_list("kind", "day"))
    assert {("response", timezone.localdate(r.submitted_at)) for r in doomed} <= marked
    assert {("invitation", timezone.localdate(r.invitation.sent_at)) for r in doomed if r.invitation} <= marked
    assert_all_exact(today)  # read raw until the refresh
    left = Response.objects.filter(customer=customer, nps__isnull=False).order_by("-submitted_at", "-pk").first()
    customer.refresh_from_db()
    assert (customer.last_nps, customer.last_nps_at) == ((left.nps, left.submitted_at) if left else (None, None))
    rollups_refresh(now=now)
    assert not RollupDirtyDay.objects.filter(day__lte=today - timedelta(days=2)).exists()
    assert_all_exact(today)

    sent = Invitation.objects.filter(status="sent", sent_at__lt=now - timedelta(days=10)).order_by("pk")[:4]
    days = {timezone.localdate(i.sent_at) for i in sent}
    response = admin_client.post(
        reverse("admin:surveys_invitation_changelist"),
        {"action": "delete_selected", "_selected_action": [i.pk for i in sent], "post": "yes"},
    )
    assert response.status_code == 302
    assert {("invitation", day) for day in days} <= set(RollupDirtyDay.objects.values_list("kind", "day"))
    assert_all_exact(today)


def test_late_answer_to_an_old_invitation_counts_at_once(now, today):
    data = build_dataset(now=now)
    rollups_refresh(now=now)
    invitation = Invitation.objects.filter(
        status="sent", response__isnull=True, sent_at__lt=at(today - timedelta(days=20), 0)
    ).first()
    filters = MetricFilters(start=today - timedelta(days=89), end=today)
    before = survey.response_rate(filters=filters)

    Response.objects.create(
        survey=invitation.survey,
        invitation=invitation,
        customer=invitation.customer,
        segment=data["segments"][0],
        survey_type=invitation.survey.survey_type,
        touchpoint=invitation.survey.touchpoint,
        audience=invitation.survey.audience,
        channel="email",
        submitted_at=now,
        nps=10,
    )

    assert survey.response_rate(filters=filters).responses == before.responses + 1
    assert_all_exact(today)
    report = rollups_refresh(now=now + timedelta(minutes=20))  # its cutoff passes the answer
    assert report.late_invitation_days >= 1
    assert_all_exact(today)


def test_rebuild_is_idempotent_and_equals_the_incremental_refresh(now, today):
    build_dataset(now=now)
    rollups_refresh(today=today - timedelta(days=40), now=now)  # catch up in two steps
    rollups_refresh(now=now)
    incremental = rollup_rows()

    rollups_rebuild(now=now)
    rebuilt = rollup_rows()
    rollups_rebuild(now=now)

    assert rebuilt == incremental == rollup_rows()
    assert_all_exact(today)


def test_refresh_without_data_and_repeated_refresh_change_nothing(now, today):
    report = rollups_refresh(now=now)
    assert report.rolled_up_through == today - timedelta(days=2) and not ResponseDaily.objects.exists()
    build_dataset(now=now)
    # Data written behind the services' back is invisible to the rollups until a rebuild ...
    rollups_rebuild(now=now)
    rows = rollup_rows()
    again = rollups_refresh(now=now)
    assert (again.days_rolled_up, again.dirty_days) == (0, 0)
    assert rollup_rows() == rows


def test_dirty_mark_is_an_upsert(today):
    rollups_mark_dirty(days=[today, today - timedelta(days=3)])
    rollups_mark_dirty(days=[today])
    assert RollupDirtyDay.objects.count() == 2


def test_days_are_local_in_another_time_zone(settings):
    settings.TIME_ZONE = "America/Mexico_City"
    now = timezone.now()
    today = timezone.localdate(now)
    data = build_dataset(now=now, seed=11)
    late_evening = at(today - timedelta(days=5), 23, 30)  # 05:30 UTC the next day
    Response.objects.create(
        survey=data["surveys"][1],
        segment=None,
        survey_type="transactional",
        touchpoint="support",
        audience="b2c",
        channel="email",
        submitted_at=late_evening,
        nps=3,
    )

    rollups_refresh(now=now)

    row = ResponseDaily.objects.get(day=today - timedelta(days=5), survey=data["surveys"][1], segment=None)
    assert (
        row.nps_3
        == Response.objects.filter(
            survey=data["surveys"][1],
            segment=None,
            nps=3,
            submitted_at__gte=at(today - timedelta(days=5), 0),
            submitted_at__lt=at(today - timedelta(days=4), 0),
        ).count()
        >= 1
    )
    for back in range(2, 120):
        day = today - timedelta(days=back)
        rolled = ResponseDaily.objects.filter(day=day).aggregate(n=Sum("responses"))["n"] or 0
        assert (
            rolled
            == Response.objects.filter(
                submitted_at__gte=at(day, 0), submitted_at__lt=at(day + timedelta(days=1), 0)
            ).count()
        ), day
    assert_all_exact(today)

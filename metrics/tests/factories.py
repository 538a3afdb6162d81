"""Factories for the metric tests: surveys, invitations, responses and attribute scores, plus helpers
that build times in the site's time zone so a test reads like the period it checks."""

from __future__ import annotations

from datetime import date, datetime, time

import factory
from django.utils import timezone

from crm_sync.tests.factories import ConnectionFactory
from customers.models import Event
from customers.tests.factories import CustomerFactory, EventFactory, RecordsChanges, SegmentFactory
from surveys.models import AttributeScore, Invitation, Response, Survey

__all__ = [
    "AttributeScoreFactory",
    "ConnectionFactory",
    "CustomerFactory",
    "EventFactory",
    "InvitationFactory",
    "ResponseFactory",
    "SegmentFactory",
    "SurveyFactory",
    "at",
    "event",
]


def at(day: date | str, hour: int = 12, minute: int = 0, second: int = 0) -> datetime:
    """An aware datetime at local (site time zone) ``hour:minute:second`` on ``day``."""
    if isinstance(day, str):
        day = date.fromisoformat(day)
    return timezone.make_aware(datetime.combine(day, time(hour, minute, second)), timezone.get_default_timezone())


class SurveyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Survey
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Survey {n}")
    slug = factory.Sequence(lambda n: f"survey-{n}")
    survey_type = "relational"
    touchpoint = "relationship"
    audience = "b2b"
    languages = factory.LazyFunction(lambda: ["en"])


class InvitationFactory(RecordsChanges, factory.django.DjangoModelFactory):
    class Meta:
        model = Invitation

    survey = factory.SubFactory(SurveyFactory)
    customer = factory.SubFactory(CustomerFactory)
    token = factory.Sequence(lambda n: f"token-{n:06d}")
    status = Invitation.Status.SENT
    sent_at = factory.LazyFunction(timezone.now)
    segment = factory.LazyAttribute(lambda o: o.customer.segment)

    @staticmethod
    def changes(invitation: Invitation) -> dict:
        return {"invitations": [invitation.sent_at]}


class ResponseFactory(RecordsChanges, factory.django.DjangoModelFactory):
    """A response with the survey's dimensions copied as snapshots (as the survey service does)."""

    class Meta:
        model = Response

    survey = factory.SubFactory(SurveyFactory)
    customer = factory.SubFactory(CustomerFactory)
    segment = factory.LazyAttribute(lambda o: o.customer.segment if o.customer else None)
    survey_type = factory.LazyAttribute(lambda o: o.survey.survey_type)
    touchpoint = factory.LazyAttribute(lambda o: o.survey.touchpoint)
    audience = factory.LazyAttribute(lambda o: o.survey.audience)
    channel = "email"
    submitted_at = factory.LazyFunction(timezone.now)

    @staticmethod
    def changes(response: Response) -> dict:
        sent = response.invitation.sent_at if response.invitation else None
        return {"responses": [response.submitted_at], "invitations": [sent], "customers": [response.customer_id]}


class AttributeScoreFactory(RecordsChanges, factory.django.DjangoModelFactory):
    class Meta:
        model = AttributeScore

    response = factory.SubFactory(ResponseFactory)
    attribute = "delivery speed"
    score = 3
    submitted_at = factory.LazyAttribute(lambda o: o.response.submitted_at)
    survey = factory.LazyAttribute(lambda o: o.response.survey)
    segment = factory.LazyAttribute(lambda o: o.response.segment)

    @staticmethod
    def changes(score: AttributeScore) -> dict:
        return {"responses": [score.submitted_at]}


def event(type: str, customer, when: datetime, **kwargs) -> Event:
    """An event for ``customer``, with the customer's segment at the time unless given."""
    kwargs.setdefault("segment", customer.segment)
    return EventFactory(type=type, customer=customer, occurred_at=when, **kwargs)


def small_dataset() -> dict:
    """A January 2026 the document, API and command tests share; the expected figures are worked
    out by hand in test_metrics_document.py."""
    from decimal import Decimal

    from customers.models import Customer

    gold, silver = SegmentFactory(name="Gold", rank=3), SegmentFactory(name="Silver", rank=2)
    a = CustomerFactory(name="A", segment=gold, value=Decimal("1000"), acquired_at=at("2025-06-01"))
    b = CustomerFactory(
        name="B",
        segment=silver,
        value=Decimal("2000"),
        acquired_at=at("2025-07-01"),
        lost_at=at("2026-01-10"),
        status=Customer.Status.LOST,
        lost_reason="price",
    )
    c = CustomerFactory(name="C", segment=gold, value=Decimal("500"), acquired_at=at("2026-01-05"))
    prospect = CustomerFactory(name="P", segment=None, acquired_at=None, status=Customer.Status.PROSPECT)
    event(Event.Type.NEW, a, at("2025-06-01"), value=Decimal("1000"))
    event(Event.Type.NEW, b, at("2025-07-01"), value=Decimal("2000"))
    event(Event.Type.LOST, b, at("2026-01-10"), value=Decimal("2000"), reason="price")
    event(Event.Type.NEW, c, at("2026-01-05"), value=Decimal("500"), segment=silver)
    event(Event.Type.SEGMENT_MOVE, c, at("2026-01-20"), from_segment=silver, to_segment=gold, segment=gold)
    event(Event.Type.REFERRAL, prospect, at("2026-01-08"), referrer=a, segment=gold)

    survey = SurveyFactory(slug="relationship", survey_type="relational", touchpoint="relationship", audience="b2b")
    invitation = InvitationFactory(survey=survey, customer=a, sent_at=at("2026-01-02"))
    InvitationFactory(survey=survey, customer=c, sent_at=at("2026-01-06"), segment=silver)
    ResponseFactory(
        survey=survey,
        invitation=invitation,
        customer=a,
        segment=gold,
        submitted_at=at("2026-01-03"),
        nps=10,
        csat=5,
        ces=6,
        likelihood_switch=1,
        likelihood_repurchase=10,
        overall=5,
    )
    ResponseFactory(survey=survey, customer=b, segment=silver, submitted_at=at("2025-12-20"), nps=4, csat=2)
    ResponseFactory(survey=survey, customer=None, segment=None, submitted_at=at("2026-01-15"), nps=8)
    from complaints.tests.factories import complaint

    complaint(at("2026-01-05"), customer=b, channel="phone", category_name="billing", resolved_at=at("2026-01-06"))
    complaint(at("2026-01-20"), kind="inquiry", channel="web", category_name="delivery")
    return {"gold": gold, "silver": silver, "a": a, "b": b, "c": c, "survey": survey}

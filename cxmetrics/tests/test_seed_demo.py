from datetime import date

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count, Q, Sum

from customers.models import Customer, Event
from cxmetrics.demo import longer_history, seed_demo
from surveys.models import AttributeScore, Invitation, Response


def _fingerprint() -> dict:
    return {
        "customers": list(Customer.objects.values("status").annotate(n=Count("id"), v=Sum("value")).order_by("status")),
        "events": list(Event.objects.values("type").annotate(n=Count("id")).order_by("type")),
        "responses": Response.objects.aggregate(n=Count("id"), nps=Sum("nps"), csat=Sum("csat"), ces=Sum("ces")),
        "attributes": AttributeScore.objects.aggregate(n=Count("id"), s=Sum("score")),
    }


def _flush() -> None:
    AttributeScore.objects.all().delete()
    Response.objects.all().delete()
    Invitation.objects.all().delete()
    Event.objects.all().delete()
    Customer.objects.all().delete()


@pytest.mark.django_db
def test_seed_demo_is_deterministic_and_consistent():
    end = date(2026, 6, 30)
    summary = seed_demo(customers=300, months=12, seed=7, end=end)
    first = _fingerprint()
    assert summary.responses == first["responses"]["n"] > 50
    # Every acquired customer has exactly one `new` event; every lost one a `lost` event with a reason.
    acquired = Customer.objects.filter(acquired_at__isnull=False).count()
    assert Event.objects.filter(type="new").count() == acquired == 300
    lost = Customer.objects.filter(status="lost")
    assert Event.objects.filter(type="lost").count() == lost.count() > 0
    assert not lost.filter(lost_reason="").exists()
    # Responses carry a segment snapshot and answers; relational ones have attribute ratings.
    assert not Response.objects.filter(customer__isnull=False, segment__isnull=True).exists()
    assert Response.objects.filter(language="es").exists() and Response.objects.filter(language="en").exists()
    assert Response.objects.exclude(comment="").exists()
    assert AttributeScore.objects.count() == 4 * Response.objects.filter(survey_type="relational").count()
    # Nobody answers after being lost, and only sent invitations have responses.
    assert not Response.objects.filter(customer__lost_at__lt=models_F("submitted_at")).exists()
    assert not Invitation.objects.filter(~Q(status="sent"), responded_at__isnull=False).exists()
    # Referral events point at a referrer and are attributed to the referrer's segment.
    assert (
        Event.objects.filter(type="referral", referrer__isnull=False, segment__isnull=False).count()
        == (Event.objects.filter(type="referral").count())
        > 0
    )

    _flush()
    seed_demo(customers=300, months=12, seed=7, end=end)
    assert _fingerprint() == first


def models_F(name):
    from django.db.models import F

    return F(name)


@pytest.mark.django_db
def test_seed_demo_scales_to_a_requested_number_of_responses_and_events():
    summary = seed_demo(customers=200, months=6, seed=1, end=date(2026, 6, 30), responses=3000, events=2000)
    assert 2400 <= summary.responses <= 3600
    assert 1600 <= summary.events <= 2400
    # However many moves, each one continues from where the previous left the customer.
    moves = Event.objects.filter(type="segment_move").order_by("customer_id", "occurred_at")
    last_to: dict[int, int] = {}
    for move in moves:
        if move.customer_id in last_to:
            assert move.from_segment_id == last_to[move.customer_id]
        last_to[move.customer_id] = move.to_segment_id
    assert all(Customer.objects.get(pk=c).segment_id == s for c, s in list(last_to.items())[:50])


@pytest.mark.django_db
def test_seed_demo_refuses_a_database_with_customers():
    seed_demo(customers=20, months=2, seed=1)
    with pytest.raises(CommandError, match="already holds customers"):
        call_command("seed_demo", "--customers", "20")


@pytest.mark.django_db
def test_a_longer_history_at_the_same_base_adds_history_not_volume():
    """The benchmark's growth figure compares the same company over 3 and over 15 years: at
    longer_history's arguments, a window four times as long keeps the active base and the last quarter's
    answers, losses and moves about where they were (the old model, with a loss probability capped at
    two years' worth, grew the base with every month)."""
    from datetime import UTC, datetime

    end = date(2026, 6, 30)
    quarter = datetime(2026, 4, 1, tzinfo=UTC)

    def figures() -> dict:
        return {
            "active": Customer.objects.filter(status="active").count(),
            "responses": Response.objects.filter(submitted_at__gte=quarter).count(),
            "lost": Event.objects.filter(type="lost", occurred_at__gte=quarter).count(),
            "moves": Event.objects.filter(type="segment_move", occurred_at__gte=quarter).count(),
        }

    seed_demo(customers=1500, months=12, seed=3, end=end, responses=6000, events=6000)
    short = figures()
    _flush()
    longer = longer_history(customers=1500, months=12, new_months=48, responses=6000, events=6000)
    assert longer["responses"] == 24000
    assert 1500 * 1.4 < longer["customers"] < 1500 * 1.8  # the base plus three more years of customers won and lost
    assert 6000 * 3 < longer["events"] < 6000 * 4
    seed_demo(seed=3, end=end, **longer)
    long = figures()
    assert short["active"] > 900 and short["responses"] > 1000 and short["moves"] > 500 and short["lost"] > 20
    for name in ("active", "responses", "moves"):
        assert 0.85 < long[name] / short[name] < 1.15, (name, short, long)
    assert 0.6 < long["lost"] / short["lost"] < 1.4, (short, long)

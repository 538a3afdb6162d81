"""Digests: the period they cover, what they say (hand-computed), that each is sent once per user and
period even when a worker stops mid-send, and the profile page where a user chooses theirs."""

from __future__ import annotations

import smtplib
from datetime import date
from decimal import Decimal
from unittest import mock

import pytest
from django.core import mail
from django.urls import reverse

from complaints.tests.factories import complaint
from customers.models import Event
from cxmetrics.tests.factories import UserFactory, cx_manager
from digests.content import digest_content, period_for
from digests.models import DigestDelivery, DigestSubscription
from digests.services import MAX_ATTEMPTS, digest_send, digest_subscription_set, digests_schedule
from followup import selectors as followup_selectors
from followup import services as followup
from metrics.stats import rate_change
from metrics.tests.factories import CustomerFactory, ResponseFactory, SegmentFactory, at, event

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("frequency", "today", "expected"),
    [
        ("weekly", date(2026, 12, 2), (date(2026, 11, 23), date(2026, 11, 29))),
        ("weekly", date(2026, 11, 30), (date(2026, 11, 23), date(2026, 11, 29))),
        ("monthly", date(2026, 12, 3), (date(2026, 11, 1), date(2026, 11, 30))),
        ("monthly", date(2027, 1, 1), (date(2026, 12, 1), date(2026, 12, 31))),
    ],
)
def test_a_digest_covers_the_last_whole_week_or_month(frequency, today, expected):
    assert period_for(frequency, today) == expected


def test_a_rate_change_is_significant_only_when_its_interval_excludes_zero():
    # 80 % of 100 against 60 % of 100: SE = √(.8·.2/100 + .6·.4/100) = √.004 = .063246; margin 12.40 pts.
    change = rate_change(80, 100, 60, 100)
    assert change.change == pytest.approx(20.0)
    assert change.low == pytest.approx(20.0 - 12.396, abs=0.001)
    assert change.significant is True
    assert rate_change(52, 100, 50, 100).significant is False
    assert rate_change(1, 0, 1, 10).change is None


def _november():
    gold = SegmentFactory(name="Gold", rank=2)
    big = CustomerFactory(name="Big Co", segment=gold, value=Decimal("5000"), acquired_at=at("2025-01-01"))
    small = CustomerFactory(name="Small Co", segment=gold, value=Decimal("100"), acquired_at=at("2025-01-01"))
    event(Event.Type.NEW, big, at("2025-01-01"), value=Decimal("5000"))
    event(Event.Type.NEW, small, at("2025-01-01"), value=Decimal("100"))
    ResponseFactory(customer=small, nps=10, csat=5, submitted_at=at("2026-10-15"))
    ResponseFactory(customer=small, nps=10, csat=5, submitted_at=at("2026-11-03"))
    ResponseFactory(customer=small, nps=9, csat=4, submitted_at=at("2026-11-10"))
    ResponseFactory(customer=big, nps=3, csat=2, submitted_at=at("2026-11-20"))
    return big


def test_the_digest_says_the_periods_figures_against_the_period_before():
    big = _november()
    digest = digest_content(frequency="monthly", start=date(2026, 11, 1), end=date(2026, 11, 30))
    figures = {f.key: f for f in digest.figures}
    # November: promoters 2, detractors 1 of 3 → 33.3; October: one promoter → 100.
    assert figures["nps"].value == pytest.approx(100 * 1 / 3)
    assert figures["nps"].previous == pytest.approx(100.0)
    assert figures["nps"].change == pytest.approx(100 / 3 - 100)
    assert figures["responses"].value == 3
    # CSAT: 2 of 3 satisfied (66.7 %) against 1 of 1: too few answers for a significant change.
    assert figures["csat"].value == pytest.approx(200 / 3)
    assert figures["csat"].significant is not True
    assert figures["churn_rate"].value == 0.0
    assert digest.revenue_at_risk == 5000.0
    assert [d["customer_id"] for d in digest.detractors] == [big.pk]


def _subscriber(name, frequency="monthly", language="en"):
    user = cx_manager(name)
    digest_subscription_set(user=user, frequency=frequency, language=language)
    return user


def test_each_subscriber_is_owed_one_digest_per_period_whatever_the_runs():
    _subscriber("ana")
    _subscriber("ben", frequency="weekly")
    _subscriber("off", frequency="off")
    first = digests_schedule(day=date(2026, 12, 3))
    again = digests_schedule(day=date(2026, 12, 3))
    assert first.owed == 2 and again.owed == 0
    assert sorted(again.queued) == sorted(first.queued)
    rows = DigestDelivery.objects.order_by("frequency").values_list("frequency", "period_start", "period_end")
    assert list(rows) == [
        ("monthly", date(2026, 11, 1), date(2026, 11, 30)),
        ("weekly", date(2026, 11, 23), date(2026, 11, 29)),
    ]


def test_a_digest_is_sent_once_in_the_users_language():
    _november()
    _subscriber("ana", language="es")
    (pk,) = digests_schedule(day=date(2026, 12, 3)).queued
    assert digest_send(delivery_id=pk) == "sent"
    assert digest_send(delivery_id=pk) == "taken"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject == "Resumen mensual de CX Metrics: 2026-11-01 a 2026-11-30"
    assert "Big Co" in message.body and "5000\u00a0€" in message.body.replace(".", "")
    assert "significativo" not in message.body  # no change in November was significant


def test_a_worker_stopped_mid_send_sends_nothing_twice_and_the_others_still_get_theirs():
    _november()
    users = [_subscriber(name) for name in ("ana", "ben", "cy")]
    queued = digests_schedule(day=date(2026, 12, 3)).queued
    stopped = DigestDelivery.objects.get(user=users[1]).pk

    class WorkerStopped(BaseException):
        """What a killed worker looks like to the code: nothing after the send runs."""

    real_send = mail.EmailMultiAlternatives.send

    def send(message, *args, **kwargs):
        real_send(message, *args, **kwargs)
        if message.to == [users[1].email]:
            raise WorkerStopped

    with mock.patch.object(mail.EmailMultiAlternatives, "send", send):
        for pk in queued:
            try:
                digest_send(delivery_id=pk)
            except WorkerStopped:
                break  # the worker died: the third digest was never started
    # The next beat run hands out what is still pending; the stopped one is left "sending".
    for pk in digests_schedule(day=date(2026, 12, 3)).queued:
        digest_send(delivery_id=pk)
    for pk in queued:
        digest_send(delivery_id=pk)
    assert sorted(m.to[0] for m in mail.outbox) == sorted(u.email for u in users)
    assert DigestDelivery.objects.get(pk=stopped).status == "sending"


def test_a_mail_server_failure_is_tried_again_up_to_the_cap():
    _subscriber("ana")
    (pk,) = digests_schedule(day=date(2026, 12, 3)).queued
    down = smtplib.SMTPServerDisconnected("gone")
    with mock.patch.object(mail.EmailMultiAlternatives, "send", side_effect=down):
        assert digest_send(delivery_id=pk) == "pending"
        for _ in range(MAX_ATTEMPTS - 2):
            digest_send(delivery_id=pk)
        assert digest_send(delivery_id=pk) == "failed"
    assert DigestDelivery.objects.get(pk=pk).attempts == MAX_ATTEMPTS
    assert mail.outbox == []


def test_a_user_who_no_longer_sees_the_dashboards_gets_no_digest():
    user = UserFactory(username="former")
    DigestSubscription.objects.create(user=user, frequency="monthly", language="en")
    (pk,) = digests_schedule(day=date(2026, 12, 3)).queued
    assert digest_send(delivery_id=pk) == "failed"
    assert mail.outbox == []


def test_a_manager_chooses_their_digest_on_the_profile_page(client):
    user = cx_manager("ana")
    client.force_login(user)
    page = client.get(reverse("digests-profile"), HTTP_ACCEPT_LANGUAGE="es")
    assert page.status_code == 200
    assert "Resumen por correo" in page.content.decode()
    saved = client.post(reverse("digests-profile"), {"frequency": "weekly", "language": "es"})
    assert saved.status_code == 302
    assert DigestSubscription.objects.get(user=user).frequency == "weekly"
    bad = client.post(reverse("digests-profile"), {"frequency": "daily", "language": "es"})
    assert bad.status_code == 200 and "daily" in bad.content.decode()


def test_the_profile_page_is_for_dashboard_users(client):
    client.force_login(UserFactory(username="someone"))
    assert client.get(reverse("digests-profile")).status_code == 403


def test_the_digest_lists_the_periods_cases_the_readers_own_and_new_complaints():
    big = _november()
    reader = _subscriber("ana")
    case = followup.case_open(customer=big, owner=reader, sla_hours=1, now=at("2026-11-21"))
    followup.case_open(customer=big, owner=cx_manager("ben"), sla_hours=200_000, now=at("2026-11-22"))
    followup.case_close(case=followup.case_open(customer=big, owner=reader, now=at("2026-11-23")), outcome="no_action",
                        now=at("2026-11-24"))  # fmt: skip
    complaint(at("2026-11-05"), customer=big, category_name="billing")
    complaint(at("2026-11-06"), customer=big, category_name="billing")
    complaint(at("2026-11-07"), kind="inquiry", category_name="delivery")
    digest = digest_content(frequency="monthly", start=date(2026, 11, 1), end=date(2026, 11, 30), user=reader)
    assert digest.cases["opened"] == 3 and digest.cases["closed"] == 1 and digest.cases["open_at_end"] == 2
    # Ana owns one open case (overdue since 21 November); she sees every overdue case as a CX manager.
    assert (digest.cases["mine"], digest.cases["overdue"]) == (1, 1)
    assert case.pk in [c.pk for c in followup_selectors.cases_list(user=reader, view="overdue")]
    assert [(r["category"], r["complaints"]) for r in digest.complaints] == [("billing", 2)]


def _comments(month: str, texts: list[tuple[str, int, int]]) -> list[int]:
    """Responses on the 10th of ``month`` with (comment, NPS, how many)."""
    return [
        ResponseFactory(nps=nps, comment=text, submitted_at=at(f"{month}-10")).pk
        for text, nps, n in texts
        for _ in range(n)
    ]


def test_the_digest_names_the_top_and_emerging_themes_of_the_comments():
    from comments.services import comments_analyse

    ids = _comments("2026-10", [("The delivery was late", 2, 1), ("Friendly staff", 10, 9)])
    ids += _comments("2026-11", [("The delivery was late", 2, 8), ("Friendly staff", 10, 2)])
    comments_analyse(response_ids=ids)

    digest = digest_content(frequency="monthly", start=date(2026, 11, 1), end=date(2026, 11, 30))

    section = digest.comments
    assert section["analysed"] == 10
    # November: Delivery in 8 of 10 comments, Staff in 2 of 10.
    assert [(t["name"], t["name_es"], t["share"], t["mentions"]) for t in section["top"]] == [
        ("Delivery", "Entrega", 80.0, 8),
        ("Staff", "Personal", 20.0, 2),
    ]
    # Delivery 1 of 10 in October against 8 of 10: pooled p = .45, SE = √(.45·.55·.2) = .2225, z = 3.15.
    assert [(t["name"], t["previous_share"], t["share"]) for t in section["emerging"]] == [("Delivery", 10.0, 80.0)]

    user = _subscriber("reader", language="es")
    message = digest_message_for(user, digest, "es")
    assert "Entrega: 80,0" in message


def test_the_digest_has_no_comment_section_without_analysed_comments():
    ResponseFactory(nps=9, comment="", submitted_at=at("2026-11-10"))
    digest = digest_content(frequency="monthly", start=date(2026, 11, 1), end=date(2026, 11, 30))
    assert digest.comments == {}
    assert "Top themes" not in digest_message_for(_subscriber("reader"), digest, "en")


def digest_message_for(user, digest, language: str) -> str:
    from digests.services import digest_message

    return digest_message(user=user, digest=digest, language=language).body

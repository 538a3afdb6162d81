"""Sends left in the queue by a dead worker or a lost task are queued again within minutes, and sent once."""

import smtplib
import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from surveys import tasks
from surveys.models import Invitation
from surveys.services import invitations_requeue_stuck
from surveys.tests.factories import InvitationFactory, relational_survey

pytestmark = pytest.mark.django_db


def queued_invitation(survey, **fields) -> Invitation:
    invitation = InvitationFactory(survey=survey, status=Invitation.Status.QUEUED, sent_at=None)
    Invitation.objects.filter(pk=invitation.pk).update(**fields)
    return invitation


def ids_queued(queued) -> list[int]:
    return sorted(pk for args, _countdown in queued for pk in args[0])


def test_stuck_sends_are_queued_again_and_sent_exactly_once_fresh_ones_are_left_alone(queued, settings):
    settings.SURVEY_SEND_STUCK_SECONDS = 300
    now = timezone.now()
    survey = relational_survey()
    # A worker killed mid-send: claimed six minutes ago, still queued.
    mid_send = queued_invitation(survey, claimed_at=now - timedelta(minutes=6), attempts=1)
    # Its batch's task was lost: due six minutes ago, never claimed.
    lost = queued_invitation(survey, send_due_at=now - timedelta(minutes=6))
    # Left alone: being sent right now, just queued, a later batch of a big send, already sent.
    being_sent = queued_invitation(survey, claimed_at=now - timedelta(minutes=1))
    fresh = queued_invitation(survey)
    later_batch = queued_invitation(
        survey, created_at=now - timedelta(hours=2), send_due_at=now + timedelta(minutes=30)
    )
    InvitationFactory(survey=survey)
    untouched = [being_sent, fresh, later_batch]
    before = list(Invitation.objects.filter(pk__in=[i.pk for i in untouched]).order_by("pk").values())

    assert invitations_requeue_stuck() == 2
    assert ids_queued(queued) == sorted([mid_send.pk, lost.pk])
    assert invitations_requeue_stuck() == 0  # taken: the next sweep does not queue them again

    # The re-queued batch runs, and so does the lost task when it turns up after all.
    tasks.invitations_send_batch_task.run(ids_queued(queued))
    tasks.invitations_send_batch_task.run(ids_queued(queued))
    assert sorted(m.to[0] for m in mail.outbox) == sorted([mid_send.customer.email, lost.customer.email])
    for invitation in (mid_send, lost):
        invitation.refresh_from_db()
        assert invitation.status == Invitation.Status.SENT and invitation.claimed_at is None
    assert list(Invitation.objects.filter(pk__in=[i.pk for i in untouched]).order_by("pk").values()) == before


def test_queueing_records_when_each_batch_is_due(queued, settings):
    settings.SURVEY_SEND_BATCH_SIZE = 2
    settings.SURVEY_SEND_RATE_PER_MINUTE = 2
    survey = relational_survey()
    invitations = [queued_invitation(survey) for _ in range(3)]
    from surveys.services import invitations_queue

    before = timezone.now()
    invitations_queue(invitation_ids=[i.pk for i in invitations])
    due = [Invitation.objects.get(pk=i.pk).send_due_at - before for i in invitations]
    assert [round(d.total_seconds() / 60) for d in due] == [0, 0, 1]


def test_a_send_waiting_for_its_retry_is_not_taken_for_stuck(queued, settings, monkeypatch):
    settings.SURVEY_SEND_STUCK_SECONDS = 60
    retries: list = []
    monkeypatch.setattr(tasks.invitation_send_task, "apply_async", lambda **kw: retries.append(kw))
    invitation = queued_invitation(relational_survey(), send_due_at=timezone.now() - timedelta(minutes=10))
    with mock.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=smtplib.SMTPServerDisconnected()):
        tasks.invitations_send_batch_task.run([invitation.pk])
    assert retries == [{"args": [invitation.pk], "countdown": tasks.RETRY_FIRST_SECONDS}]
    invitation.refresh_from_db()
    assert invitation.send_due_at > timezone.now()
    assert invitations_requeue_stuck() == 0


def test_the_sweep_is_scheduled_every_few_minutes():
    from surveys.tasks import invitations_requeue_stuck_task

    with mock.patch("surveys.services.invitations_requeue_stuck", return_value=3) as sweep:
        assert invitations_requeue_stuck_task.apply().get() == 3
    sweep.assert_called_once_with()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_queue_each_stuck_invitation_once(postgres_db, queued, settings):
    settings.SURVEY_SEND_STUCK_SECONDS = 300
    survey = relational_survey()
    long_ago = timezone.now() - timedelta(minutes=10)
    stuck = [queued_invitation(survey, send_due_at=long_ago) for _ in range(40)]
    barrier = threading.Barrier(4)
    counts: list[int] = []
    errors: list[BaseException] = []

    def sweep():
        try:
            barrier.wait()
            counts.append(invitations_requeue_stuck())
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sum(counts) == 40
    assert ids_queued(queued) == sorted(i.pk for i in stuck)  # each once

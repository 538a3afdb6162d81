from datetime import timedelta

import pytest
from django.utils import timezone

from surveys.models import Invitation
from surveys.services import invitations_remind_due
from surveys.tests.factories import InvitationFactory, relational_survey

pytestmark = pytest.mark.django_db


def test_one_reminder_to_non_responders_after_the_delay(mailoutbox):
    survey = relational_survey(reminder_delay_days=3)
    due = InvitationFactory(survey=survey, sent_at=timezone.now() - timedelta(days=4))
    InvitationFactory(survey=survey, sent_at=timezone.now() - timedelta(days=2))  # too early
    InvitationFactory(survey=survey, sent_at=timezone.now() - timedelta(days=4), responded_at=timezone.now())
    InvitationFactory(survey=survey, sent_at=timezone.now() - timedelta(days=4), status=Invitation.Status.FAILED)
    InvitationFactory(survey=relational_survey(slug="no-reminder"), sent_at=timezone.now() - timedelta(days=30))
    assert invitations_remind_due() == 1
    assert mailoutbox[0].to == [due.customer.email]
    assert "Reminder" in mailoutbox[0].subject
    assert invitations_remind_due() == 0  # never a second reminder
    due.refresh_from_db()
    assert due.reminded_at is not None


def test_stuck_queued_invitations_are_queued_again(queued):
    from surveys.services import invitations_requeue_stuck

    stuck = InvitationFactory(status=Invitation.Status.QUEUED, sent_at=None)
    Invitation.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - timedelta(hours=2))
    InvitationFactory(status=Invitation.Status.QUEUED, sent_at=None)  # fresh: its task is still on its way
    being_sent = InvitationFactory(status=Invitation.Status.QUEUED, sent_at=None, claimed_at=timezone.now())
    Invitation.objects.filter(pk=being_sent.pk).update(created_at=timezone.now() - timedelta(hours=2))
    assert invitations_requeue_stuck() == 1
    assert queued[0][0] == [[stuck.pk]]


def test_maintenance_task_runs(queued):
    from surveys.tasks import invitations_maintenance_task

    invitations_maintenance_task.apply()

import smtplib
from unittest import mock

import pytest
from django.core import mail
from django.utils import timezone

from customers.tests.factories import CustomerFactory
from surveys import tasks
from surveys.models import Invitation
from surveys.services import InvitationSendError, invitation_send, invitations_send_batch
from surveys.tests.factories import InvitationFactory, relational_survey

pytestmark = pytest.mark.django_db


@pytest.fixture
def invitation():
    survey = relational_survey()
    return InvitationFactory(
        survey=survey,
        customer=CustomerFactory(name="Ana"),
        status=Invitation.Status.QUEUED,
        sent_at=None,
        language="es",
    )


def test_sends_html_and_text_in_the_customer_language_with_nps_links(invitation, settings):
    settings.SITE_URL = "https://cx.example.com"
    assert invitation_send(invitation_id=invitation.pk) is True
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.SENT and invitation.sent_at
    [message] = mail.outbox
    assert message.to == [invitation.customer.email]
    html = message.alternatives[0][0]
    link = f"https://cx.example.com/s/{invitation.token}/"
    for score in range(11):
        assert f'href="{link}?nps={score}"' in html
        assert f"{link}?nps={score}" in message.body
    assert "¿Nos recomendaría" in html or "recomiende" in html
    assert "¿Cómo lo estamos haciendo?" in message.subject
    assert f"https://cx.example.com/s/unsubscribe/{invitation.token}/" in message.body
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_sent_invitation_is_never_sent_again(invitation):
    assert invitation_send(invitation_id=invitation.pk)
    assert invitation_send(invitation_id=invitation.pk) is False
    assert len(mail.outbox) == 1


def test_an_invitation_claimed_by_another_worker_is_skipped(invitation):
    Invitation.objects.filter(pk=invitation.pk).update(claimed_at=timezone.now())
    assert invitation_send(invitation_id=invitation.pk) is False
    assert not mail.outbox


def test_permanent_smtp_failure_marks_failed_not_sent(invitation):
    error = smtplib.SMTPRecipientsRefused({invitation.customer.email: (550, b"no such user")})
    with mock.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=error):
        assert invitation_send(invitation_id=invitation.pk) is False
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.FAILED and invitation.sent_at is None
    assert "550" in invitation.error or "no such user" in invitation.error


def test_transient_smtp_failure_keeps_it_queued_and_raises(invitation):
    with (
        mock.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=smtplib.SMTPServerDisconnected("gone")),
        pytest.raises(InvitationSendError) as caught,
    ):
        invitation_send(invitation_id=invitation.pk)
    assert caught.value.permanent is False
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.QUEUED and invitation.claimed_at is None
    assert invitation.attempts == 1


def test_4xx_is_transient_5xx_permanent():
    from surveys.services import classify_smtp_error

    assert not classify_smtp_error(smtplib.SMTPDataError(451, b"try later")).permanent
    assert classify_smtp_error(smtplib.SMTPDataError(554, b"rejected")).permanent
    assert not classify_smtp_error(TimeoutError()).permanent


def test_batch_returns_transient_failures_for_retry(invitation):
    other = InvitationFactory(survey=invitation.survey, status=Invitation.Status.QUEUED, sent_at=None)
    calls = {"n": 0}
    real_send = mail.EmailMultiAlternatives.send

    def flaky(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionRefusedError("refused")
        return real_send(self, *args, **kwargs)

    with mock.patch("django.core.mail.EmailMultiAlternatives.send", flaky):
        retry = invitations_send_batch(invitation_ids=[invitation.pk, other.pk])
    assert retry == [invitation.pk]
    other.refresh_from_db()
    assert other.status == Invitation.Status.SENT


def test_task_retries_transient_errors_then_marks_failed(invitation, settings):
    settings.SURVEY_SEND_MAX_RETRIES = 2
    with mock.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=smtplib.SMTPConnectError(421, b"busy")):
        result = tasks.invitation_send_task.apply(args=[invitation.pk])  # eager: runs the retries in-process
    assert result.successful()
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.FAILED
    assert invitation.attempts == 3
    assert "gave up" in invitation.error


def test_unsubscribed_before_sending_is_not_sent(invitation):
    invitation.customer.unsubscribed_at = timezone.now()
    invitation.customer.save()
    assert invitation_send(invitation_id=invitation.pk) is False
    assert not mail.outbox

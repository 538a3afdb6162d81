"""Case services: opening with a due time, the timeline, status changes, closing, and the follow-up email
that honours unsubscribe and the suppression list."""

from __future__ import annotations

import smtplib
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.utils import timezone

from customers.models import Suppression
from customers.suppression import email_digest, key_id
from followup import services
from followup.models import Case, CaseEmail, CaseNote
from followup.tests.factories import UserFactory
from metrics.tests.factories import CustomerFactory, ResponseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def case():
    customer = CustomerFactory(name="Alpha", email="ana@alpha.example", language="es")
    response = ResponseFactory(customer=customer, nps=2, comment="Nadie me llamó")
    return services.case_open(customer=customer, response=response, owner=UserFactory(username="olga"), sla_hours=24)


def test_open_sets_due_time_from_sla_and_logs_it(case):
    assert case.status == Case.Status.OPEN
    assert case.due_at - case.created_at == timedelta(hours=24)
    assert list(case.notes.values_list("kind", flat=True)) == [CaseNote.Kind.OPENED]


def test_open_refuses_a_response_of_another_customer():
    response = ResponseFactory(nps=1)
    with pytest.raises(services.CaseError):
        services.case_open(customer=CustomerFactory(), response=response)


def test_status_close_and_reopen_are_logged(case):
    services.case_status_set(case=case, status=Case.Status.IN_PROGRESS)
    with pytest.raises(services.CaseError):
        services.case_status_set(case=case, status=Case.Status.CLOSED)
    closed = services.case_close(case=case, outcome=Case.Outcome.CONTACTED, note="Called her")
    assert closed.closed_at is not None and closed.first_contact_at == closed.closed_at
    with pytest.raises(services.CaseError, match="already closed"):
        services.case_close(case=case, outcome=Case.Outcome.NO_ACTION)
    reopened = services.case_status_set(case=case, status=Case.Status.OPEN)
    assert (reopened.closed_at, reopened.outcome) == (None, "")
    kinds = list(case.notes.values_list("kind", flat=True))
    assert kinds == ["opened", "status", "closed", "status"]


def test_close_not_reached_records_no_contact(case):
    closed = services.case_close(case=case, outcome=Case.Outcome.NOT_REACHED)
    assert closed.first_contact_at is None


def test_unknown_outcome_is_refused(case):
    with pytest.raises(services.CaseError):
        services.case_close(case=case, outcome="solved")


def test_note_marked_contacted_sets_first_contact_once(case):
    first = timezone.now()
    services.case_note_add(case=case, text="Phoned", contacted=True, now=first)
    services.case_note_add(case=case, text="Phoned again", contacted=True, now=first + timedelta(hours=2))
    case.refresh_from_db()
    assert case.first_contact_at == first
    with pytest.raises(services.CaseError):
        services.case_note_add(case=case, text="   ")


@pytest.fixture
def eager(monkeypatch, django_capture_on_commit_callbacks):
    """Celery runs tasks in the calling process (CELERY_TASK_ALWAYS_EAGER), and the tasks queued after
    commit are run when the block ends."""
    from cxmetrics.celery import app

    monkeypatch.setattr(app.conf, "task_always_eager", True)
    return lambda: django_capture_on_commit_callbacks(execute=True)


def test_email_goes_in_the_customers_language_and_is_logged(case, eager):
    with eager():
        services.case_email_send(case=case, message="Le llamo mañana.", by=case.owner)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ana@alpha.example"]
    assert "Le llamo mañana." in message.body
    assert "Alpha" in message.body
    case.refresh_from_db()
    assert case.first_contact_at is not None
    kinds = list(case.notes.values_list("kind", flat=True))
    assert kinds == [CaseNote.Kind.OPENED, CaseNote.Kind.EMAIL_QUEUED, CaseNote.Kind.EMAIL]
    assert CaseEmail.objects.get().status == CaseEmail.Status.SENT


@pytest.mark.parametrize("why", ["unsubscribed", "suppressed", "no_email", "erased"])
def test_email_refused_is_logged_and_nothing_sent(case, why):
    customer = case.customer
    if why == "unsubscribed":
        customer.unsubscribed_at = timezone.now()
    elif why == "no_email":
        customer.email = ""
    elif why == "erased":
        customer.erased_at = timezone.now()
    else:
        Suppression.objects.create(
            kind=Suppression.Kind.EMAIL, digest=email_digest(customer.email), key_id=key_id(), reason="request"
        )
    customer.save()
    with pytest.raises(services.CaseEmailRefused):
        services.case_email_send(case=case)
    assert mail.outbox == []
    assert case.notes.filter(kind=CaseNote.Kind.EMAIL_BLOCKED).count() == 1
    case.refresh_from_db()
    assert case.first_contact_at is None


def test_the_request_only_queues_the_email(case):
    """Without a worker, nothing is sent: the timeline says queued and the row waits, pending."""
    services.case_email_send(case=case, message="Hola", by=case.owner)
    assert mail.outbox == []
    assert CaseEmail.objects.get().status == CaseEmail.Status.PENDING
    assert list(case.notes.values_list("kind", flat=True)) == [CaseNote.Kind.OPENED, CaseNote.Kind.EMAIL_QUEUED]
    case.refresh_from_db()
    assert case.first_contact_at is None


def test_a_task_run_twice_sends_once(case):
    email = services.case_email_send(case=case, message="Hola", by=case.owner)
    assert services.case_email_deliver(email_id=email.pk) == CaseEmail.Status.SENT
    assert services.case_email_deliver(email_id=email.pk) == "taken"
    from followup.tasks import case_email_task

    assert case_email_task.apply(args=[email.pk]).get() == "taken"
    assert len(mail.outbox) == 1
    assert case.notes.filter(kind=CaseNote.Kind.EMAIL).count() == 1


def test_a_task_finding_the_email_claimed_by_another_worker_sends_nothing(case):
    email = services.case_email_send(case=case, message="Hola", by=case.owner)
    CaseEmail.objects.filter(pk=email.pk).update(status=CaseEmail.Status.SENDING)  # another worker's claim
    assert services.case_email_deliver(email_id=email.pk) == "taken"
    assert mail.outbox == []


def test_a_customer_who_unsubscribed_after_the_queueing_gets_nothing(case):
    email = services.case_email_send(case=case, message="Hola", by=case.owner)
    case.customer.unsubscribed_at = timezone.now()
    case.customer.save()
    assert services.case_email_deliver(email_id=email.pk) == CaseEmail.Status.REFUSED
    assert mail.outbox == []
    assert case.notes.filter(kind=CaseNote.Kind.EMAIL_BLOCKED).count() == 1
    assert services.case_email_deliver(email_id=email.pk) == "taken"


def test_a_customer_erased_after_the_queueing_gets_nothing(case):
    from customers.services import customers_erase

    email = services.case_email_send(case=case, message="Hola", by=case.owner)
    customers_erase(customers=type(case.customer).objects.filter(pk=case.customer_id))
    assert services.case_email_deliver(email_id=email.pk) == CaseEmail.Status.REFUSED
    assert mail.outbox == []


def test_a_mail_server_error_is_retried_with_back_off_then_sent(case):
    email = services.case_email_send(case=case, message="Hola", by=case.owner)
    down = smtplib.SMTPServerDisconnected("gone")
    now = timezone.now()
    with mock.patch.object(mail.EmailMultiAlternatives, "send", side_effect=down):
        assert services.case_email_deliver(email_id=email.pk, now=now) == CaseEmail.Status.PENDING
        assert services.case_email_deliver(email_id=email.pk, now=now) == CaseEmail.Status.PENDING
    email.refresh_from_db()
    assert (email.attempts, email.error) == (2, "gone")
    assert email.next_attempt_at == now + timedelta(seconds=120)
    assert [services.case_email_retry_wait(attempts=n) for n in (1, 2, 3, 10)] == [60, 120, 240, 3600]
    assert services.case_email_deliver(email_id=email.pk) == CaseEmail.Status.SENT
    assert len(mail.outbox) == 1


def test_the_task_retries_after_a_mail_server_error_and_gives_up_at_the_cap(case, eager):
    from followup.services.cases import CASE_EMAIL_MAX_ATTEMPTS

    down = smtplib.SMTPServerDisconnected("gone")
    with mock.patch.object(mail.EmailMultiAlternatives, "send", side_effect=down) as send, eager():
        email = services.case_email_send(case=case, message="Hola", by=case.owner)
    # Eager retries run at once, one after the other, until the service gives up.
    assert send.call_count == CASE_EMAIL_MAX_ATTEMPTS
    email.refresh_from_db()
    assert (email.status, email.attempts) == (CaseEmail.Status.FAILED, CASE_EMAIL_MAX_ATTEMPTS)
    assert "could not be sent after 5 attempts" in case.notes.get(kind=CaseNote.Kind.EMAIL_BLOCKED).text
    case.refresh_from_db()
    assert case.first_contact_at is None


def test_the_task_sends_after_one_mail_server_error(case, eager):
    real_send = mail.EmailMultiAlternatives.send
    calls = []

    def flaky(message, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise smtplib.SMTPDataError(451, b"try later")
        return real_send(message, *args, **kwargs)

    with mock.patch.object(mail.EmailMultiAlternatives, "send", flaky), eager():
        email = services.case_email_send(case=case, message="Hola", by=case.owner)
    email.refresh_from_db()
    assert (email.status, email.attempts, len(mail.outbox)) == (CaseEmail.Status.SENT, 2, 1)


def test_lost_email_tasks_are_queued_again_and_send_once(case, eager):
    email = services.case_email_send(case=case, message="Hola", by=case.owner)  # its task never ran
    assert services.case_emails_requeue() == 0  # not due long enough
    with eager():
        assert services.case_emails_requeue(now=timezone.now() + timedelta(minutes=11)) == 1
    email.refresh_from_db()
    assert email.status == CaseEmail.Status.SENT
    assert services.case_emails_requeue(now=timezone.now() + timedelta(hours=2)) == 0
    assert len(mail.outbox) == 1


def test_an_email_a_stopped_worker_left_half_sent_is_marked_failed_not_sent_again(case, eager):
    email = services.case_email_send(case=case, message="Hola", by=case.owner)
    # A worker claimed it and stopped before the mail server answered.
    CaseEmail.objects.filter(pk=email.pk).update(
        status=CaseEmail.Status.SENDING, claimed_at=timezone.now() - timedelta(minutes=31), attempts=1
    )
    recent = services.case_email_send(case=case, message="Otra", by=case.owner)
    CaseEmail.objects.filter(pk=recent.pk).update(status=CaseEmail.Status.SENDING, claimed_at=timezone.now())
    assert services.case_emails_abandoned_fail() == 1  # the recent claim may still be sending
    email.refresh_from_db()
    assert email.status == CaseEmail.Status.FAILED
    assert "may or may not have reached the customer" in email.error
    note = case.notes.filter(kind=CaseNote.Kind.EMAIL_BLOCKED).get()
    assert note.text == email.error and note.author == case.owner
    with eager():
        assert services.case_emails_requeue(now=timezone.now() + timedelta(hours=2)) == 0
    assert services.case_emails_abandoned_fail() == 0  # once
    assert len(mail.outbox) == 0
    recent.refresh_from_db()
    assert recent.status == CaseEmail.Status.SENDING


def test_assign_logs_the_new_owner(case):
    other = UserFactory(username="pablo")
    services.case_assign(case=case, owner=other)
    case.refresh_from_db()
    assert case.owner == other
    assert "pablo" in case.notes.get(kind=CaseNote.Kind.ASSIGNED).text

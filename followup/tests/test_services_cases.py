"""Case services: opening with a due time, the timeline, status changes, closing, and the follow-up email
that honours unsubscribe and the suppression list."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from customers.models import Suppression
from customers.suppression import email_digest, key_id
from followup import services
from followup.models import Case, CaseNote
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


def test_email_goes_in_the_customers_language_and_is_logged(case):
    services.case_email_send(case=case, message="Le llamo mañana.", by=case.owner)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ana@alpha.example"]
    assert "Le llamo mañana." in message.body
    assert "Alpha" in message.body
    case.refresh_from_db()
    assert case.first_contact_at is not None
    assert case.notes.filter(kind=CaseNote.Kind.EMAIL).count() == 1


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


def test_assign_logs_the_new_owner(case):
    other = UserFactory(username="pablo")
    services.case_assign(case=case, owner=other)
    case.refresh_from_db()
    assert case.owner == other
    assert "pablo" in case.notes.get(kind=CaseNote.Kind.ASSIGNED).text

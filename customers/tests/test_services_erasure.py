"""customers_erase: personal data out, figures kept, and the suppression list keeping the CRM, the
response imports and the invitations from bringing an erased subject back."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.models import Change
from crm_sync.models import Connection, QuarantinedRecord
from crm_sync.services import crm_file_import
from customers.models import Customer, Event, Suppression
from customers.records import CustomerRecord
from customers.services import crm_records_apply, customers_delete, customers_erase
from customers.suppression import email_digest, suppressed_emails
from customers.tests.factories import CustomerFactory, EventFactory, SegmentFactory
from surveys.models import Invitation, Question, Response
from surveys.services import (
    ERASED_TEXT,
    InvitationError,
    customers_invitable,
    invitation_create_for_api,
    invitations_create,
    responses_import,
)
from surveys.tests.factories import InvitationFactory, QuestionFactory, ResponseFactory, SurveyFactory

pytestmark = pytest.mark.django_db

HEADER = "customer_id,name,email,segment,value,status,acquired_at,lost_at,lost_reason,referred_by,updated_at\n"


@pytest.fixture
def csv_connection() -> Connection:
    SegmentFactory(name="Silver", rank=1)
    SegmentFactory(name="Gold", rank=2)
    return Connection.objects.create(kind=Connection.Kind.CSV, name="ERP export")


def customers_csv(connection, text: str):
    return crm_file_import(
        connection=connection, stream=io.BytesIO(text.encode()), name="customers.csv", kind="customers"
    )


def answered(customer, *, comment="My manager Ann Smith was rude", nps=3):
    survey = SurveyFactory()
    text = QuestionFactory(survey=survey, kind=Question.Kind.TEXT, text_en="Why?")
    choice = QuestionFactory(survey=survey, kind=Question.Kind.CHOICE, text_en="Which plan?")
    invitation = InvitationFactory(survey=survey, customer=customer)
    return ResponseFactory(
        survey=survey, customer=customer, invitation=invitation, nps=nps, comment=comment,
        submitted_at=timezone.now() - timedelta(days=30),
        answers={str(text.pk): {"kind": "text", "text": "Why?", "value": comment},
                 str(choice.pk): {"kind": "choice", "text": "Which plan?", "value": "Pro"}},
    )  # fmt: skip


def test_erasure_removes_the_personal_data_and_keeps_scores_events_and_invitations(client):
    customer = CustomerFactory(name="Ann Smith", email="Ann.Smith@Example.com", lost_reason="Ann left for X")
    event = EventFactory(
        customer=customer, connection=customer.connection, source_key=f"csv:{customer.external_id}:new"
    )
    response = answered(customer)
    sent = response.invitation
    queued = InvitationFactory(customer=customer, status=Invitation.Status.QUEUED, sent_at=None, error="")
    old_tokens = {sent.token, queued.token}
    crm_id = customer.external_id
    Change.objects.all().delete()

    result = customers_erase(customers=Customer.objects.filter(pk=customer.pk))

    assert (result.customers, result.responses, result.invitations, result.suppressed) == (1, 1, 2, 2)
    customer.refresh_from_db()
    assert (customer.name, customer.email, customer.lost_reason) == ("", "", "")
    assert customer.external_id == f"erased-{customer.pk}" and customer.erased_at and customer.unsubscribed_at
    # Kept: status, value, dates, segment; the event (its key without the CRM id) and the scores.
    assert customer.status == "active" and customer.acquired_at
    event.refresh_from_db()
    assert (event.type, event.customer_id, event.source_key) == ("new", customer.pk, f"erased:{event.pk}")
    response.refresh_from_db()
    assert (response.nps, response.comment, response.customer_id) == (3, ERASED_TEXT, customer.pk)
    assert sorted(a["value"] for a in response.answers.values()) == ["Pro", ERASED_TEXT]
    # The texts are nowhere in the database any more.
    assert not Response.objects.filter(comment__contains="Ann Smith").exists()
    assert not Response.objects.filter(answers__icontains="Ann Smith").exists()
    assert not Customer.objects.filter(name__contains="Ann").exists()
    assert not Event.objects.filter(source_key__contains=crm_id).exists()
    # Invitations stay (they count), their links are dead, the queued one is never sent.
    invitations = {i.pk: i for i in Invitation.objects.filter(customer=customer)}
    assert set(invitations) == {sent.pk, queued.pk} and not old_tokens & {i.token for i in invitations.values()}
    assert (invitations[sent.pk].status, invitations[queued.pk].status) == ("sent", "failed")
    for token in old_tokens:
        assert client.get(reverse("surveys-answer", args=[token])).status_code == 404
    # Only the customer's record changed for the read model.
    assert list(Change.objects.values_list("kind", "customer_id")) == [("customers", customer.pk)]
    # Erasing again changes nothing.
    assert customers_erase(customers=Customer.objects.filter(pk=customer.pk)).already_erased == 1


def test_the_suppression_list_holds_keyed_hashes_only(settings):
    customer = CustomerFactory(email="ann@example.com")
    customers_erase(customers=Customer.objects.filter(pk=customer.pk))
    digests = set(Suppression.objects.values_list("digest", flat=True))
    assert len(digests) == 2 and email_digest(" ANN@example.com ") in digests
    assert hashlib.sha256(b"ann@example.com").hexdigest() not in digests  # not guessable without the key
    stored = " ".join(str(v) for row in Suppression.objects.values_list() for v in row)
    assert "ann@" not in stored and customer.external_id not in stored
    settings.SUPPRESSION_HASH_KEY = "another key"
    assert email_digest("ann@example.com") not in digests
    assert not suppressed_emails(emails=["ann@example.com"])


def test_a_customer_erased_then_sent_again_by_the_crm_is_not_created_again_nor_invitable(csv_connection):
    customers_csv(csv_connection, HEADER + "A1,Ann Smith,ann@example.com,Silver,100,active,2024-01-01,,,,2024-06-01\n")
    ann = Customer.objects.get(external_id="A1")
    customers_erase(customers=Customer.objects.filter(pk=ann.pk))

    again = customers_csv(
        csv_connection,
        HEADER + "A1,Ann Smith,ann@example.com,Gold,100,active,2024-01-01,,,,2024-07-01\n"
        "B7,Ann S.,ANN@example.com,Silver,50,active,2024-07-01,,,,2024-07-01\n"  # a new CRM id, her email
        "C1,Carl,carl@example.com,Silver,10,active,2024-07-01,,,,2024-07-01\n",
    )

    assert again.suppressed == 2 and again.quarantined == [] and again.run.quarantined == 0
    assert not Customer.objects.filter(external_id__in=["A1", "B7"]).exists()
    assert not Customer.objects.filter(email__iexact="ann@example.com").exists()
    assert Customer.objects.filter(external_id="C1").exists()  # the rest of the file is applied
    ann.refresh_from_db()
    assert (ann.name, ann.segment.name) == ("", "Silver")  # the erased row is not updated either
    survey = SurveyFactory()
    assert list(customers_invitable(survey=survey, customers=Customer.objects.all())) == [
        Customer.objects.get(external_id="C1")
    ]
    assert not QuarantinedRecord.objects.exists()  # nothing of hers stored again, not even as bad data
    assert Suppression.objects.filter(times_blocked__gt=0).count() == 2


def test_a_customer_deleted_in_admin_is_not_created_again_and_leaves_no_comment(csv_connection, admin_client):
    customers_csv(csv_connection, HEADER + "A1,Ann Smith,ann@example.com,Silver,100,active,2024-01-01,,,,2024-06-01\n")
    ann = Customer.objects.get(external_id="A1")
    response = answered(ann)
    url = reverse("admin:customers_customer_delete", args=[ann.pk])
    assert "suppression list" in admin_client.get(url).content.decode()
    assert admin_client.post(url, {"post": "yes"}).status_code == 302

    assert not Customer.objects.filter(pk=ann.pk).exists()
    response.refresh_from_db()
    assert (response.customer_id, response.comment, response.nps) == (None, ERASED_TEXT, 3)
    assert set(Suppression.objects.values_list("reason", flat=True)) == {"deleted"}
    again = customers_csv(
        csv_connection, HEADER + "A1,Ann Smith,ann@example.com,Silver,100,active,2024-01-01,,,,2024-07-01\n"
    )
    assert again.suppressed == 1 and not Customer.objects.exists()


def test_a_reference_to_an_erased_customer_brings_back_no_placeholder_and_no_second_referral():
    hubspot = Connection.objects.create(kind="hubspot", name="HS", secret_token="x")

    def record(external_id, day, **fields):
        return CustomerRecord(external_id=external_id, source=f"hubspot:companies:{external_id}", is_customer=True,
                              customer_since=datetime(2025, 1, 1, tzinfo=UTC),
                              modified_at=datetime(2025, 1, day, tzinfo=UTC), **fields)  # fmt: skip

    crm_records_apply(connection=hubspot, records=[record("X", 2, name="Xena"), record("C", 2, referred_by="X")])
    x = Customer.objects.get(external_id="X")
    customers_erase(customers=Customer.objects.filter(pk=x.pk))
    events = list(Event.objects.order_by("pk").values_list("pk", "type", "customer_id", "referrer_id"))
    assert not Event.objects.filter(source_key__contains=":X").exists()

    result = crm_records_apply(
        connection=hubspot, records=[record("C", 3, name="Cee", referred_by="X"), record("D", 3, referred_by="X")]
    )

    assert result.suppressed == 0 and result.customers_created == 1  # D, without a referrer
    assert list(Event.objects.filter(pk__in=[e[0] for e in events]).order_by("pk").values_list(
        "pk", "type", "customer_id", "referrer_id")) == events  # fmt: skip
    assert not Event.objects.filter(type="referral").exclude(pk__in=[e[0] for e in events]).exists()
    assert not Customer.objects.filter(external_id="X").exists()
    assert Customer.objects.get(external_id="C").referred_by_id == x.pk  # the old link stays


def test_a_page_checks_the_suppression_list_in_one_query():
    hubspot = Connection.objects.create(kind="hubspot", name="HS", secret_token="x")
    records = [CustomerRecord(external_id=str(i), source=f"t:{i}", email=f"c{i}@example.com", referred_by=str(i + 1))
               for i in range(300)]  # fmt: skip
    with CaptureQueriesContext(db_connection) as queries:
        crm_records_apply(connection=hubspot, records=records)
    assert sum("customers_suppression" in q["sql"] for q in queries.captured_queries) == 1


def test_invitations_skip_an_erased_subjects_email_on_another_customer_and_the_api_says_why():
    survey = SurveyFactory()
    QuestionFactory(survey=survey)
    ann = CustomerFactory(email="ann@example.com")
    twin = CustomerFactory(email="Ann@Example.com", connection=Connection.objects.create(kind="csv", name="Other"))
    other = CustomerFactory()
    crm_id = ann.external_id
    customers_erase(customers=Customer.objects.filter(pk=ann.pk))

    plan = invitations_create(survey=survey, customers=Customer.objects.all(), queue=False)

    assert (plan.invitable, plan.suppressed) == (1, 1)
    assert list(Invitation.objects.values_list("customer_id", flat=True)) == [other.pk]
    for ask in ({"customer_id": crm_id}, {"email": "ann@example.com"}, {"customer_id": twin.external_id}):
        with pytest.raises(InvitationError) as refused:
            invitation_create_for_api(survey=survey, idempotency_key=str(ask), **ask)
        assert refused.value.code == "erased"


def test_a_response_import_skips_the_rows_of_an_erased_customer():
    ann, bob = CustomerFactory(), CustomerFactory()
    SurveyFactory(slug="rel")
    crm_id = ann.external_id
    customers_erase(customers=Customer.objects.filter(pk=ann.pk))
    data = (
        "response_id,customer_id,submitted_at,nps,comment\n"
        f"r1,{crm_id},2026-01-02T10:00:00,2,Ann Smith here\n"
        f"r2,{bob.external_id},2026-01-02T10:00:00,9,Fine\n"
        f"r3,erased-{ann.pk},2026-01-02T10:00:00,9,Linked to the erased row?\n"
    ).encode()

    report = responses_import(data=data, survey_slug="rel")

    assert (report.created, report.suppressed, report.anonymous) == (2, 1, 1)
    assert "skipped (the customer's data erased at their request): 1" in report.lines()[0]
    assert not Response.objects.filter(comment__contains="Ann").exists()
    assert not Response.objects.filter(customer=ann).exists()


def test_erasure_deletes_the_quarantined_records_that_mention_the_subject():
    ann = CustomerFactory(email="ann@example.com", external_id="4711")
    mention = {"connection": ann.connection, "reason": "bad"}
    QuarantinedRecord.objects.create(source="customers.csv:3", payload="4711,Ann,ANN@example.com,x", **mention)
    QuarantinedRecord.objects.create(source="t", payload="CustomerRecord(external_id='4711', name='Ann')", **mention)
    kept = QuarantinedRecord.objects.create(source="customers.csv:4", payload="47110,Bob,bob@example.com", **mention)
    assert customers_erase(customers=Customer.objects.filter(pk=ann.pk)).quarantined_records == 2
    assert list(QuarantinedRecord.objects.all()) == [kept]


def test_delete_through_the_service_erases_first():
    ann = CustomerFactory(email="ann@example.com")
    response = answered(ann)
    customers_delete(customers=Customer.objects.filter(pk=ann.pk))
    response.refresh_from_db()
    assert response.comment == ERASED_TEXT and suppressed_emails(emails=["ann@example.com"])


def test_the_deployment_check_asks_for_a_dedicated_suppression_key(settings):
    from customers.checks import suppression_key_check

    settings.SUPPRESSION_HASH_KEY = ""
    assert [w.id for w in suppression_key_check(None)] == ["customers.W001"]
    settings.SUPPRESSION_HASH_KEY = "a long random string"
    assert suppression_key_check(None) == []


def test_erasure_takes_the_ids_in_other_connections_and_the_held_events(db):
    from crm_sync.models import Connection
    from customers.models import CustomerExternalId, HeldEvent
    from customers.suppression import crm_id_digest

    crm = Connection.objects.create(kind="csv", name="CRM side")
    erp = Connection.objects.create(kind="csv", name="ERP side")
    customer = Customer.objects.create(connection=crm, external_id="1172", email="buy@norte.example")
    CustomerExternalId.objects.create(customer=customer, connection=erp, external_id="K-1172")
    held = dict(type="lost", occurred_at=timezone.now(), source="events.csv:2", reason="unknown")
    HeldEvent.objects.create(connection=erp, event_id="E1", customer_external_id="K-1172", record={}, **held)
    HeldEvent.objects.create(connection=erp, event_id="E2", customer_external_id="X",
                             record={"customer_email": "buy@norte.example"}, **held)  # fmt: skip
    HeldEvent.objects.create(connection=erp, event_id="E3", customer_external_id="Y", record={}, **held)
    customers_erase(customers=Customer.objects.filter(pk=customer.pk))
    assert not CustomerExternalId.objects.exists()
    assert list(HeldEvent.objects.values_list("event_id", flat=True)) == ["E3"]
    assert Suppression.objects.filter(digest=crm_id_digest(erp.pk, "K-1172")).exists()

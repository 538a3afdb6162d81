"""A subject's data export (selector, command, admin download) and the admin's erasure action and
suppression list."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import CommandError, call_command
from django.urls import reverse

from crm_sync.models import Connection, QuarantinedRecord
from customers.models import Customer, Event, Suppression
from customers.selectors import customer_export
from customers.services import customers_erase
from customers.tests.factories import CustomerFactory, EventFactory, SegmentFactory
from surveys.models import Invitation, Question
from surveys.tests.factories import InvitationFactory, QuestionFactory, ResponseFactory, SurveyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ann() -> Customer:
    """A known subject: a referral made, an event, an answered and a queued invitation, a quarantined row."""
    gold = SegmentFactory(name="Gold", rank=2)
    connection = Connection.objects.create(kind=Connection.Kind.CSV, name="ERP")
    ann = CustomerFactory(connection=connection, external_id="A1", name="Ann Smith", email="ann@example.com",
                          segment=gold, value=Decimal("1200.00"), acquired_at=datetime(2025, 1, 2, tzinfo=UTC))  # fmt: skip
    EventFactory(connection=connection, customer=ann, type=Event.Type.NEW, occurred_at=datetime(2025, 1, 2, tzinfo=UTC),
                 segment=gold, value=Decimal("1200.00"), source_key="csv:A1:new")  # fmt: skip
    friend = CustomerFactory(connection=connection, external_id="F9", name="Friend")
    EventFactory(connection=connection, customer=friend, referrer=ann, type=Event.Type.REFERRAL,
                 occurred_at=datetime(2025, 3, 4, tzinfo=UTC), source_key="csv:F9:referral:A1")  # fmt: skip
    survey = SurveyFactory(name="Relationship 2025")
    why = QuestionFactory(survey=survey, kind=Question.Kind.TEXT, text_en="Why?")
    invitation = InvitationFactory(survey=survey, customer=ann, sent_at=datetime(2025, 4, 1, tzinfo=UTC))
    ResponseFactory(survey=survey, customer=ann, invitation=invitation, segment=gold, nps=9, comment="Great staff",
                    submitted_at=datetime(2025, 4, 2, tzinfo=UTC), language="en",
                    answers={str(why.pk): {"kind": "text", "text": "Why?", "value": "Great staff"}})  # fmt: skip
    InvitationFactory(survey=survey, customer=ann, status=Invitation.Status.QUEUED, sent_at=None)
    QuarantinedRecord.objects.create(connection=connection, source="customers.csv:7", reason="bad date",
                                     payload="A1,Ann Smith,ann@example.com,Gold,tomorrow")  # fmt: skip
    QuarantinedRecord.objects.create(connection=connection, source="customers.csv:8", reason="bad date",
                                     payload="F9,Friend,friend@example.com,Gold,tomorrow")  # fmt: skip
    return ann


def test_the_export_holds_everything_about_the_subject_and_nothing_about_others(ann):
    document = json.loads(json.dumps(customer_export(customer=ann), default=str))
    customer = document["customer"]
    assert (customer["connection"], customer["crm_id"], customer["name"], customer["email"], customer["segment"],
            customer["value"]) == ("ERP", "A1", "Ann Smith", "ann@example.com", "Gold", "1200.00")  # fmt: skip
    assert [(e["type"], e["occurred_at"][:10], e["segment"]) for e in document["events"]] == [
        ("new", "2025-01-02", "Gold")
    ]
    assert [r["occurred_at"][:10] for r in document["referrals_made"]] == ["2025-03-04"]
    assert "F9" not in json.dumps(document["referrals_made"])  # the referred friend is someone else
    (response,) = document["responses"]
    assert (response["survey"], response["scores"], response["comment"], response["segment_at_the_time"]) == (
        "Relationship 2025",
        {"nps": 9},
        "Great staff",
        "Gold",
    )
    assert response["answers"] == [{"question": "Why?", "kind": "text", "answer": "Great staff"}]
    assert sorted(i["status"] for i in document["invitations"]) == ["queued", "sent"]
    tokens = Invitation.objects.values_list("token", flat=True)
    assert not any(token in json.dumps(document) for token in tokens)
    assert [q["source"] for q in document["quarantined_records"]] == ["customers.csv:7"]


def test_the_export_command_finds_the_subject_by_crm_id_or_email(ann, tmp_path):
    out = io.StringIO()
    call_command("customer_export", "--connection", "ERP", "--external-id", "A1", stdout=out)
    assert json.loads(out.getvalue())["customer"]["email"] == "ann@example.com"
    target = tmp_path / "ann.json"
    call_command("customer_export", "--email", "ANN@example.com", "--output", str(target), stderr=io.StringIO())
    assert json.loads(target.read_text())["responses"][0]["comment"] == "Great staff"
    with pytest.raises(CommandError, match="either --connection and --external-id, or --email"):
        call_command("customer_export")
    with pytest.raises(CommandError, match="needs --connection"):
        call_command("customer_export", "--external-id", "A1")
    with pytest.raises(CommandError, match="No customer"):
        call_command("customer_export", "--connection", "ERP", "--external-id", "nobody")
    customers_erase(customers=Customer.objects.filter(pk=ann.pk))
    for args in (["--connection", "ERP", "--external-id", "A1"], ["--email", "ann@example.com"]):
        with pytest.raises(CommandError, match="erased at their request"):
            call_command("customer_export", *args)


def _staff(*codenames: str) -> User:
    user = User.objects.create_user("staff", password="x", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="customers", codename__in=codenames))
    return user


def test_the_change_page_offers_the_export_to_whoever_may_view_the_customer(ann, client):
    client.force_login(_staff("view_customer"))
    page = client.get(reverse("admin:customers_customer_change", args=[ann.pk]))
    url = reverse("admin:customers_customer_export", args=[ann.pk])
    assert page.status_code == 200 and url in page.content.decode()
    download = client.get(url)
    assert download.status_code == 200 and download["Content-Type"] == "application/json"
    assert "attachment" in download["Content-Disposition"] and "no-store" in download["Cache-Control"]
    assert json.loads(download.content)["customer"]["name"] == "Ann Smith"
    assert client.get(reverse("admin:customers_customer_export", args=[999999])).status_code == 404


def test_the_export_is_refused_without_the_view_permission(ann, client):
    client.force_login(_staff("view_segment"))
    assert client.get(reverse("admin:customers_customer_export", args=[ann.pk])).status_code == 403


def test_the_erase_action_confirms_what_goes_and_stays_then_erases(ann, admin_client):
    changelist = reverse("admin:customers_customer_changelist")
    ask = {"action": "erase_personal_data", "_selected_action": [ann.pk]}
    page = admin_client.post(changelist, ask)
    text = page.content.decode()
    assert page.status_code == 200 and "Removed" in text and "Kept" in text and "Ann Smith" in text
    assert Customer.objects.get(pk=ann.pk).name == "Ann Smith"  # nothing happens before the confirmation

    done = admin_client.post(changelist, {**ask, "confirm": "yes"})
    assert done.status_code == 302
    ann.refresh_from_db()
    assert (ann.name, ann.email) == ("", "") and ann.erased_at
    assert QuarantinedRecord.objects.filter(payload__contains="ann@").count() == 0
    assert QuarantinedRecord.objects.count() == 1  # the friend's bad row stays
    # The erased customer's page shows nothing to type personal data back into.
    change = admin_client.get(reverse("admin:customers_customer_change", args=[ann.pk]))
    assert change.status_code == 200 and 'name="email"' not in change.content.decode()


def test_the_erase_action_needs_the_delete_permission(ann, client):
    client.force_login(_staff("view_customer", "change_customer"))
    page = client.post(
        reverse("admin:customers_customer_changelist"),
        {"action": "erase_personal_data", "_selected_action": [ann.pk], "confirm": "yes"},
    )
    assert page.status_code == 200 and Customer.objects.get(pk=ann.pk).name == "Ann Smith"


def test_the_suppression_list_is_read_only_and_shows_hashes_only(ann, admin_client):
    customers_erase(customers=Customer.objects.filter(pk=ann.pk))
    page = admin_client.get(reverse("admin:customers_suppression_changelist"))
    text = page.content.decode()
    assert page.status_code == 200 and "ann@" not in text and Suppression.objects.count() == 2
    entry = Suppression.objects.first()
    assert entry.digest[:16] in text
    assert admin_client.get(reverse("admin:customers_suppression_add")).status_code == 403
    delete = admin_client.post(reverse("admin:customers_suppression_delete", args=[entry.pk]), {"post": "yes"})
    assert delete.status_code == 403 and Suppression.objects.count() == 2

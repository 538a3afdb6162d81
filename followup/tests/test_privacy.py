"""Erasing a customer blanks the text of their cases' notes and keeps the timeline; the subject's export
holds their cases."""

import pytest
from django.conf import settings
from django.contrib.auth.models import Group

from customers.models import Customer
from customers.selectors import customer_export
from customers.services import customers_erase
from followup import services
from followup.models import CaseNote
from followup.tests.factories import UserFactory
from metrics.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_erasure_blanks_the_case_notes_and_the_export_holds_the_cases():
    owner = UserFactory(username="owner")
    customer, other = CustomerFactory(name="Delta"), CustomerFactory(name="Echo")
    case = services.case_open(customer=customer, owner=owner, note="Called Delta's CEO on +34 600 000 000")
    services.case_note_add(case=case, text="Promised a refund", by=owner)
    other_case = services.case_open(customer=other, owner=owner, note="Keep me")

    exported = customer_export(customer=customer)
    assert [c["id"] for c in exported["cases"]] == [case.pk]
    assert "Promised a refund" in [n["text"] for n in exported["cases"][0]["notes"]]

    result = customers_erase(customers=Customer.objects.filter(pk=customer.pk))
    assert result.elsewhere["case_notes"] == 2
    assert set(CaseNote.objects.filter(case=case).exclude(text="").values_list("text", flat=True)) == {"[erased]"}
    assert CaseNote.objects.filter(case=case).count() == 2
    assert CaseNote.objects.get(case=other_case, text="Keep me")


def test_a_case_handler_lands_on_their_cases(client):
    handler = UserFactory(username="handler")
    handler.groups.add(Group.objects.get(name=settings.CASE_HANDLERS_GROUP))
    client.force_login(handler)
    assert client.get("/").url == "/cases/"

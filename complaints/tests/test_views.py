"""The complaint form for CX staff: who may use it, finding the customer, what it stores."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from complaints.models import Complaint
from complaints.tests.factories import category
from cxmetrics.tests.factories import UserFactory, cx_manager
from metrics.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

URL = "/complaints/new/"


def valid(**overrides) -> dict:
    return {
        "kind": "complaint",
        "customer": "",
        "received_at": "2026-01-05T10:30",
        "channel": "email",
        "category": category("billing").pk,
        "summary": "Charged twice",
        "resolved_at": "",
    } | overrides


@pytest.fixture
def manager_client(client):
    client.force_login(cx_manager())
    return client


def test_anonymous_users_sign_in_first_and_other_users_get_403(client):
    assert client.get(URL).status_code == 302
    client.force_login(UserFactory(username="viewer"))
    assert client.get(URL).status_code == 403


def test_the_form_renders_in_english_and_spanish(manager_client):
    english = manager_client.get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'lang="en"' in english and "Log a complaint or inquiry" in english and "billing" in english
    spanish = manager_client.get(URL, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert 'lang="es"' in spanish and "facturación" in spanish  # the categories' Spanish names


def test_a_complaint_by_crm_id_is_stored_for_that_customer(manager_client):
    known = CustomerFactory(external_id="C-77", name="Ana")
    response = manager_client.post(URL, valid(customer="C-77"))
    assert response.status_code == 302 and response["Location"] == reverse("complaints-new")
    complaint = Complaint.objects.get()
    assert (complaint.customer, complaint.source, complaint.channel, complaint.summary) == (
        known, "form", "email", "Charged twice"
    )  # fmt: skip
    assert complaint.created_by.username == "manager"
    assert "Complaint logged." in manager_client.get(URL).content.decode()


def test_a_name_matching_several_customers_asks_which(manager_client):
    first = CustomerFactory(name="Garcia Foods", external_id="G-1")
    CustomerFactory(name="Garcia Motors", external_id="G-2")
    page = manager_client.post(URL, valid(customer="garcia"))
    assert page.status_code == 400 and not Complaint.objects.exists()
    html = page.content.decode()
    assert "Several customers match: choose one." in html and "Garcia Foods · G-1" in html
    response = manager_client.post(URL, valid(customer="garcia", customer_choice=first.pk))
    assert response.status_code == 302 and Complaint.objects.get().customer == first


def test_an_unknown_customer_and_bad_dates_are_refused_with_their_reasons(manager_client):
    CustomerFactory(name="Known")
    page = manager_client.post(
        URL, valid(customer="Nobody", received_at="2026-01-05T10:30", resolved_at="2026-01-04T10:30")
    )
    html = page.content.decode()
    assert page.status_code == 400 and not Complaint.objects.exists()
    assert "No customer has this CRM id or a name containing it." in html
    assert "not before the date received" in html


def test_an_inquiry_without_a_customer(manager_client):
    assert manager_client.post(URL, valid(kind="inquiry")).status_code == 302
    assert Complaint.objects.get().kind == "inquiry" and Complaint.objects.get().customer is None


def test_staff_with_the_add_complaint_permission_may_log(client):
    handler = UserFactory(username="handler")
    handler.user_permissions.add(Permission.objects.get(codename="add_complaint"))
    client.force_login(handler)
    assert client.get(URL).status_code == 200
    assert client.post(URL, valid()).status_code == 302


def test_a_complaint_added_in_admin_goes_through_the_service(admin_client):
    from core.models import Change

    customer = CustomerFactory()
    Change.objects.all().delete()
    response = admin_client.post(
        reverse("admin:complaints_complaint_add"),
        {"kind": "complaint", "customer": customer.pk, "received_at_0": "2026-01-05", "received_at_1": "10:00:00",
         "channel": "phone", "category": category("billing").pk, "summary": "Late", "resolved_at_0": "",
         "resolved_at_1": "", "external_id": ""},
    )  # fmt: skip
    assert response.status_code == 302
    complaint = Complaint.objects.get()
    assert (complaint.source, complaint.customer, complaint.created_by.username) == ("admin", customer, "admin")
    assert Change.objects.filter(kind="complaints").exists()
    refused = admin_client.post(
        reverse("admin:complaints_complaint_add"),
        {"kind": "complaint", "received_at_0": "2026-01-05", "received_at_1": "10:00:00", "channel": "phone",
         "category": category("billing").pk, "resolved_at_0": "2026-01-04", "resolved_at_1": "10:00:00"},
    )  # fmt: skip
    assert refused.status_code == 200 and "is before received_at" in refused.content.decode()

"""A complaint can open a case: the complaint form hands over to the case form, which keeps the link."""

import pytest
from django.urls import reverse

from complaints.models import Complaint
from complaints.tests.factories import category
from cxmetrics.tests.factories import cx_manager
from followup.models import Case
from metrics.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_a_complaint_opens_a_case_linked_to_it(client):
    customer = CustomerFactory(external_id="C-9", name="Zeta")
    client.force_login(cx_manager())
    logged = client.post(
        "/complaints/new/",
        {"kind": "complaint", "customer": "C-9", "received_at": "2026-01-05T10:30", "channel": "phone",
         "category": category("billing").pk, "summary": "Charged twice", "resolved_at": "", "open_case": "on"},
    )  # fmt: skip
    complaint = Complaint.objects.get()
    assert logged["Location"] == f"{reverse('followup-case-new')}?complaint={complaint.pk}"
    form = client.get(logged["Location"]).content.decode()
    assert "Charged twice" in form and f'name="complaint" value="{complaint.pk}"' in form
    opened = client.post(
        reverse("followup-case-new"), {"complaint": complaint.pk, "owner": "", "priority": "high", "sla_hours": 24}
    )
    assert opened.status_code == 302
    case = Case.objects.get()
    assert (case.complaint, case.customer) == (complaint, customer)


def test_a_complaint_without_a_customer_opens_no_case(client):
    client.force_login(cx_manager())
    inquiry = client.post(
        "/complaints/new/",
        {"kind": "inquiry", "customer": "", "received_at": "2026-01-05T10:30", "channel": "web",
         "category": category("delivery").pk, "summary": "", "resolved_at": "", "open_case": "on"},
    )  # fmt: skip
    assert inquiry["Location"] == "/complaints/new/"
    assert client.get(f"{reverse('followup-case-new')}?complaint={Complaint.objects.get().pk}").status_code == 404

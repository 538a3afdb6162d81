"""Erasing a customer blanks their complaint summaries and keeps the complaints; their export lists them."""

import pytest

from complaints.models import Complaint
from complaints.tests.factories import complaint
from customers.models import Customer
from customers.selectors import customer_export
from customers.services import customers_erase
from metrics.tests.factories import CustomerFactory, at

pytestmark = pytest.mark.django_db


def test_erasure_blanks_complaint_summaries_and_the_export_lists_them():
    customer, other = CustomerFactory(), CustomerFactory()
    complaint(at("2026-01-05"), customer=customer, summary="Ana García called about invoice 4411")
    complaint(at("2026-01-06"), customer=other, summary="Keep me")

    exported = customer_export(customer=customer)
    assert [c["summary"] for c in exported["complaints"]] == ["Ana García called about invoice 4411"]

    result = customers_erase(customers=Customer.objects.filter(pk=customer.pk))
    assert result.elsewhere["complaints"] == 1
    assert Complaint.objects.get(customer=customer).summary == "[erased]"
    assert Complaint.objects.get(customer=other).summary == "Keep me"
    assert Complaint.objects.count() == 2

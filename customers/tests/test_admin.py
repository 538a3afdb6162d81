"""Admin for customers and events: lists, hand edits and deletes through the services, corrections that
keep who and why."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from core.models import Change
from customers.models import Customer, Event, EventCorrection
from customers.tests.factories import CustomerFactory, EventFactory, SegmentFactory

pytestmark = pytest.mark.django_db


def test_customer_and_event_lists_filter_and_search(admin_client):
    gold = SegmentFactory(name="Gold", rank=3)
    customer = CustomerFactory(name="Findable Ltd", segment=gold)
    EventFactory(customer=customer, connection=customer.connection, segment=gold)
    customers = admin_client.get(reverse("admin:customers_customer_changelist"), {"q": "Findable", "status": "active"})
    assert customers.status_code == 200 and "Findable Ltd" in customers.content.decode()
    events = admin_client.get(reverse("admin:customers_event_changelist"), {"type": "new"})
    assert events.status_code == 200 and "Findable Ltd" in events.content.decode()
    assert admin_client.get(reverse("admin:customers_segment_changelist")).status_code == 200


def test_a_hand_edit_changes_only_the_editable_fields_and_records_the_change(admin_client):
    customer = CustomerFactory(name="Old name", value=Decimal("100"))
    Change.objects.all().delete()
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: form.initial.get(name) or "" for name in form.fields}
    data.update(name="New name", value="250.00", status="lost", language="en", audience="b2b")
    assert admin_client.post(url, data).status_code == 302
    customer.refresh_from_db()
    assert (customer.name, customer.value, customer.status) == ("New name", Decimal("250.00"), "active")
    assert list(Change.objects.values_list("kind", "customer_id")) == [("customers", customer.pk)]


def test_a_customer_deleted_in_admin_takes_its_events_and_records_their_days(admin_client):
    customer = CustomerFactory()
    event = EventFactory(customer=customer, connection=customer.connection, occurred_at=customer.acquired_at)
    Change.objects.all().delete()
    url = reverse("admin:customers_customer_delete", args=[customer.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not Customer.objects.filter(pk=customer.pk).exists() and not Event.objects.filter(pk=event.pk).exists()
    assert set(Change.objects.values_list("kind", flat=True)) == {"events", "customers"}


def test_an_event_is_corrected_with_a_reason_kept_and_cannot_be_added_or_deleted(admin_client, admin_user):
    event = EventFactory(type=Event.Type.LOST, reason="pricee", value=Decimal("10"))
    url = reverse("admin:customers_event_change", args=[event.pk])
    inline = {"corrections-TOTAL_FORMS": "0", "corrections-INITIAL_FORMS": "0"}
    refused = admin_client.post(url, {"reason": "price", "value": "10", "why": "", **inline})
    assert refused.status_code == 200 and "This field is required" in refused.content.decode()
    fixed = admin_client.post(url, {"reason": "price", "value": "12.50", "why": "Typo in the CRM", **inline})
    assert fixed.status_code == 302
    event.refresh_from_db()
    assert (event.reason, event.value) == ("price", Decimal("12.50"))
    correction = EventCorrection.objects.get(event=event)
    assert (correction.user, correction.why) == (admin_user, "Typo in the CRM")
    assert correction.before == {"reason": "pricee", "value": "10.00"}
    assert admin_client.get(reverse("admin:customers_event_add")).status_code == 403
    assert (
        admin_client.post(reverse("admin:customers_event_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
    )

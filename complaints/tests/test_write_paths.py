"""Logging, editing and deleting a complaint, in every place it can be done, leaves "lost after an
incident" equal to the raw reference at once, with the days it changes already rolled up."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from complaints.models import Complaint
from complaints.tests.factories import complaint
from customers.models import Event
from metrics.tests.test_write_paths import assert_every_fact_exact, rolled_up, settled  # noqa: F401 (fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.refreshes_itself]


def _loss() -> Event:
    return Event.objects.filter(type=Event.Type.LOST, **settled("occurred_at")).order_by("occurred_at").first()


def test_a_complaint_before_a_rolled_up_loss(rolled_up):  # noqa: F811
    loss = _loss()
    complaint(loss.occurred_at - timedelta(days=10), customer=loss.customer)
    assert_every_fact_exact("a complaint logged")


def test_a_complaint_edited_and_deleted_in_admin(rolled_up, admin_client):  # noqa: F811
    loss = _loss()
    logged = complaint(loss.occurred_at - timedelta(days=10), customer=loss.customer)
    assert_every_fact_exact("logged")
    url = reverse("admin:complaints_complaint_change", args=[logged.pk])
    form = admin_client.get(url).context["adminform"].form
    values = {name: form.initial.get(name) or "" for name in form.fields}
    moved = (loss.occurred_at - timedelta(days=120)).astimezone()
    values |= {"received_at_0": moved.strftime("%Y-%m-%d"), "received_at_1": moved.strftime("%H:%M:%S")}
    values |= {"resolved_at_0": "", "resolved_at_1": ""}
    values.pop("received_at", None)
    values.pop("resolved_at", None)
    page = admin_client.post(url, values)
    assert page.status_code == 302, page.context["adminform"].form.errors if page.context else page
    logged.refresh_from_db()
    assert logged.received_at < loss.occurred_at - timedelta(days=100)
    assert_every_fact_exact("moved out of the window in admin")
    doomed = complaint(loss.occurred_at - timedelta(days=3), customer=loss.customer)
    assert_every_fact_exact("logged again")
    page = admin_client.post(reverse("admin:complaints_complaint_delete", args=[doomed.pk]), {"post": "yes"})
    assert page.status_code == 302 and not Complaint.objects.filter(pk=doomed.pk).exists()
    assert_every_fact_exact("deleted in admin")


def test_an_operational_incident_before_a_rolled_up_loss(rolled_up):  # noqa: F811
    from metrics.tests.factories import event

    loss = _loss()
    event("claim", loss.customer, loss.occurred_at - timedelta(days=30))
    assert_every_fact_exact("an operational incident stored")

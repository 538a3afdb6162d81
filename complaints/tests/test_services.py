"""complaint_create / _update / _resolve / _delete: what they store, what they refuse, the changes they
record for the read model."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from complaints.models import Complaint, ComplaintCategory
from complaints.services import (
    ComplaintInvalid,
    complaint_create,
    complaint_delete,
    complaint_resolve,
    complaint_update,
)
from complaints.tests.factories import category, complaint
from core.models import Change
from metrics.tests.factories import CustomerFactory, SegmentFactory, at

pytestmark = pytest.mark.django_db


def complaint_days() -> list[str]:
    return sorted(d.isoformat() for d in Change.objects.filter(kind="complaints").values_list("day", flat=True))


def test_the_default_categories_are_seeded():
    names = list(ComplaintCategory.objects.values_list("name", "name_es"))
    assert names == [("delivery", "entrega"), ("billing", "facturación"), ("product quality", "calidad del producto"),
                     ("service", "atención"), ("other", "otros")]  # fmt: skip


def test_create_keeps_the_customer_s_segment_and_records_the_day():
    gold = SegmentFactory(name="Gold")
    customer = CustomerFactory(segment=gold)
    Change.objects.all().delete()
    stored = complaint(at("2026-01-05"), customer=customer)
    assert stored.segment == gold
    assert complaint_days() == ["2026-01-05"]


def test_a_complaint_without_a_customer_records_nothing():
    Change.objects.all().delete()
    complaint(at("2026-01-05"))
    assert complaint_days() == []


def test_an_external_id_already_stored_returns_that_complaint_unchanged():
    first, created = complaint_create(
        customer=None, received_at=at("2026-01-05"), channel="email", category=category(), source="api",
        external_id="T-1",
    )  # fmt: skip
    again, created_again = complaint_create(
        customer=None, received_at=at("2026-01-09"), channel="phone", category=category(), source="api",
        external_id="T-1",
    )  # fmt: skip
    assert (created, created_again, again.pk) == (True, False, first.pk)
    assert again.channel == "email" and Complaint.objects.count() == 1
    # Another source may use the same id.
    _other, created_other = complaint_create(
        customer=None, received_at=at("2026-01-05"), channel="email", category=category(), source="import",
        external_id="T-1",
    )  # fmt: skip
    assert created_other


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"channel": "fax"}, "channel", "'fax' is not one of phone"),
        ({"kind": "praise"}, "kind", "'praise' is not one of complaint, inquiry"),
        ({"resolved_at": at("2026-01-04")}, "resolved_at", "is before received_at"),
        ({"received_at": at("1960-01-01")}, "received_at", "is before 1970-01-01"),
        ({"received_at": timezone.now() + timedelta(days=5)}, "received_at", "(tomorrow)"),
        ({"summary": "x" * 5001}, "summary", "longer than 5000"),
        ({"source": "fax"}, "source", "'fax' is not one of"),
    ],
)
def test_create_refuses_with_the_field_and_reason(changes, field, message):
    arguments = dict(customer=None, received_at=at("2026-01-05"), channel="email", category=category(), source="form")
    with pytest.raises(ComplaintInvalid) as caught:
        complaint_create(**(arguments | changes))
    assert message in caught.value.errors[field]
    assert not Complaint.objects.exists()


def test_update_records_the_day_before_and_after():
    customer = CustomerFactory()
    stored = complaint(at("2026-01-05"), customer=customer)
    Change.objects.all().delete()
    complaint_update(complaint=stored, received_at=at("2026-02-10"), summary="  late  ")
    stored.refresh_from_db()
    assert stored.received_at == at("2026-02-10") and stored.summary == "late"
    assert complaint_days() == ["2026-01-05", "2026-02-10"]


def test_update_to_another_customer_takes_their_segment():
    stored = complaint(at("2026-01-05"), customer=CustomerFactory())
    silver = SegmentFactory(name="Silver")
    complaint_update(complaint=stored, customer=CustomerFactory(segment=silver))
    assert Complaint.objects.get().segment == silver


def test_update_refuses_a_bad_value_and_keeps_the_stored_one():
    stored = complaint(at("2026-01-05"))
    with pytest.raises(ComplaintInvalid):
        complaint_update(complaint=stored, resolved_at=at("2026-01-01"))
    assert Complaint.objects.get().resolved_at is None and stored.resolved_at is None
    with pytest.raises(TypeError, match="cannot change source"):
        complaint_update(complaint=stored, source="api")


def test_resolve_now_or_at_a_time():
    stored = complaint(at("2026-01-05"))
    complaint_resolve(complaint=stored, resolved_at=at("2026-01-06"))
    assert Complaint.objects.get().resolved_at == at("2026-01-06")
    with pytest.raises(ComplaintInvalid, match="before received_at"):
        complaint_resolve(complaint=stored, resolved_at=at("2026-01-01"))
    complaint_resolve(complaint=stored)
    assert timezone.now() - Complaint.objects.get().resolved_at < timedelta(minutes=1)


def test_delete_records_the_day():
    stored = complaint(at("2026-01-05"), customer=CustomerFactory())
    Change.objects.all().delete()
    complaint_delete(complaint=stored)
    assert not Complaint.objects.exists() and complaint_days() == ["2026-01-05"]

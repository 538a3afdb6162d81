"""crm_records_apply: bulk upserts, placeholders and the fixed query budget of a page."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from core.models import Change
from crm_sync.models import Connection
from customers.models import Customer, Event
from customers.records import CustomerRecord
from customers.services import crm_records_apply
from customers.tests.factories import SegmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def hubspot() -> Connection:
    return Connection.objects.create(kind="hubspot", name="HS", secret_token="x")


def customer(external_id: str, day: int, **fields) -> CustomerRecord:
    return CustomerRecord(external_id=external_id, source=f"test:{external_id}", is_customer=True,
                          customer_since=datetime(2025, 1, 1, tzinfo=UTC),
                          modified_at=datetime(2025, 1, day, tzinfo=UTC), **fields)  # fmt: skip


def test_a_referrer_not_yet_synced_is_a_prospect_until_its_record_arrives(hubspot):
    crm_records_apply(connection=hubspot, records=[customer("C", 2, name="Cee", referred_by="X")])
    placeholder = Customer.objects.get(external_id="X")
    assert placeholder.status == "prospect"
    assert Customer.objects.get(external_id="C").referred_by == placeholder
    assert Event.objects.get(type="referral").referrer == placeholder

    crm_records_apply(connection=hubspot, records=[customer("X", 3, name="Xco", value=Decimal("10"))])
    x = Customer.objects.get(external_id="X")
    assert (x.pk, x.status, x.name) == (placeholder.pk, "active", "Xco")
    assert Event.objects.filter(type="new", customer=x).count() == 1


def test_a_customer_outside_the_page_is_never_overwritten(hubspot):
    crm_records_apply(connection=hubspot, records=[customer("X", 2, name="Xco"), customer("C", 2, referred_by="X")])
    # C again, referred-by now blank in the CRM; X is not in this page.
    crm_records_apply(connection=hubspot, records=[customer("C", 3, name="Cee renamed")])
    x = Customer.objects.get(external_id="X")
    assert (x.name, x.status) == ("Xco", "active")
    assert Customer.objects.get(external_id="C").referred_by == x


def test_a_page_costs_a_fixed_number_of_queries(hubspot):
    SegmentFactory(name="Gold", rank=2)
    SegmentFactory(name="Silver", rank=1)

    def page(day: int, segment: str) -> list[CustomerRecord]:
        return [customer(str(i), day, name=f"C{i}", segment=segment, referred_by=str(i + 1000)) for i in range(200)]

    with CaptureQueriesContext(db_connection) as first:
        crm_records_apply(connection=hubspot, records=page(2, "Silver"))
    with CaptureQueriesContext(db_connection) as second:
        crm_records_apply(connection=hubspot, records=page(3, "Gold"))
    assert Event.objects.filter(type="segment_move").count() == 200
    # segments, load, ids stored for other connections (for the ids not found), upsert, placeholders, ids,
    # referral links, known events, insert: each one statement per batch (SQLite's 999-parameter limit
    # makes its batches small), never one per row.
    assert len(first) <= 24 and len(second) <= 22


def test_the_same_customer_twice_in_one_page_is_stored_once_at_its_newest_state(hubspot):
    SegmentFactory(name="Gold", rank=2)
    SegmentFactory(name="Silver", rank=1)
    result = crm_records_apply(connection=hubspot, records=[
        customer("A", 3, name="A newer", segment="Gold"),
        customer("A", 2, name="A older", segment="Silver"),  # older than the one before it: ignored
        customer("B", 2, name="B first", segment="Silver"),
        customer("B", 4, name="B second", segment="Gold"),  # newer: moves B within the page
    ])  # fmt: skip
    assert (result.customers_created, result.customers_updated) == (2, 0)
    a, b = Customer.objects.get(external_id="A"), Customer.objects.get(external_id="B")
    assert (a.name, a.segment.name, a.state_as_of) == ("A newer", "Gold", datetime(2025, 1, 3, tzinfo=UTC))
    assert (b.name, b.segment.name, b.state_as_of) == ("B second", "Gold", datetime(2025, 1, 4, tzinfo=UTC))
    assert sorted(Event.objects.values_list("customer__external_id", "type")) == [
        ("A", "new"),
        ("B", "new"),
        ("B", "segment_move"),
    ]
    assert result.events_created == 3


def test_an_update_older_than_the_stored_state_changes_nothing(hubspot):
    crm_records_apply(connection=hubspot, records=[customer("A", 5, name="Current", value=Decimal("10"))])
    stored = Customer.objects.values().get(external_id="A")

    result = crm_records_apply(connection=hubspot, records=[
        customer("A", 4, name="Stale", value=Decimal("99"), lost=True, lost_reason="price")
    ])  # fmt: skip
    assert (result.customers_created, result.customers_updated, result.events_created) == (0, 0, 0)
    assert Customer.objects.values().get(external_id="A") == stored
    assert list(Event.objects.values_list("type", flat=True)) == ["new"]


def test_a_malformed_record_among_good_ones_is_rejected_and_the_others_stored(hubspot):
    crm_records_apply(connection=hubspot, records=[customer("B", 2)])
    bad = customer("B", 3)
    bad.modified_at = datetime(2025, 1, 3)  # naive: cannot be compared with the stored state
    result = crm_records_apply(connection=hubspot, records=[customer("A", 3), bad, customer("C", 3)])
    assert [(r.source, "offset-naive" in r.reason) for r in result.rejected] == [("test:B", True)]
    assert set(Customer.objects.values_list("external_id", flat=True)) == {"A", "B", "C"}
    assert result.events_created == 2


def test_text_with_quotes_separators_and_the_word_null_is_stored_as_it_is(hubspot):
    names = ['Quote " and \\ backslash', "Comma, {braces}", "NULL", "it's", "Ünïcødé", "two\nlines\ttab", ""]
    crm_records_apply(connection=hubspot, records=[
        customer(f"T{i}", 2, name=name, lost=True, lost_reason=name) for i, name in enumerate(names)
    ])  # fmt: skip
    stored = dict(Customer.objects.values_list("external_id", "name"))
    assert stored == {f"T{i}": name for i, name in enumerate(names)}
    assert sorted(Event.objects.filter(type="lost").values_list("reason", flat=True)) == sorted(names)


def test_events_another_writer_stored_meanwhile_are_not_counted_nor_their_days_recorded(hubspot):
    crm_records_apply(connection=hubspot, records=[customer("A", 2)])
    a = Customer.objects.get(external_id="A")
    Change.objects.all().delete()
    # Stored by someone else with the key this page derives (A lost on 2025-01-20).
    Event.objects.create(connection=hubspot, source_key="hubspot:A:lost:2025-01-20T00:00:00Z", type="lost",
                         occurred_at=datetime(2025, 1, 20, tzinfo=UTC), customer=a)  # fmt: skip
    result = crm_records_apply(connection=hubspot, records=[
        customer("A", 21, lost=True, lost_at=datetime(2025, 1, 20, tzinfo=UTC)),
        customer("B", 21, referred_by="A", referred_at=datetime(2025, 1, 15, tzinfo=UTC)),
    ])  # fmt: skip
    assert result.events_created == 2  # B's new and B's referral; A's lost was there already
    assert Event.objects.filter(source_key__startswith="hubspot:A:lost").count() == 1
    days = set(Change.objects.filter(kind="events").values_list("day", flat=True))
    assert days == {datetime(2025, 1, 1).date(), datetime(2025, 1, 15).date()}


def test_a_referrer_stored_by_another_writer_meanwhile_is_linked_not_overwritten(hubspot, monkeypatch):
    crm_records_apply(connection=hubspot, records=[customer("X", 2, name="Xco")])
    from customers.services import apply

    real_load = apply._states_load

    def load_without_x(connection, ids, emails, segments):
        # As if X was committed by another writer after this page read its customers.
        known = real_load(connection, ids, emails, segments)
        known.states.pop("X", None)
        known.pks.pop("X", None)
        known.homes.pop("X", None)
        return known

    monkeypatch.setattr(apply, "_states_load", load_without_x)
    crm_records_apply(connection=hubspot, records=[customer("C", 3, referred_by="X")])
    x = Customer.objects.get(external_id="X")
    assert (x.name, x.status) == ("Xco", "active")  # the placeholder insert left it alone
    assert Customer.objects.get(external_id="C").referred_by == x
    assert Event.objects.get(type="referral").referrer == x


def test_a_new_or_lost_event_without_a_value_carries_the_customers_value_then(hubspot):
    crm_records_apply(connection=hubspot, records=[customer("A", 2, value=Decimal("120"))])
    crm_records_apply(connection=hubspot, records=[customer("A", 3, lost=True, lost_reason="price")])
    assert Event.objects.get(type="lost").value == Decimal("120")


def test_the_redundant_foreign_key_indexes_are_gone_and_the_covering_ones_remain():
    with db_connection.cursor() as cursor:
        event = db_connection.introspection.get_constraints(cursor, Event._meta.db_table)
        customer_ = db_connection.introspection.get_constraints(cursor, Customer._meta.db_table)
    single = {tuple(c["columns"]) for c in event.values() if c["index"] and len(c["columns"]) == 1}
    assert not single & {("connection_id",), ("customer_id",), ("referrer_id",)}
    leading = {c["columns"][0] for c in event.values() if c["index"] or c["unique"]}
    assert {"connection_id", "customer_id", "referrer_id"} <= leading
    assert not any(c["index"] and c["columns"] == ["connection_id"] for c in customer_.values())

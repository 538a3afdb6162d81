"""cxmetrics.demo_bulk.indexes_built_after: a bulk load without the secondary indexes, which come back exactly
as they were, or not at all when the load fails (PostgreSQL; a no-op on SQLite)."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from customers.models import Customer, Event
from cxmetrics.demo_bulk import indexes_built_after
from surveys.models import Invitation
from surveys.tests.factories import InvitationFactory

pytestmark = pytest.mark.django_db

TABLES = [Customer._meta.db_table, Event._meta.db_table, Invitation._meta.db_table]


def _schema() -> set[tuple]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename, indexdef FROM pg_indexes WHERE tablename = ANY(%s)", [TABLES])
        indexes = set(cursor.fetchall())
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid::regclass::text = ANY(%s)",
            [TABLES],
        )
        return indexes | set(cursor.fetchall())


def _index_names() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = ANY(%s)", [TABLES])
        return {name for (name,) in cursor.fetchall()}


@pytest.mark.postgres
def test_the_indexes_are_dropped_during_the_block_and_come_back_as_they_were(postgres_db):
    before = _schema()
    names = _index_names()
    assert "invitation_unique_token" in names and "event_type_occurred" in names
    with transaction.atomic(), indexes_built_after(TABLES):
        during = _index_names()
        InvitationFactory()  # the load itself
    # Only the primary keys and the unique keys a foreign key points to stay during the load.
    assert during == {"crm_sync_customer_pkey", "crm_sync_event_pkey", "surveys_invitation_pkey"}
    assert _schema() == before
    assert Invitation.objects.count() == 1


@pytest.mark.postgres
def test_a_load_that_breaks_a_unique_key_fails_and_leaves_the_indexes(postgres_db):
    before = _schema()
    first = InvitationFactory()
    with pytest.raises(IntegrityError), transaction.atomic(), indexes_built_after(TABLES):
        # Accepted while the unique index is gone; refused when it is built again.
        Invitation.objects.filter(pk=InvitationFactory().pk).update(token=first.token)
    assert _schema() == before
    assert Invitation.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_it_needs_a_transaction_on_postgresql_and_does_nothing_elsewhere():
    if connection.vendor == "postgresql":
        with pytest.raises(RuntimeError, match="inside a transaction"), indexes_built_after(TABLES):
            pass
    else:
        with indexes_built_after(TABLES):
            assert Invitation.objects.count() == 0

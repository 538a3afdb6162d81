"""The CRM's account owner of a customer (an email): from the customers.csv ``account_owner`` column, or from
a HubSpot company's ``hubspot_owner_id`` through the owners API, read once per sync run."""

from __future__ import annotations

import pytest
from django.utils import timezone

from crm_sync.models import Connection, SyncRun
from crm_sync.services import crm_sync_run
from crm_sync.tests.fake_hubspot import DictStore, FakeHubSpot, iso_ms, to_ms
from customers.models import Customer

pytestmark = pytest.mark.django_db


def test_the_csv_account_owner_column_is_stored_lower_case_and_a_blank_one_keeps_the_owner(tmp_path):
    connection = Connection.objects.create(kind=Connection.Kind.CSV, name="ERP", settings={"folder": str(tmp_path)})
    (tmp_path / "customers-2026-01-01.csv").write_text(
        "customer_id,name,account_owner,status,acquired_at,updated_at\n"
        "B1,Acme,Marta.Gil@Example.com,active,2025-01-01,2026-01-01\n"
        "B2,Beta,not an email,active,2025-01-01,2026-01-01\n"
    )
    assert crm_sync_run(connection=connection).status == "succeeded"
    owners = dict(Customer.objects.values_list("external_id", "account_owner_email"))
    assert owners == {"B1": "marta.gil@example.com", "B2": ""}

    (tmp_path / "customers-2026-01-02.csv").write_text(
        "customer_id,name,account_owner,status,acquired_at,updated_at\n"
        "B1,Acme,,active,2025-01-01,2026-01-02\n"
        "B2,Beta,luis@example.com,active,2025-01-01,2026-01-02\n"
    )
    assert crm_sync_run(connection=connection).status == "succeeded"
    owners = dict(Customer.objects.values_list("external_id", "account_owner_email"))
    assert owners == {"B1": "marta.gil@example.com", "B2": "luis@example.com"}


def _company(object_id: str, owner_id: str | None) -> dict:
    now = iso_ms(to_ms(timezone.now()))
    properties = {"name": f"Company {object_id}", "lifecyclestage": "customer", "hs_lastmodifieddate": now}
    if owner_id is not None:
        properties["hubspot_owner_id"] = owner_id
    return {"id": object_id, "properties": properties}


def test_hubspot_owner_ids_become_the_owners_emails_read_once_per_run(make_hubspot_connection, sleeps):
    store = DictStore()
    for object_id, owner_id in (("1", "101"), ("2", "102"), ("3", "101"), ("4", None), ("5", "999")):
        store.put(_company(object_id, owner_id))
    with FakeHubSpot(store) as server:
        # 602 owners: more than one page of the owners API (500 at most a page).
        server.owners = [
            {"id": "101", "email": "Marta.Gil@example.com", "firstName": "Marta", "archived": False},
            {"id": "102", "email": "luis@example.com", "firstName": "Luis", "archived": False},
            *({"id": str(200 + i), "email": f"owner{i}@example.com", "archived": False} for i in range(600)),
        ]
        connection = make_hubspot_connection(server, page_size=2, history=False)
        run = crm_sync_run(connection=connection)
        owner_calls = [(m, p) for m, p, _ in server.requests if p.startswith("/crm/v3/owners")]
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    # Both pages of owners read once for the run's three pages of companies.
    assert owner_calls == [("GET", "/crm/v3/owners/")] * 2
    owners = dict(Customer.objects.values_list("external_id", "account_owner_email"))
    assert owners == {"1": "marta.gil@example.com", "2": "luis@example.com", "3": "marta.gil@example.com",
                      "4": "", "5": ""}  # fmt: skip


def test_a_token_without_the_owners_scope_still_syncs_the_companies(make_hubspot_connection, sleeps):
    store = DictStore()
    store.put(_company("1", "101"))
    with FakeHubSpot(store) as server:
        server.owners = [{"id": "101", "email": "marta@example.com"}]
        server.fail(403, path_contains="/owners")
        run = crm_sync_run(connection=make_hubspot_connection(server, history=False))
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert Customer.objects.get(external_id="1").account_owner_email == ""


def test_no_owners_call_when_no_company_names_an_owner(make_hubspot_connection, sleeps):
    store = DictStore()
    store.put(_company("1", None))
    with FakeHubSpot(store) as server:
        crm_sync_run(connection=make_hubspot_connection(server, history=False))
        assert not [p for p in server.paths() if "owners" in p]

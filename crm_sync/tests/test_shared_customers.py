"""One customer across connections, events for unknown customers held, operational events, auto-created
segments ranked by value, and day-first dates in CRM files."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from core.definitions import OPERATIONAL_EVENT_TYPES
from crm_sync.connectors import ConnectorError
from crm_sync.models import Connection, MatchOn
from crm_sync.services import connection_matching_set, crm_file_import
from customers.models import Customer, CustomerExternalId, Event, HeldEvent, Segment
from customers.services import segments_ranks_confirm
from cxmetrics.tests.factories import cx_manager

pytestmark = pytest.mark.django_db

HEADER = "event_id,type,occurred_at,customer_id,customer_name,customer_email,segment,value,reason,referrer_id,from_segment,to_segment\n"
# updated_at: when the CRM last changed the customer; an event after it moves the customer's state.
CUSTOMERS_HEADER = "customer_id,name,email,value,segment,status,acquired_at,updated_at\n"


def load(connection, text: str, *, kind="events", name=None, **options):
    return crm_file_import(
        connection=connection, stream=io.BytesIO(text.encode()), name=name or f"{kind}.csv", kind=kind, **options
    )


@pytest.fixture
def crm() -> Connection:
    Segment.objects.create(name="Gold", rank=2)
    Segment.objects.create(name="Silver", rank=1)
    crm = Connection.objects.create(kind=Connection.Kind.CSV, name="CRM")
    load(
        crm,
        CUSTOMERS_HEADER + "1172,Norte Textiles GmbH,buy@norte.example,50000,Gold,active,2023-02-01,2024-01-01\n",
        kind="customers",
    )
    return crm


@pytest.fixture
def erp() -> Connection:
    return Connection.objects.create(kind=Connection.Kind.CSV, name="ERP")


# Operational events


def test_the_event_types_are_the_definitions_operational_types():
    assert set(OPERATIONAL_EVENT_TYPES) <= set(Event.Type.values)
    assert set(Event.Type.values) - set(OPERATIONAL_EVENT_TYPES) == {"new", "lost", "referral", "segment_move"}


def test_operational_events_are_logged_and_change_nothing_about_the_customer(crm, client):
    rows = "".join(
        f"op{i},{kind},2024-0{i + 1}-10,1172,,,,{'120.50' if kind == 'return' else ''},reason {i},,,\n"
        for i, kind in enumerate(OPERATIONAL_EVENT_TYPES)
    )
    result = load(crm, HEADER + rows)
    assert (result.rows, result.events_created, result.quarantined, result.run.held) == (5, 5, [], 0)
    customer = Customer.objects.get()
    assert (customer.status, customer.value, customer.segment.name) == ("active", Decimal("50000"), "Gold")
    logged = {e.type: e for e in Event.objects.exclude(type="new")}
    assert set(logged) == set(OPERATIONAL_EVENT_TYPES)
    assert logged["return"].value == Decimal("120.50") and logged["claim"].value is None
    assert logged["invoice_correction"].reason == "reason 2" and logged["claim"].segment.name == "Gold"
    # The customer page lists them by their label.
    client.force_login(cx_manager())
    html = client.get(reverse("dashboards-customer", args=[customer.pk])).content.decode()
    for label in ("return", "claim", "invoice correction", "service change", "support contact"):
        assert f">{label}<" in html.replace("\n", "").replace("  ", ""), label
    # A replay stores nothing twice.
    assert load(crm, HEADER + rows + "\n", name="events-again.csv").events_created == 0


def test_an_unknown_event_type_is_still_refused_with_the_list(crm):
    result = load(crm, HEADER + "x1,refund,2024-01-10,1172,,,,,,,,\n")
    assert result.quarantined[0][1].startswith("type 'refund' is not one of claim, invoice_correction, lost")


# Unknown customers: held, not invented


def test_a_lost_event_for_an_unknown_customer_is_held_with_its_reason(crm, erp, capsys, tmp_path):
    path = tmp_path / "erp-events.csv"
    path.write_text(HEADER + "E1,lost,2024-05-01,K-1172,Norte Textiles GmbH,,,,price,,,\n")
    call_command("import_crm_events", str(path), "--connection", "ERP")
    out = capsys.readouterr().out
    assert "1 rows, 0 applied, 0 events created, 0 quarantined, 1 held (customer not known)" in out
    assert "held with the reason" in out
    assert Customer.objects.count() == 1 and Customer.objects.get().status == "active"
    held = HeldEvent.objects.get()
    assert (held.type, held.customer_external_id, held.source) == ("lost", "K-1172", "erp-events.csv:2")
    assert "Customer 'K-1172' is not known in ERP" in held.reason and "never acquired" in held.reason
    assert held.record["customer_name"] == "Norte Textiles GmbH"
    assert Event.objects.filter(type="lost").count() == 0


def test_a_held_event_is_applied_once_its_customer_arrives_and_only_once(erp):
    load(erp, HEADER + "E1,lost,2024-05-01,K9,,,,,price,,,\nE2,claim,2024-04-01,K9,,,,,,,,\n", name="events-1.csv")
    assert HeldEvent.objects.count() == 2 and not Customer.objects.exists()
    # The same rows again (another file): still held once.
    load(erp, HEADER + "E1,lost,2024-05-01,K9,,,,,price,,,\n", name="events-2.csv")
    assert HeldEvent.objects.count() == 2
    # The customer arrives in a later file of the same connection: the end of that run applies the held events.
    result = load(erp, CUSTOMERS_HEADER + "K9,Kilo,,900,,active,2023-01-01,2024-01-01\n", kind="customers")
    assert result.held_applied == 2 and not HeldEvent.objects.exists()
    k9 = Customer.objects.get()
    assert (k9.status, k9.lost_at, k9.lost_reason) == ("lost", datetime(2024, 5, 1, tzinfo=UTC), "price")
    assert sorted(Event.objects.values_list("type", flat=True)) == ["claim", "lost", "new"]
    # Applied events are never applied again.
    load(erp, HEADER + "E1,lost,2024-05-01,K9,,,,,price,,,\n", name="events-3.csv")
    assert Event.objects.count() == 3 and not HeldEvent.objects.exists()


def test_a_new_event_later_in_the_same_file_introduces_the_customer(erp):
    result = load(erp, HEADER + "E1,lost,2024-05-01,K9,,,,,price,,,\nE0,new,2024-01-01,K9,,,,100,,,,\n")
    assert (result.run.held, result.events_created) == (0, 2)
    assert Customer.objects.get().status == "lost"


def test_the_admin_action_applies_the_held_events_whose_customer_is_known(erp, admin_client):
    load(erp, HEADER + "E1,support_contact,2024-05-01,K9,,,,,,,,\nE2,lost,2024-05-02,K8,,,,,,,,\n")
    Customer.objects.create(connection=erp, external_id="K9", status="active")  # e.g. typed in by hand
    response = admin_client.post(
        reverse("admin:customers_heldevent_changelist"),
        {"action": "apply_known", "_selected_action": list(HeldEvent.objects.values_list("pk", flat=True))},
        follow=True,
    )
    assert "1 of 2 events applied" in response.content.decode()
    assert list(HeldEvent.objects.values_list("customer_external_id", flat=True)) == ["K8"]
    assert Event.objects.get().type == "support_contact"
    page = admin_client.get(reverse("admin:customers_heldevent_changelist")).content.decode()
    assert "K8" in page and "is not known in ERP" in page


# One customer across connections


def test_matching_on_the_crm_id_of_another_connection_makes_one_customer(crm, erp):
    connection_matching_set(connection=erp, match_on=MatchOn.CONNECTION, match_connection=crm)
    result = load(erp, HEADER + "E1,lost,2024-05-01,1172,,,,,moved to a competitor,,,\n")
    assert (result.run.held, result.events_created) == (0, 1)
    norte = Customer.objects.get()  # no second customer
    assert (norte.status, norte.connection, norte.lost_reason) == ("lost", crm, "moved to a competitor")
    assert list(CustomerExternalId.objects.values_list("connection__name", "external_id", "customer")) == [
        ("ERP", "1172", norte.pk)
    ]
    # Found by the stored id from then on, even with the matching turned off.
    connection_matching_set(connection=erp, match_on=MatchOn.OWN_ID)
    load(erp, HEADER + "E2,claim,2024-06-01,1172,,,,,,,,\n", name="events-2.csv")
    assert Customer.objects.count() == 1 and Event.objects.filter(customer=norte, type="claim").exists()
    # And the CRM still updates the same customer.
    load(crm, CUSTOMERS_HEADER + "1172,Norte Textiles GmbH,buy@norte.example,52000,Gold,lost,2023-02-01,2024-07-01\n",
         kind="customers", name="customers-2.csv")  # fmt: skip
    assert Customer.objects.get().value == Decimal("52000")


def test_matching_on_email_makes_one_customer(crm, erp):
    connection_matching_set(connection=erp, match_on=MatchOn.EMAIL)
    result = load(
        erp, HEADER + "E1,return,2024-05-01,D-88,,BUY@norte.example,,75,,,,\nE2,lost,2024-06-01,D-99,,,,,,,,\n"
    )
    assert (result.events_created, result.run.held) == (1, 1)
    assert Customer.objects.count() == 1
    assert CustomerExternalId.objects.get().external_id == "D-88"
    assert "the row gives no email to match on" in HeldEvent.objects.get().reason


def test_setting_the_rule_applies_the_held_events_it_finds_a_customer_for(crm, erp):
    load(erp, HEADER + "E1,lost,2024-05-01,1172,,,,,price,,,\nE2,claim,2024-05-01,K-7,,,,,,,,\n")
    assert HeldEvent.objects.count() == 2
    result = connection_matching_set(connection=erp, match_on=MatchOn.CONNECTION, match_connection=crm)
    assert (result.merged, result.held_applied) == (0, 1)
    assert Customer.objects.get().status == "lost"
    assert list(HeldEvent.objects.values_list("customer_external_id", flat=True)) == ["K-7"]


def test_held_events_of_a_matching_connection_apply_when_the_other_connection_brings_the_customer(erp):
    crm = Connection.objects.create(kind=Connection.Kind.CSV, name="CRM")
    connection_matching_set(connection=erp, match_on=MatchOn.CONNECTION, match_connection=crm)
    load(erp, HEADER + "E1,lost,2024-05-01,77,,,,,price,,,\n")
    assert HeldEvent.objects.count() == 1
    result = load(crm, CUSTOMERS_HEADER + "77,Seven,,10,,active,2023-01-01,2024-01-01\n", kind="customers")
    assert result.held_applied == 1
    assert Customer.objects.get().status == "lost" and CustomerExternalId.objects.count() == 1


def test_a_matching_rule_is_checked(crm, erp):
    with pytest.raises(ValueError, match="Choose the connection"):
        connection_matching_set(connection=erp, match_on=MatchOn.CONNECTION)
    with pytest.raises(ValueError, match="its own ids"):
        connection_matching_set(connection=erp, match_on=MatchOn.CONNECTION, match_connection=erp)
    with pytest.raises(ValueError, match="match_on must be one of"):
        connection_matching_set(connection=erp, match_on="name")


def test_the_admin_sets_the_matching_through_the_connection_form(crm, erp, admin_client):
    url = reverse("admin:crm_sync_connection_change", args=[erp.pk])
    data = {"kind": "csv", "name": "ERP", "settings": "{}", "enabled": "on", "sync_interval_minutes": 60,
            "match_on": "connection", "match_connection": "",
            **{f"{prefix}-{field}": "0" for prefix in ("runs", "quarantined_records")
               for field in ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS")}}  # fmt: skip
    page = admin_client.get(url).content.decode()
    assert "match unknown customers on" in page.lower()
    response = admin_client.post(url, data)
    assert "Choose the connection" in response.content.decode()
    data["match_connection"] = crm.pk
    response = admin_client.post(url, data)
    erp.refresh_from_db()
    assert (erp.match_on, erp.match_connection) == ("connection", crm), response.content.decode()[:3000]


# Segments created by an import


def test_created_segments_are_ranked_by_their_customers_mean_value_until_confirmed(erp, admin_client, capsys, tmp_path):
    Segment.objects.create(name="Configured", rank=1)
    path = tmp_path / "events.csv"
    path.write_text(
        HEADER
        + "e1,new,2024-01-01,A,,,Basic,100,,,,\n"  # appears first, least valuable
        + "e2,new,2024-01-02,B,,,Premium,9000,,,,\n"
        + "e3,new,2024-01-03,C,,,Premium,11000,,,,\n"
        + "e4,new,2024-01-04,D,,,Plus,2000,,,,\n"
    )
    call_command("import_crm_events", str(path), "--connection", "ERP")
    out = capsys.readouterr().out
    assert "New value segments: Basic, Premium, Plus, ranked by their customers' mean value" in out
    ranks = dict(Segment.objects.values_list("name", "rank"))
    assert ranks["Configured"] == 1 and ranks["Premium"] > ranks["Plus"] > ranks["Basic"] > 1
    assert sorted(r for n, r in ranks.items() if n != "Configured") == [2, 3, 4]
    page = admin_client.get(reverse("admin:customers_segment_changelist")).content.decode()
    assert "ranked by their customers&#x27; mean value" in page and "Premium, Plus, Basic" in page
    segments_ranks_confirm()
    page = admin_client.get(reverse("admin:customers_segment_changelist")).content.decode()
    assert "ranked by their customers&#x27; mean value" not in page
    assert not Segment.objects.filter(ranks_confirmed=False).exists()


# Day-first dates


def test_day_first_dates_are_told_from_the_whole_column(erp):
    text = (
        HEADER + "e1,new,05/01/2024,A,,,,100,,,,\ne2,new,20/01/2024 10:30,B,,,,100,,,,\ne3,lost,2024-03-01,A,,,,,,,,\n"
    )
    result = load(erp, text)
    assert (result.events_created, result.quarantined) == (3, [])
    new = dict(Event.objects.filter(type="new").values_list("customer__external_id", "occurred_at"))
    assert new["A"].date().isoformat() == "2024-01-05"
    assert new["B"].strftime("%Y-%m-%d %H:%M") == "2024-01-20 10:30"


def test_month_first_dates_and_ambiguous_dates(erp):
    assert load(erp, HEADER + "e1,new,01/20/2024,A,,,,100,,,,\ne2,new,02/03/2024,B,,,,100,,,,\n").events_created == 2
    assert Event.objects.get(source_key="event:e2").occurred_at.month == 2
    with pytest.raises(ConnectorError, match="reads both as day/month and as month/day"):
        load(erp, HEADER + "e5,new,03/04/2024,C,,,,100,,,,\n", name="events-x.csv")
    with pytest.raises(ConnectorError, match="day-first dates"):
        load(erp, HEADER + "e6,new,13/04/2024,C,,,,100,,,,\ne7,new,04/13/2024,D,,,,100,,,,\n", name="e-y.csv")


def test_the_command_reads_a_day_first_file(erp, tmp_path, capsys):
    path = tmp_path / "events.csv"
    path.write_text(HEADER + "e1,new,03/04/2024,A,,,,100,,,,\n")
    with pytest.raises(CommandError, match="--date-format"):
        call_command("import_crm_events", str(path), "--connection", "ERP")
    call_command("import_crm_events", str(path), "--connection", "ERP", "--date-format", "%d/%m/%Y")
    assert Event.objects.get().occurred_at.date().isoformat() == "2024-04-03"


def test_a_hubspot_snapshot_with_operational_dates_logs_them_once(crm):
    from customers.records import CustomerRecord
    from customers.services import crm_records_apply

    hubspot = Connection.objects.create(kind=Connection.Kind.HUBSPOT, name="HS")
    when = datetime(2024, 3, 1, tzinfo=UTC)
    record = CustomerRecord(external_id="9", source="hubspot:companies:9", is_customer=True,
                            customer_since=datetime(2023, 1, 1, tzinfo=UTC), modified_at=when,
                            operational=(("return", when), ("claim", when)))  # fmt: skip
    crm_records_apply(connection=hubspot, records=[record])
    crm_records_apply(connection=hubspot, records=[record])  # the next sync sees the same dates
    assert sorted(Event.objects.filter(connection=hubspot).values_list("type", flat=True)) == ["claim", "new", "return"]
    prospect = CustomerRecord(external_id="10", source="hubspot:companies:10", operational=(("return", when),))
    crm_records_apply(connection=hubspot, records=[prospect])
    assert not Event.objects.filter(customer__external_id="10").exists()  # not a customer: nothing to log


def test_setting_the_rule_merges_the_duplicate_an_earlier_erp_file_created(crm, erp):
    from core.models import Change

    norte = Customer.objects.get()
    # What an ERP file did before: a second customer, lost, under the ERP connection.
    lost_at = datetime(2024, 5, 1, tzinfo=UTC)
    duplicate = Customer.objects.create(connection=erp, external_id="1172", name="Norte Textiles GmbH 1172",
                                        status="lost", acquired_at=lost_at, lost_at=lost_at, lost_reason="price",
                                        state_as_of=lost_at, value=Decimal("0"))  # fmt: skip
    Event.objects.create(connection=erp, source_key="event:E1", type="lost", occurred_at=lost_at, customer=duplicate,
                         value=Decimal("0"), reason="price")  # fmt: skip
    answered = Customer.objects.create(connection=erp, external_id="55", status="active")
    Customer.objects.create(connection=crm, external_id="55", status="active")
    from surveys.tests.factories import ResponseFactory

    ResponseFactory(customer=answered)
    Change.objects.all().delete()
    result = connection_matching_set(connection=erp, match_on=MatchOn.CONNECTION, match_connection=crm)
    assert (result.merged, result.kept) == (1, ["55"])
    assert not Customer.objects.filter(pk=duplicate.pk).exists()
    norte.refresh_from_db()
    assert (norte.status, norte.lost_at, norte.lost_reason, norte.acquired_at.year) == ("lost", lost_at, "price", 2023)
    assert Event.objects.get(source_key="event:E1").customer == norte
    assert CustomerExternalId.objects.get(customer=norte).external_id == "1172"
    assert Change.objects.exists()  # the figures the moved event counts in are worked out again
    # The ERP's next file finds the merged customer by its id.
    load(erp, HEADER + "E2,claim,2024-06-01,1172,,,,,,,,\n")
    assert Event.objects.get(source_key="event:E2").customer == norte


def test_the_other_connections_id_finds_the_customer_and_is_in_the_data_export(crm, erp):
    import json

    from customers.selectors import customer_export_json, customer_find, customers_by_crm_id

    connection_matching_set(connection=erp, match_on=MatchOn.CONNECTION, match_connection=crm)
    CustomerExternalId.objects.all().delete()
    load(erp, HEADER + "E1,claim,2024-06-01,1172,,,,,,,,\n")
    norte = Customer.objects.get()
    assert customer_find(connection_name="ERP", external_id="1172") == norte
    assert customer_find(connection_name="CRM", external_id="1172") == norte
    assert customers_by_crm_id(external_id="1172") == [norte]
    assert customers_by_crm_id(external_id="1172", connection_name="ERP") == [norte]
    assert customers_by_crm_id(external_id="1172", connection_name="Nope") == []
    export = json.loads(customer_export_json(customer=norte))
    assert export["ids_in_other_connections"] == [{"connection": "ERP", "external_id": "1172"}]

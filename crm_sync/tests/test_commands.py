from __future__ import annotations

import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from crm_sync.models import Connection, SyncRun
from crm_sync.tests.fake_hubspot import FakeHubSpot
from crm_sync.tests.helpers import subprocess_env
from crm_sync.tests.hubspot_data import CompanyDataset
from crm_sync.tests.test_services_csv import EVENTS
from customers.models import Event

pytestmark = pytest.mark.django_db


def test_import_crm_events_applies_the_rest_and_reports_the_bad_line(tmp_path, capsys):
    path = tmp_path / "events.csv"
    path.write_text(EVENTS.replace("e3,referral,2024-02-15,C3", "e3,referral,someday,C3"))
    with pytest.raises(CommandError, match="1 rows were quarantined") as caught:
        call_command("import_crm_events", str(path))
    assert caught.value.returncode == 1
    out, err = capsys.readouterr()
    assert "events.csv: 5 rows, 4 applied, 4 events created, 1 quarantined" in out
    assert "line 4: occurred_at: 'someday' is not a date" in err
    assert Event.objects.count() == 4


def test_import_crm_events_twice_says_already_imported(tmp_path, capsys):
    path = tmp_path / "events.csv"
    path.write_text(EVENTS)
    call_command("import_crm_events", str(path))
    call_command("import_crm_events", str(path))
    assert "already imported" in capsys.readouterr().out
    assert Event.objects.count() == 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_import_crm_events_exit_status_from_the_command_line(tmp_path, postgres_db):
    """The real command line, in another process on the test database: exit status 1 and the line."""
    path = tmp_path / "events.csv"
    path.write_text(EVENTS + "e9,new,never,C9,,,,,,,,\n")
    completed = subprocess.run(
        [sys.executable, "manage.py", "import_crm_events", str(path)], cwd=settings.BASE_DIR,
        env=subprocess_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert completed.returncode == 1, completed.stderr
    assert "6 rows, 5 applied, 5 events created, 1 quarantined" in completed.stdout
    assert "line 7: occurred_at: 'never' is not a date" in completed.stderr
    assert Event.objects.count() == 5


def test_crm_sync_command_syncs_one_connection(make_hubspot_connection, sleeps, capsys):
    with FakeHubSpot(CompanyDataset(120)) as server:
        make_hubspot_connection(server, name="Main CRM")
        Connection.objects.create(kind="csv", name="Disabled", enabled=False)
        call_command("crm_sync", "--connection", "Main CRM")
        call_command("crm_sync", "--connection", "Main CRM", "--full")
    out = capsys.readouterr().out
    assert "Main CRM: 2 pages, 120 records" in out
    assert SyncRun.objects.filter(status="succeeded", full=True).count() == 1


def test_crm_sync_command_fails_for_an_unknown_connection():
    with pytest.raises(CommandError, match="No connection named 'Nope'"):
        call_command("crm_sync", "--connection", "Nope")


def test_crm_sync_command_exits_non_zero_when_a_sync_fails(make_hubspot_connection, sleeps, capsys):
    with FakeHubSpot(CompanyDataset(5), token="other") as server:
        make_hubspot_connection(server)
        with pytest.raises(CommandError, match="1 of 1 connections failed"):
            call_command("crm_sync")
    assert "token rejected" in capsys.readouterr().err

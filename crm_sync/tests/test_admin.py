from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from crm_sync import admin as crm_admin
from crm_sync.models import Connection, QuarantinedRecord, SyncRun
from crm_sync.tests.factories import ConnectionFactory
from crm_sync.tests.test_services_csv import EVENTS
from customers.models import Event

pytestmark = pytest.mark.django_db

SECRET = "pat-na1-very-secret-value"


@pytest.fixture
def admin_client(client):
    user = User.objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(user)
    return client


def connection_form_data(**overrides) -> dict:
    data = {
        "kind": "hubspot", "name": "HubSpot", "settings": '{"object_type": "companies"}', "token": "",
        "enabled": "on", "sync_interval_minutes": "60",
        **{f"{prefix}-{field}": value for prefix in ("runs", "quarantined_records")
           for field, value in (("TOTAL_FORMS", "0"), ("INITIAL_FORMS", "0"), ("MIN_NUM_FORMS", "0"),
                                ("MAX_NUM_FORMS", "0"))},
    }  # fmt: skip
    data.update(overrides)
    return data


def test_the_token_is_write_only_and_kept_when_left_blank(admin_client):
    response = admin_client.post(reverse("admin:crm_sync_connection_add"), connection_form_data(token=SECRET))
    assert response.status_code == 302, response.content.decode()[:2000]
    connection = Connection.objects.get()
    assert connection.token == SECRET
    assert SECRET not in connection.secret_token  # stored encrypted

    page = admin_client.get(reverse("admin:crm_sync_connection_change", args=[connection.pk]))
    assert page.status_code == 200
    assert SECRET not in page.content.decode()
    assert SECRET not in admin_client.get(reverse("admin:crm_sync_connection_changelist")).content.decode()

    response = admin_client.post(
        reverse("admin:crm_sync_connection_change", args=[connection.pk]), connection_form_data(name="Renamed")
    )
    assert response.status_code == 302
    connection.refresh_from_db()
    assert (connection.name, connection.token) == ("Renamed", SECRET)

    admin_client.post(reverse("admin:crm_sync_connection_change", args=[connection.pk]),
                      connection_form_data(token="new-token"))  # fmt: skip
    connection.refresh_from_db()
    assert connection.token == "new-token"


def test_a_hubspot_connection_without_a_token_is_refused(admin_client):
    response = admin_client.post(reverse("admin:crm_sync_connection_add"), connection_form_data())
    assert response.status_code == 200
    assert "needs a private-app token" in response.content.decode()


def test_hubspot_settings_are_checked(admin_client):
    response = admin_client.post(reverse("admin:crm_sync_connection_add"),
                                 connection_form_data(token=SECRET, settings='{"object_type": "deals"}'))  # fmt: skip
    assert response.status_code == 200
    assert "object_type is" in response.content.decode()
    assert SECRET not in response.content.decode()  # not even when the form comes back with errors


def test_the_change_page_shows_runs_and_quarantined_records(admin_client):
    connection = ConnectionFactory(kind="hubspot", name="HS", token=SECRET)
    run = SyncRun.objects.create(
        connection=connection, status="failed", pages=3, records=250, error="HubSpot token rejected (401)"
    )
    QuarantinedRecord.objects.create(connection=connection, run=run, source="hubspot:companies:9",
                                     payload='{"id": "9"}', reason="annualrevenue: 'x' is not a number")  # fmt: skip
    page = admin_client.get(reverse("admin:crm_sync_connection_change", args=[connection.pk])).content.decode()
    assert "HubSpot token rejected (401)" in page
    assert "annualrevenue: &#x27;x&#x27; is not a number" in page
    assert SECRET not in page


def test_sync_now_queues_a_task_per_connection(admin_client, monkeypatch, django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr(crm_admin.crm_sync_connection, "delay", lambda pk, full=False: queued.append((pk, full)))
    connection = ConnectionFactory(name="CSV")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:crm_sync_connection_changelist"),
            {"action": "sync_now", "_selected_action": [connection.pk]},
        )
    assert response.status_code == 302
    assert queued == [(connection.pk, False)]


def test_upload_applies_an_events_file(admin_client):
    connection = ConnectionFactory(name="ERP")
    upload = SimpleUploadedFile("events.csv", EVENTS.encode(), content_type="text/csv")
    response = admin_client.post(reverse("admin:crm_sync_connection_upload", args=[connection.pk]), {"file": upload})
    assert response.status_code == 302
    assert Event.objects.filter(connection=connection).count() == 5
    assert admin_client.get(reverse("admin:crm_sync_connection_upload", args=[connection.pk])).status_code == 200


def test_run_and_quarantine_lists_open(admin_client):
    for name in ("syncrun", "quarantinedrecord"):
        assert admin_client.get(reverse(f"admin:crm_sync_{name}_changelist")).status_code == 200


def test_a_skipped_sync_is_a_warning_on_the_connection_page_and_in_the_list(admin_client):
    from crm_sync.services.runs import sync_run_record_skipped

    connection = ConnectionFactory(name="Busy")
    active = SyncRun.objects.create(connection=connection)
    sync_run_record_skipped(connection=connection, active=active)

    page = admin_client.get(reverse("admin:crm_sync_connection_change", args=[connection.pk])).content.decode()
    assert "was skipped because another run of this connection was active" in page
    assert 'class="warning"' in page
    assert "Skipped: the run started at" in page  # the run itself, in the recent runs
    listing = admin_client.get(reverse("admin:crm_sync_connection_changelist")).content.decode()
    assert "skipped: another run was active" in listing

    SyncRun.objects.filter(status="skipped").delete()
    page = admin_client.get(reverse("admin:crm_sync_connection_change", args=[connection.pk])).content.decode()
    assert "was skipped" not in page

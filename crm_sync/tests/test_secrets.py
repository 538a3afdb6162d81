"""A connection's token at rest: encrypted in the database, re-encrypted by secrets_rotate, a clear sync
error when no configured key decrypts it; and the HubSpot base_url refuses plain http:// off this machine."""

from __future__ import annotations

import importlib

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection as db

from core.secrets import secret_decrypt
from crm_sync.connectors import ConnectorError
from crm_sync.connectors.hubspot import HubSpotConnector, base_url_error
from crm_sync.models import Connection, SyncRun
from crm_sync.services import crm_sync_run
from crm_sync.tests.fake_hubspot import TOKEN
from crm_sync.tests.hubspot_data import connection_settings

pytestmark = pytest.mark.django_db

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()
migration = importlib.import_module("crm_sync.migrations.0002_secret_token_encrypted")


def stored(connection: Connection) -> str:
    """The column's value as the database holds it."""
    with db.cursor() as cursor:
        cursor.execute("SELECT secret_token FROM crm_sync_connection WHERE id = %s", [connection.pk])
        return cursor.fetchone()[0]


def test_the_token_is_stored_encrypted_and_read_back():
    connection = Connection.objects.create(kind="hubspot", name="HS", token="pat-na1-secret")
    assert "pat-na1-secret" not in stored(connection)
    assert secret_decrypt(stored(connection)) == "pat-na1-secret"
    assert Connection.objects.get().token == "pat-na1-secret"
    connection.token = ""
    connection.save()
    assert stored(connection) == ""


def test_the_migration_encrypts_plain_tokens_and_its_reverse_decrypts_them():
    plain = Connection.objects.create(kind="hubspot", name="HS")
    none = Connection.objects.create(kind="csv", name="CSV")
    Connection.objects.filter(pk=plain.pk).update(secret_token="pat-na1-plain")
    migration.encrypt_tokens(apps, None)
    assert "pat-na1-plain" not in stored(plain)
    assert Connection.objects.get(pk=plain.pk).token == "pat-na1-plain"
    assert stored(none) == ""
    migration.decrypt_tokens(apps, None)
    assert stored(plain) == "pat-na1-plain"
    assert stored(none) == ""


def test_the_reverse_migration_stops_on_a_token_it_cannot_decrypt():
    connection = Connection.objects.create(kind="hubspot", name="HS")
    Connection.objects.filter(pk=connection.pk).update(secret_token=Fernet(OLD).encrypt(b"x").decode())
    with pytest.raises(RuntimeError, match="'HS' cannot be decrypted with the configured SECRETS_KEYS"):
        migration.decrypt_tokens(apps, None)


def test_secrets_rotate_re_encrypts_with_the_first_key(settings, capsys):
    settings.SECRETS_KEYS = [OLD]
    first = Connection.objects.create(kind="hubspot", name="A", token="token-a")
    second = Connection.objects.create(kind="hubspot", name="B", token="token-b")
    Connection.objects.create(kind="csv", name="C")
    settings.SECRETS_KEYS = [NEW, OLD]
    call_command("secrets_rotate")
    assert "2 secret(s) re-encrypted" in capsys.readouterr().out
    settings.SECRETS_KEYS = [NEW]  # the old key can go now
    assert (Connection.objects.get(pk=first.pk).token, Connection.objects.get(pk=second.pk).token) == (
        "token-a",
        "token-b",
    )


def test_secrets_rotate_names_what_it_cannot_decrypt_and_rotates_the_rest(settings, capsys):
    settings.SECRETS_KEYS = [OLD]
    good = Connection.objects.create(kind="hubspot", name="Good", token="token")
    lost = Connection.objects.create(kind="hubspot", name="Lost")
    Connection.objects.filter(pk=lost.pk).update(secret_token=Fernet(Fernet.generate_key()).encrypt(b"x").decode())
    before = stored(lost)
    settings.SECRETS_KEYS = [NEW, OLD]
    with pytest.raises(CommandError, match=r"1 secret\(s\) cannot be decrypted .*connections: Lost"):
        call_command("secrets_rotate")
    assert "1 secret(s) re-encrypted" in capsys.readouterr().out
    assert stored(lost) == before
    settings.SECRETS_KEYS = [NEW]
    assert Connection.objects.get(pk=good.pk).token == "token"


def test_a_token_no_key_decrypts_fails_the_sync_with_a_clear_message():
    connection = Connection.objects.create(
        kind="hubspot", name="HS", settings=connection_settings("http://127.0.0.1:9")
    )
    Connection.objects.filter(pk=connection.pk).update(secret_token="pat-na1-stored-in-plain-text")
    connection.refresh_from_db()
    with pytest.raises(ConnectorError, match="cannot be decrypted with the configured keys") as caught:
        crm_sync_run(connection=connection)
    assert not caught.value.retryable
    run = SyncRun.objects.get()
    assert run.status == SyncRun.Status.FAILED
    assert "cannot be decrypted with the configured keys" in run.error
    assert "pat-na1" not in run.error


def test_the_crm_sync_command_reports_it_too(capsys):
    connection = Connection.objects.create(
        kind="hubspot", name="HS", settings=connection_settings("http://127.0.0.1:9")
    )
    Connection.objects.filter(pk=connection.pk).update(secret_token="garbage")
    with pytest.raises(CommandError, match="1 of 1 connections failed"):
        call_command("crm_sync")
    assert (
        "HS: failed: HubSpot token: the secret cannot be decrypted with the configured keys" in capsys.readouterr().err
    )


@pytest.mark.parametrize(
    "url",
    ["https://api.hubapi.com", "https://hubspot.internal:8443/x", "http://127.0.0.1:8080", "http://localhost:9",
     "http://[::1]:9"],
)  # fmt: skip
def test_these_base_urls_are_accepted(url):
    assert base_url_error(url) is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://api.hubapi.com", "would travel unencrypted"),
        ("http://10.0.0.5:8080", "would travel unencrypted"),
        ("http://127.0.0.1.example.com", "would travel unencrypted"),
        ("ftp://api.hubapi.com", "must start with https://"),
        ("api.hubapi.com", "must start with https://"),
        ("https://", "must start with https://"),
        (42, "must be a URL"),
    ],
)
def test_these_base_urls_are_refused(url, message):
    assert message in base_url_error(url)


def test_the_connector_refuses_plain_http_to_another_host():
    hubspot = Connection(kind="hubspot", name="t", token=TOKEN, settings=connection_settings("http://api.hubapi.com"))
    with pytest.raises(ConnectorError, match="unencrypted"):
        HubSpotConnector(hubspot)


def test_the_admin_refuses_plain_http_to_another_host(client, django_user_model):
    from crm_sync.tests.test_admin import connection_form_data

    client.force_login(django_user_model.objects.create_superuser("admin", "a@example.com", "pw"))
    response = client.post(
        "/admin/crm_sync/connection/add/",
        connection_form_data(token="pat", settings='{"base_url": "http://api.hubapi.com"}'),
    )
    assert response.status_code == 200
    assert "the token would travel unencrypted over http://" in response.content.decode()
    assert not Connection.objects.exists()
    response = client.post(
        "/admin/crm_sync/connection/add/",
        connection_form_data(token="pat", settings='{"base_url": "https://eu1.api.hubapi.com"}'),
    )
    assert response.status_code == 302


def test_the_admin_stores_a_new_token_encrypted_and_removes_it_on_request(client, django_user_model):
    from crm_sync.tests.test_admin import connection_form_data

    client.force_login(django_user_model.objects.create_superuser("admin", "a@example.com", "pw"))
    connection = Connection.objects.create(kind="csv", name="CSV", token="old")
    url = f"/admin/crm_sync/connection/{connection.pk}/change/"
    client.post(url, connection_form_data(kind="csv", name="CSV", settings="{}", token="pat-new"))
    assert "pat-new" not in stored(connection)
    assert Connection.objects.get().token == "pat-new"
    client.post(url, connection_form_data(kind="csv", name="CSV", settings="{}", clear_token="on"))
    assert stored(connection) == ""

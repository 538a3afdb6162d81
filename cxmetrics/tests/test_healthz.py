import socket
import threading
import time

import pytest
from django.db import connection

from cxmetrics import health


@pytest.mark.django_db
def test_healthz_reports_database_and_broker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_healthz_is_503_when_the_broker_is_down(client, settings):
    # Nothing listens on port 1: the connection is refused at once.
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"].startswith("error")
    assert response.json()["database"] == "ok"


@pytest.mark.django_db
def test_healthz_is_503_when_the_database_is_down(client, monkeypatch):
    # A database that cannot be opened (SQLite: no such folder; PostgreSQL: no such database).
    monkeypatch.setitem(connection.settings_dict, "NAME", "/no/such/folder/no_such_database")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "error: OperationalError"
    assert response.json()["broker"] == "ok"


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never answers (a hung Redis or PostgreSQL)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(50)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for sock in [*accepted, listener]:
        sock.close()


def timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


@pytest.mark.django_db
def test_healthz_answers_503_fast_when_the_broker_accepts_and_never_answers(client, settings, silent_server):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{silent_server}/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3900}
    response, seconds = timed(lambda: client.get("/healthz"))
    assert response.status_code == 503
    assert response.json()["broker"].startswith("error")
    assert seconds < 2 * health.TIMEOUT_SECONDS + 2


@pytest.mark.django_db
def test_the_database_check_gives_up_on_a_postgres_server_that_accepts_and_never_answers(silent_server):
    settings_dict = {
        "ENGINE": "django.db.backends.postgresql", "NAME": "cx", "USER": "postgres", "PASSWORD": "",
        "HOST": "127.0.0.1", "PORT": str(silent_server), "OPTIONS": {}, "TIME_ZONE": None, "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False, "AUTOCOMMIT": True, "ATOMIC_REQUESTS": False, "TEST": {},
    }  # fmt: skip
    (ok, detail), seconds = timed(lambda: health.database_probe(settings_dict, timeout=2))
    assert (ok, detail) == (False, "error: OperationalError")
    assert seconds < 6  # libpq's connect timeout: whole seconds, per address tried


@pytest.mark.postgres
@pytest.mark.django_db
def test_healthz_answers_503_fast_when_a_statement_outlasts_the_timeout(client, postgres_db, monkeypatch):
    monkeypatch.setattr(health, "DATABASE_PROBE", "SELECT pg_sleep(30)")
    response, seconds = timed(lambda: client.get("/healthz"))
    assert response.status_code == 503
    assert response.json()["database"].startswith("error")
    assert seconds < health.TIMEOUT_SECONDS + 3


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_health_check_timeouts_stay_on_its_own_connection(client, postgres_db):
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        before = cursor.fetchone()[0]
    assert client.get("/healthz").status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == before

"""What a newcomer meets on `make run`: links on the port the app runs on, a demo sync that works."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import date
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from crm_sync.models import Connection, SyncRun
from crm_sync.services.runs import crm_sync_run
from cxmetrics.demo import DEMO_CONNECTION, demo_folder_ensure, seed_demo

ROOT = Path(__file__).resolve().parents[2]
# Set when the suite itself runs under `make test`: a make started here must not see them.
OUTER_MAKE = {"MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES"}


def _site_url(**env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k not in {"SITE_URL", "PORT", "DJANGO_SETTINGS_MODULE"}}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; print(settings.SITE_URL)",
        ],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "cxmetrics.settings.local", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_site_url_follows_the_port_when_not_set():
    assert _site_url(PORT="8080") == "http://127.0.0.1:8080"
    assert _site_url() == "http://127.0.0.1:8000"
    assert _site_url(PORT="8080", SITE_URL="https://cx.example.com/") == "https://cx.example.com"


def test_make_run_passes_the_port_to_every_process():
    # honcho gives each Procfile process its own PORT, so the worker that sends the emails must get the
    # web's address some other way: the Makefile exports SITE_URL built from its PORT.
    result = subprocess.run(
        ["make", "-n", "run", "PORT=8080"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k not in OUTER_MAKE},
    )
    assert "--port 8080" in result.stdout
    printed = subprocess.run(
        ["make", "--no-print-directory", "--eval", "show: ; @echo $$SITE_URL", "show", "PORT=8080"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k not in {"SITE_URL", *OUTER_MAKE}},
    )
    assert printed.stdout.strip() == "http://127.0.0.1:8080"
    assert "make run PORT=8080" in (ROOT / "README.md").read_text()


@pytest.mark.django_db
def test_invitation_links_use_the_site_url(settings):
    from surveys.services import invitation_message
    from surveys.tests.factories import InvitationFactory

    settings.SITE_URL = "http://127.0.0.1:8080"
    invitation = InvitationFactory()
    body = invitation_message(invitation=invitation).body
    assert f"http://127.0.0.1:8080/s/{invitation.token}/" in body


@pytest.mark.django_db
def test_the_demo_connection_syncs_on_a_fresh_install(settings, tmp_path):
    settings.CRM_SYNC_CSV_DIR = str(tmp_path / "crm_import")
    seed_demo(customers=40, months=3, seed=3, end=date(2026, 6, 30))
    connection = Connection.objects.get(name=DEMO_CONNECTION)
    assert demo_folder_ensure() == tmp_path / "crm_import"
    assert (tmp_path / "crm_import").is_dir()
    run = crm_sync_run(connection=connection)
    assert run.status != SyncRun.Status.FAILED, run.error


@pytest.mark.django_db
def test_demo_setup_says_where_to_open_the_app(settings, tmp_path):
    settings.SITE_URL = "http://127.0.0.1:8080"
    settings.CRM_SYNC_CSV_DIR = str(tmp_path / "drop")
    seed_demo(customers=20, months=3, seed=3, end=date(2026, 6, 30))
    out = StringIO()
    call_command("demo_setup", stdout=out)
    assert "Open http://127.0.0.1:8080/ and sign in." in out.getvalue()
    assert (tmp_path / "drop").is_dir()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
@pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")), reason="make run is on SQLite either way: this runs in the SQLite pass"
)
def test_ctrl_c_stops_make_run_within_a_few_seconds(tmp_path):
    """`make run` in a copy of the project on a fresh var folder; Ctrl-C is a SIGINT to the terminal's
    process group. Every process (make, honcho, runserver, worker and its pool, beat) must be gone
    soon after: honcho gives its children 5 seconds before it kills them."""
    app = tmp_path / "app"
    # The project without its virtualenv (linked instead: copying it would take longer than the test).
    shutil.copytree(ROOT, app, symlinks=True, ignore=shutil.ignore_patterns("var", ".git", "__pycache__", ".venv"))
    (app / ".venv").symlink_to(ROOT / ".venv")
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"CXMETRICS_VAR_DIR", "DJANGO_SETTINGS_MODULE", "SITE_URL", *OUTER_MAKE}
    }
    env.pop("DATABASE_URL", None)
    env.pop("CELERY_BROKER_URL", None)
    log = (tmp_path / "run.log").open("w")
    proc = subprocess.Popen(
        ["make", "run", f"PORT={port}"], cwd=app, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                time.sleep(1)
        output = (tmp_path / "run.log").read_text()
        assert f"Open http://127.0.0.1:{port}/ and sign in." in output
        while "ready." not in (tmp_path / "run.log").read_text() and time.monotonic() < deadline:
            time.sleep(0.5)  # the worker is up
        os.killpg(proc.pid, signal.SIGINT)
        started = time.monotonic()
        alive = ["?"]
        while time.monotonic() - started < 15:
            proc.poll()
            listing = subprocess.run(["ps", "-o", "pid=,stat=", "-g", str(proc.pid)], capture_output=True, text=True)
            alive = [line for line in listing.stdout.splitlines() if line.split() and "Z" not in line.split()[1]]
            if not alive:
                break
            time.sleep(0.1)
        assert not alive, alive
        assert time.monotonic() - started < 7
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

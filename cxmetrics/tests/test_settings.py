import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from cxmetrics.settings.env import env_bool, env_database, env_int, env_str

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_KEYS = {
    "DJANGO_SETTINGS_MODULE": "cxmetrics.settings.production",
    "SECRET_KEY": "k9Vq3-w2Lr8_xZp4Tn7Ys1Bd6Hc0Fg5Jm2Qe9Ua3Ro8Wi4Kl7Nt",
    "SECRETS_KEYS": "mJ0a2nSS6k1pX3Rj2o7lq8eN1yq4CkQe0rY3r0bW9oM=",
}


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "SECRETS_KEYS", "DEBUG", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("raw", "expected"), [("true", True), ("Yes", True), ("1", True), ("off", False), ("0", False)]
)
def test_env_bool_parses_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("X_FLAG", raw)
    assert env_bool("X_FLAG", not expected) is expected


def test_env_bool_refuses_anything_else(monkeypatch):
    monkeypatch.setenv("X_FLAG", "Flase")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG='Flase' is not a boolean"):
        env_bool("X_FLAG", False)


def test_env_int_refuses_garbage(monkeypatch):
    monkeypatch.setenv("X_NUM", "ten")
    with pytest.raises(ImproperlyConfigured, match="X_NUM"):
        env_int("X_NUM", 1)


def test_secret_can_come_from_a_file(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv("X_SECRET_FILE", str(secret))
    assert env_str("X_SECRET") == "from-a-file"


def test_database_url_parsing():
    assert env_database("NOT_SET_DB", "postgres://postgres@127.0.0.1:5432/cx")["ENGINE"] == (
        "django.db.backends.postgresql"
    )
    with pytest.raises(ImproperlyConfigured):
        env_database("NOT_SET_DB", "nosuchdb://x")


def test_production_without_secret_key_stops_with_a_clear_message():
    result = _run(["check"], DJANGO_SETTINGS_MODULE="cxmetrics.settings.production")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_production_without_secrets_keys_stops_with_a_clear_message():
    keys = {k: v for k, v in PRODUCTION_KEYS.items() if k != "SECRETS_KEYS"}
    result = _run(["check"], **keys)
    assert result.returncode != 0
    assert "SECRETS_KEYS is not set" in result.stderr


def test_a_secrets_key_that_is_not_a_fernet_key_stops_start_up_without_showing_it():
    result = _run(["check"], **{**PRODUCTION_KEYS, "SECRETS_KEYS": f"{PRODUCTION_KEYS['SECRETS_KEYS']},not-a-key"})
    assert result.returncode != 0
    assert "SECRETS_KEYS: key 2 is not a Fernet key" in result.stderr
    assert "not-a-key" not in result.stderr


def test_secrets_keys_can_come_from_a_file(monkeypatch, tmp_path):
    from cxmetrics.settings.env import env_fernet_keys

    keys = tmp_path / "keys"
    new, old = "cIhBvYoFG5cI3qVMiGF89apIjvEAsniqzQoJAeJSpD0=", PRODUCTION_KEYS["SECRETS_KEYS"]
    keys.write_text(f" {new} , {old}\n")
    monkeypatch.setenv("X_KEYS_FILE", str(keys))
    assert env_fernet_keys("X_KEYS") == [new, old]


def test_demo_setup_refuses_to_run_with_production_settings():
    result = _run(["demo_setup"], **PRODUCTION_KEYS, ALLOWED_HOSTS="cx.example.com")
    assert result.returncode != 0
    assert "demo_setup creates users with published passwords" in result.stderr


@pytest.mark.django_db
def test_demo_setup_refuses_where_demo_is_not_allowed(settings):
    from django.contrib.auth.models import User
    from django.core.management import CommandError, call_command

    settings.DEMO_ALLOWED = False
    with pytest.raises(CommandError, match="only with the local or test settings"):
        call_command("demo_setup")
    assert not User.objects.exists()


def test_only_local_and_test_settings_allow_the_demo():
    from cxmetrics.settings import base, local, test

    assert (base.DEMO_ALLOWED, local.DEMO_ALLOWED, test.DEMO_ALLOWED) == (False, True, True)


def test_every_response_has_the_content_security_policy(client):
    policy = client.get("/login/")["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert "'unsafe-inline'" not in directives["script-src"] and "'unsafe-eval'" not in policy


@pytest.mark.slow
def test_production_settings_pass_check_deploy(tmp_path):
    result = _run(
        ["check", "--deploy", "--fail-level", "WARNING"],
        **PRODUCTION_KEYS,
        SUPPRESSION_HASH_KEY="Zr4-Pq8xLm2_Wt6Vb1Nc9Hd3Kf7Js5Gy0Ae8Ui2Ol4Rt6Ew",
        ALLOWED_HOSTS="cx.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.slow
def test_production_collectstatic_builds_the_manifest(tmp_path):
    # CompressedManifestStaticFilesStorage fails on a reference it cannot resolve (e.g. a source map).
    result = _run(["collectstatic", "--noinput", "-v0"], **PRODUCTION_KEYS, STATIC_ROOT=str(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "staticfiles.json").exists()
    assert list(tmp_path.glob("vendor/plotly/plotly.min.*.js.gz"))


def test_each_kind_of_work_has_a_queue_of_its_own():
    from cxmetrics.celery import app

    def queue(task: str) -> str:
        return app.amqp.router.route({}, task, args=(), kwargs={})["queue"].name

    assert queue("crm_sync.tasks.crm_sync_connection") == "crm"
    assert queue("surveys.tasks.invitations_send_batch_task") == "mail"
    assert queue("metrics.tasks.metrics_refresh_task") == "metrics"
    assert queue("some.other.task") == "celery"


def test_the_answering_bench_server_starts_with_production_settings(tmp_path, monkeypatch):
    from cxmetrics.bench.answering import server_env

    monkeypatch.delenv("SECRETS_KEYS")  # `manage.py bench` runs with local settings, which derive it

    env = server_env(f"sqlite:///{tmp_path / 'db.sqlite3'}", "filesystem://", str(tmp_path / "static"))
    result = _run(["check"], **{k: v for k, v in env.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"})
    assert result.returncode == 0, result.stderr[-2000:]

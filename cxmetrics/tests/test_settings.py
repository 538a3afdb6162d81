import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from cxmetrics.settings.env import env_bool, env_database, env_int, env_str

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}
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


@pytest.mark.slow
def test_production_settings_pass_check_deploy(tmp_path):
    result = _run(
        ["check", "--deploy", "--fail-level", "WARNING"],
        DJANGO_SETTINGS_MODULE="cxmetrics.settings.production",
        SECRET_KEY="k9Vq3-w2Lr8_xZp4Tn7Ys1Bd6Hc0Fg5Jm2Qe9Ua3Ro8Wi4Kl7Nt",
        SUPPRESSION_HASH_KEY="Zr4-Pq8xLm2_Wt6Vb1Nc9Hd3Kf7Js5Gy0Ae8Ui2Ol4Rt6Ew",
        ALLOWED_HOSTS="cx.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.slow
def test_production_collectstatic_builds_the_manifest(tmp_path):
    # CompressedManifestStaticFilesStorage fails on a reference it cannot resolve (e.g. a source map).
    result = _run(
        ["collectstatic", "--noinput", "-v0"],
        DJANGO_SETTINGS_MODULE="cxmetrics.settings.production",
        SECRET_KEY="k9Vq3-w2Lr8_xZp4Tn7Ys1Bd6Hc0Fg5Jm2Qe9Ua3Ro8Wi4Kl7Nt",
        STATIC_ROOT=str(tmp_path),
    )
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

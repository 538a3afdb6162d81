"""Personal survey links are credentials: Django's logs and gunicorn's access log carry them masked."""

from __future__ import annotations

import datetime
import logging
import secrets
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from cxmetrics.gunicorn import TokenMaskingLogger
from cxmetrics.logmask import TokenMaskFilter, mask_tokens

# A personal link's token as the invitations make them (URL-safe), new for each run.
TOKEN = secrets.token_urlsafe(24)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"/s/{TOKEN}/", "/s/[masked]/"),
        (f"/s/{TOKEN}/thanks/?x=1", "/s/[masked]/thanks/?x=1"),
        (f"/s/unsubscribe/{TOKEN}/", "/s/unsubscribe/[masked]/"),
        (f"GET /s/{TOKEN} HTTP/1.1", "GET /s/[masked] HTTP/1.1"),
        (f"https://cx.example.com/s/{TOKEN}/", "https://cx.example.com/s/[masked]/"),
        ("/s/p/relational-nps/", "/s/p/relational-nps/"),  # a public survey: its slug is no secret
        ("/static/surveys/survey.js", "/static/surveys/survey.js"),
        ("/admin/surveys/invitation/", "/admin/surveys/invitation/"),
    ],
)
def test_mask_tokens(text, expected):
    assert mask_tokens(text) == expected


def test_the_filter_rewrites_the_message_and_its_arguments():
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "Not Found: %s", (f"/s/{TOKEN}/",), None)
    assert TokenMaskFilter().filter(record) is True
    assert record.getMessage() == "Not Found: /s/[masked]/"
    untouched = logging.LogRecord("x", logging.INFO, __file__, 1, "Synced %s: %d pages", ("HS", 3), None)
    TokenMaskFilter().filter(untouched)
    assert (untouched.msg, untouched.args) == ("Synced %s: %d pages", ("HS", 3))


@pytest.mark.django_db
def test_django_logs_a_404_on_a_personal_link_with_the_token_masked(client, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get(f"/s/{TOKEN}/")
    assert response.status_code == 404
    messages = [r.getMessage() for r in caplog.records if r.name == "django.request"]
    assert messages == ["Not Found: /s/[masked]/"]
    assert TOKEN not in caplog.text


def test_the_settings_mask_django_server_and_the_console():
    from django.conf import settings

    loggers = settings.LOGGING["loggers"]
    assert "mask_tokens" in loggers["django.request"]["filters"]
    assert "mask_tokens" in loggers["django.server"]["filters"]
    assert "mask_tokens" in settings.LOGGING["handlers"]["console"]["filters"]


def test_gunicorn_access_log_masks_the_token_everywhere(capsys):
    config = Config()
    config.set("accesslog", "-")
    logger = TokenMaskingLogger(config)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/s/{TOKEN}/thanks/",
        "PATH_INFO": f"/s/{TOKEN}/thanks/",
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.7",
        "HTTP_REFERER": f"https://cx.example.com/s/{TOKEN}/",
        "HTTP_USER_AGENT": "curl/8",
    }
    response = SimpleNamespace(status="200 OK", sent=512, headers=[])
    request = SimpleNamespace(headers=[("REFERER", f"https://cx.example.com/s/{TOKEN}/")])
    atoms = logger.atoms(response, request, environ, datetime.timedelta(seconds=0, microseconds=1500))
    assert atoms["r"] == "GET /s/[masked]/thanks/ HTTP/1.1"
    assert atoms["U"] == "/s/[masked]/thanks/"
    assert atoms["f"] == "https://cx.example.com/s/[masked]/"
    assert atoms["{referer}i"] == "https://cx.example.com/s/[masked]/"
    assert atoms["{raw_uri}e"] == "/s/[masked]/thanks/"
    assert atoms["B"] == 512
    logger.access(response, request, environ, datetime.timedelta(microseconds=1500))  # --access-logfile -
    line = capsys.readouterr().out
    assert '"GET /s/[masked]/thanks/ HTTP/1.1" 200 512 "https://cx.example.com/s/[masked]/"' in line
    assert TOKEN not in line


def test_the_procfile_runs_gunicorn_with_this_configuration():
    from pathlib import Path

    procfile = (Path(__file__).resolve().parents[2] / "Procfile").read_text()
    web = next(line for line in procfile.splitlines() if line.startswith("web:"))
    assert "-c python:cxmetrics.gunicorn" in web

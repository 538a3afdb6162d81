"""A NUL character in the path, the query string, a cookie or a form field is a 400, never a 500.

PostgreSQL refuses NUL in text, so without the middleware these requests fail only there: run this
file on SQLite and with DATABASE_URL=postgres://... too."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.db import connection

from customers.tests.factories import CustomerFactory
from cxmetrics.tests.factories import cx_manager
from surveys.models import Invitation, Response
from surveys.tests.factories import InvitationFactory, relational_survey, valid_answers

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"
MESSAGE = "The request contains a NUL character (a zero byte), which is not allowed."


@pytest.fixture
def invitation():
    return InvitationFactory(survey=relational_survey(), customer=CustomerFactory(), language="en")


@pytest.mark.parametrize(
    "path",
    [
        "/s/abc%00def/",
        "/s/abc%00def/thanks/",
        "/s/unsubscribe/abc%00/",
        "/s/p/%00/",
        "/surveys/?q=%00",
        "/surveys/?q%00=x",
        "/?start=2026-01-01%00",
        "/export/comments.csv?q=a%00b",
    ],
)
def test_a_nul_in_the_path_or_the_query_string_is_400(client, path):
    client.force_login(cx_manager())
    response = client.get(path)
    assert response.status_code == 400
    assert response.content.decode() == MESSAGE


def test_a_nul_inside_a_real_invitation_token_is_400(client, invitation):
    response = client.get(f"/s/{invitation.token}%00/")
    assert response.status_code == 400
    invitation.refresh_from_db()
    assert invitation.opened_at is None


def test_a_nul_in_a_posted_answer_is_400_and_nothing_is_stored(client, invitation):
    data = valid_answers(invitation.survey, nps=9)
    text_field = next(k for k, v in data.items() if isinstance(v, str) and not v.isdigit())
    data[text_field] = "great\x00service"
    response = client.post(f"/s/{invitation.token}/", urlencode(data), content_type=FORM)
    assert response.status_code == 400
    assert not Response.objects.exists()
    assert Invitation.objects.get().status == Invitation.Status.SENT


def test_a_nul_in_a_multipart_answer_is_a_form_error(client, invitation):
    """Multipart bodies are left to the form (Django's CharField refuses NUL): still no 500."""
    data = valid_answers(invitation.survey, nps=9)
    text_field = next(k for k, v in data.items() if isinstance(v, str) and not v.isdigit())
    data[text_field] = "great\x00service"
    response = client.post(f"/s/{invitation.token}/", data)
    assert response.status_code == 200
    assert "Null characters are not allowed." in response.content.decode()
    assert not Response.objects.exists()


def test_a_nul_in_a_cookie_is_400(client):
    client.cookies["sessionid"] = "abcdefgh\x00ijkl"
    assert client.get("/").status_code == 400


def test_an_api_path_answers_json(client):
    response = client.get("/api/v1/metrics/?start=%00")
    assert response.status_code == 400
    assert response.json() == {"error": "nul_character", "detail": MESSAGE}


def test_a_request_without_nul_passes(client, invitation):
    assert client.get(f"/s/{invitation.token}/").status_code == 200
    assert client.get("/s/abc-def/").status_code == 404


@pytest.mark.postgres
def test_postgres_refuses_nul_in_a_query_which_is_why_requests_are_checked(postgres_db):
    """If this fails, PostgreSQL has started to accept NUL and the middleware is no longer needed."""
    assert connection.vendor == "postgresql"
    with pytest.raises(ValueError, match="NUL"):
        Invitation.objects.filter(token="abc\x00def").exists()

"""The hostile-input probes of docs/security.md, kept as a test: every page, CSV, the API and the survey
pages, for each role, with each filter parameter set to each hostile value, answer without a server error
(400 with a message, 404 or a page), and no role reaches what it may not."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from cxmetrics.tests.factories import UserFactory, cx_manager
from dashboards import datasets
from metrics.tests.factories import ResponseFactory, at
from surveys.tests.factories import InvitationFactory, relational_survey

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

HOSTILE = [
    "0001-01-01",
    "9999-12-31",
    "2026-02-30",
    "\x00",
    "abc\x00def",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "x" * 5000,
    "-1",
    "NaN",
    "１２３",
    "%",
]
PARAMS = ["start", "end", "preset", "granularity", "segment", "survey", "survey_type", "compare"]


@pytest.fixture
def data():
    survey = relational_survey()
    ResponseFactory(survey=survey, nps=9, submitted_at=at("2026-01-10"))
    return survey


def _pages() -> list[str]:
    return [
        reverse("dashboards-overview"),
        reverse("dashboards-surveys"),
        reverse("dashboards-customers"),
        reverse("dashboards-combined"),
        reverse("dashboards-api-metrics"),
        reverse("dashboards-export-comments"),
        reverse("dashboards-export", args=[next(iter(datasets.DATASETS))]),
    ]


def _client(client, role: str):
    client.raise_request_exception = False
    if role == "manager":
        client.force_login(cx_manager())
    return client


@pytest.mark.parametrize("role", ["anonymous", "manager"])
def test_hostile_filter_values_never_give_a_server_error(client, data, role):
    client = _client(client, role)
    failures = []
    for page in _pages():
        for param in PARAMS:
            for value in HOSTILE:
                response = client.get(page, {param: value})
                if response.status_code >= 500:
                    failures.append((page, param, value[:20], response.status_code))
                if role == "anonymous" and response.status_code not in {302, 400, 401, 403, 404}:
                    failures.append((page, param, value[:20], response.status_code))
    assert not failures


def test_far_dates_together_answer_400_with_the_message(client, data):
    client = _client(client, "manager")
    for page in _pages():
        for query in ({"start": "2026-01-01", "end": "9999-12-31"}, {"start": "0001-01-01"}):
            for compare in ("previous", "year"):
                response = client.get(page, {**query, "compare": compare})
                assert response.status_code == 400, (page, query, compare)


def test_hostile_survey_links_never_give_a_server_error(client, data):
    client = _client(client, "anonymous")
    invitation = InvitationFactory(survey=data)
    for path in ("/s/abc%00def/", "/s/%00/", f"/s/{invitation.token}%00/", "/s/" + "x" * 3000 + "/", "/s/p/%00/",
                 "/s/unsubscribe/%00/", "/surveys/?q=%00", "/?segment=%00"):  # fmt: skip
        for method in (client.get, client.post):
            response = method(path)
            assert response.status_code < 500, (path, response.status_code)


def test_admin_pages_by_role(client, data):
    """Anonymous users are sent to log in, staff without permissions get 403, no page errors."""
    client.raise_request_exception = False
    staff = UserFactory(username="plain-staff", is_staff=True)
    urls = []
    for model in admin.site._registry:
        opts = model._meta
        urls.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        first = model._default_manager.first()
        if first is not None:
            urls.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[first.pk]))
    for url in urls:
        assert client.get(url).status_code == 302, url
    client.force_login(staff)
    for url in urls:
        assert client.get(url).status_code == 403, url
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    for url in urls:
        assert client.get(url).status_code == 200, url

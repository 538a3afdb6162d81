"""Wrong methods on the invitations API answer 405 in JSON, with the CSRF check on as in production;
the session cookie is never accepted there, so the exemption from the CSRF check opens nothing."""

import pytest
from django.test import Client
from django.urls import reverse

from core.models import ApiToken
from customers.tests.factories import CustomerFactory
from cxmetrics.tests.factories import cx_manager
from surveys.models import Invitation
from surveys.tests.factories import relational_survey

pytestmark = pytest.mark.django_db


@pytest.fixture
def csrf_client() -> Client:
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def path() -> str:
    return reverse("surveys-api-invitations-create", args=[relational_survey(slug="after-purchase").slug])


@pytest.fixture
def token() -> str:
    return ApiToken.issue(user=cx_manager(), name="shop")[1]


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete", "head"])
def test_a_wrong_method_is_405_json_with_allow(csrf_client, path, token, method):
    response = getattr(csrf_client, method)(path, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response["Content-Type"] == "application/json"
    if method != "head":
        assert response.json() == {"error": "method_not_allowed", "detail": "Only POST is allowed."}


def test_post_with_a_token_works_with_the_csrf_check_on(csrf_client, path, token, queued):
    CustomerFactory(external_id="CRM-1")
    response = csrf_client.post(
        path, {"customer_id": "CRM-1", "idempotency_key": "k1"}, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )  # fmt: skip
    assert response.status_code == 201


def test_a_session_cannot_post_without_a_token(csrf_client, path, queued):
    CustomerFactory(external_id="CRM-1")
    csrf_client.force_login(cx_manager())
    response = csrf_client.post(
        path, {"customer_id": "CRM-1", "idempotency_key": "k1"}, content_type="application/json"
    )
    assert response.status_code == 401
    assert not Invitation.objects.exists()

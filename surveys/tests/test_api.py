import json

import pytest
from django.urls import reverse
from django.utils import timezone

from core.models import ApiToken
from customers.tests.factories import CustomerFactory
from cxmetrics.tests.factories import UserFactory, cx_manager
from surveys.models import Invitation
from surveys.tests.factories import InvitationFactory, SurveyFactory, relational_survey

pytestmark = pytest.mark.django_db


@pytest.fixture
def token():
    _token, raw = ApiToken.issue(user=cx_manager(), name="shop")
    return raw


@pytest.fixture
def survey():
    return relational_survey(slug="after-purchase", survey_type="transactional", touchpoint="purchase")


def post(client, slug, body, raw_token=None, **headers):
    if raw_token:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {raw_token}"
    return client.post(
        reverse("surveys-api-invitations-create", args=[slug]),
        data=json.dumps(body),
        content_type="application/json",
        **headers,
    )


def test_creates_one_invitation_and_a_retry_returns_the_same(
    client, survey, token, queued, django_capture_on_commit_callbacks
):
    customer = CustomerFactory(external_id="CRM-1", language="es")
    with django_capture_on_commit_callbacks(execute=True):
        first = post(client, survey.slug, {"customer_id": "CRM-1", "idempotency_key": "order-77"}, token)
    assert first.status_code == 201
    assert first.json()["created"] is True and first.json()["invitation"]["language"] == "es"
    second = post(client, survey.slug, {"customer_id": "CRM-1", "idempotency_key": "order-77"}, token)
    assert second.status_code == 200 and second.json()["created"] is False
    assert second.json()["invitation"]["id"] == first.json()["invitation"]["id"]
    invitation = Invitation.objects.get()
    assert invitation.customer == customer and invitation.channel == "api"
    assert len(queued) == 1


def test_by_email_and_header_key(client, survey, token, queued):
    CustomerFactory(email="ana@example.com")
    response = post(client, survey.slug, {"email": "ANA@example.com"}, token, HTTP_IDEMPOTENCY_KEY="k1")
    assert response.status_code == 201


def test_requires_a_valid_bearer_token(client, survey):
    CustomerFactory(external_id="CRM-1")
    body = {"customer_id": "CRM-1", "idempotency_key": "k"}
    assert post(client, survey.slug, body).status_code == 401
    assert post(client, survey.slug, body, "cxm_forged").status_code == 401
    _t, plain_user_token = ApiToken.issue(user=UserFactory(username="plain"), name="x")
    assert post(client, survey.slug, body, plain_user_token).status_code == 403
    assert not Invitation.objects.exists()


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"customer_id": "CRM-1"}, 400, "idempotency_key_missing"),
        ({"idempotency_key": "k"}, 400, "customer_missing"),
        ({"customer_id": "nobody", "idempotency_key": "k"}, 422, "customer_unknown"),
        ({"customer_id": "CRM-1", "idempotency_key": "k", "language": "fr"}, 400, "language_invalid"),
    ],
)
def test_bad_requests(client, survey, token, body, status, code):
    CustomerFactory(external_id="CRM-1")
    response = post(client, survey.slug, body, token)
    assert (response.status_code, response.json()["error"]) == (status, code)


def test_invalid_json_and_unknown_survey(client, survey, token):
    response = client.post(
        reverse("surveys-api-invitations-create", args=[survey.slug]),
        data="{",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 400
    assert post(client, "nope", {"customer_id": "x", "idempotency_key": "k"}, token).status_code == 404


def test_contact_policy_and_unsubscribe_apply(client, survey, token, queued):
    recent = CustomerFactory(external_id="R")
    InvitationFactory(survey=SurveyFactory(), customer=recent)
    CustomerFactory(external_id="U", unsubscribed_at=timezone.now())
    assert (
        post(client, survey.slug, {"customer_id": "R", "idempotency_key": "a"}, token).json()["error"]
        == "contact_policy"
    )
    response = post(client, survey.slug, {"customer_id": "U", "idempotency_key": "b"}, token)
    assert (response.status_code, response.json()["error"]) == (409, "unsubscribed")


def test_get_is_not_allowed(client, survey, token):
    assert (
        client.get(
            reverse("surveys-api-invitations-create", args=[survey.slug]), HTTP_AUTHORIZATION=f"Bearer {token}"
        ).status_code
        == 405
    )


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ({"customer_id": "CRM-1\u0000", "idempotency_key": "k"}, {}),
        ({"customer_id": "CRM-1", "idempotency_key": "k\u0000"}, {}),
        ({"customer_id": "CRM-1", "email": "a\u0000@example.com", "idempotency_key": "k"}, {}),
        ({"customer_id": "CRM-1", "idempotency_key": "k", "language": "es\u0000"}, {}),
        ({"customer_id": "CRM-1", "idempotency_key": "k", "extra": {"n\u0000": ["x"]}}, {}),
    ],
)
def test_a_nul_in_the_body_is_400_json(client, survey, token, body, headers):
    """PostgreSQL refuses NUL in text: the API says so instead of failing there (a 500)."""
    CustomerFactory(external_id="CRM-1")
    response = post(client, survey.slug, body, token, **headers)
    assert response.status_code == 400
    assert response.json() == {
        "error": "nul_character",
        "detail": "The request contains a NUL character (\\u0000), which is not allowed.",
    }
    assert not Invitation.objects.exists()

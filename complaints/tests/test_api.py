"""POST /api/v1/complaints/: every answer the helpdesk can get, and idempotency by key."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission

from complaints.models import Complaint, IdempotencyKey
from core.models import ApiToken
from cxmetrics.tests.factories import UserFactory, cx_manager
from metrics.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/complaints/"
BODY = {
    "customer_id": "C-1",
    "received_at": "2026-01-05T10:30:00+01:00",
    "channel": "phone",
    "category": "billing",
    "summary": "Charged twice",
    "external_id": "T-100",
}


def headers(user, key: str | None = "key-1") -> dict:
    _, raw = ApiToken.issue(user=user, name="helpdesk")
    found = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    if key is not None:
        found["HTTP_IDEMPOTENCY_KEY"] = key
    return found


def post(client, body, auth: dict):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(URL, data=data, content_type="application/json", **auth)


@pytest.fixture
def manager():
    return cx_manager()


@pytest.fixture
def known():
    return CustomerFactory(external_id="C-1")


def test_201_stores_the_complaint_and_answers_it(client, manager, known):
    response = post(client, BODY, headers(manager))
    assert response.status_code == 201
    body = response.json()
    assert body["kind"] == "complaint" and body["channel"] == "phone" and body["category"] == "billing"
    assert body["customer"] == {"crm_id": "C-1", "connection": known.connection.name}
    assert body["received_at"] == "2026-01-05T09:30:00+00:00"
    complaint = Complaint.objects.get(pk=body["id"])
    assert (complaint.customer, complaint.source, complaint.external_id) == (known, "api", "T-100")


def test_the_same_key_and_body_get_the_stored_answer(client, manager, known):
    auth = headers(manager)
    first = post(client, BODY, auth)
    again = post(client, dict(reversed(list(BODY.items()))), auth)  # the same JSON, keys in another order
    assert again.status_code == 201 and again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Complaint.objects.count() == 1


def test_the_same_key_with_another_body_is_409(client, manager, known):
    auth = headers(manager)
    post(client, BODY, auth)
    response = post(client, {**BODY, "summary": "Charged three times"}, auth)
    assert response.status_code == 409
    assert "different body" in response.json()["error"]
    assert Complaint.objects.count() == 1


def test_a_new_key_for_an_external_id_pushed_before_is_200_with_that_complaint(client, manager, known):
    first = post(client, BODY, headers(manager, "key-1")).json()
    response = post(client, BODY, headers(manager, "key-2"))
    assert response.status_code == 200 and response.json() == first
    assert Complaint.objects.count() == 1 and IdempotencyKey.objects.count() == 2


def test_422_lists_each_missing_or_wrong_field(client, manager):
    response = post(client, {"channel": "fax", "category": "weather", "kind": "praise"}, headers(manager))
    assert response.status_code == 422
    fields = response.json()["fields"]
    assert fields["received_at"] == "This field is required."
    assert "'fax' is not one of phone, email" in fields["channel"]
    assert "'weather' is not an active category" in fields["category"]
    assert "'praise' is not one of complaint, inquiry" in fields["kind"]
    assert not IdempotencyKey.objects.exists()  # the client may fix the body and retry with the same key


def test_422_for_an_unknown_customer_crm_id(client, manager):
    response = post(client, {**BODY, "customer_id": "NOPE"}, headers(manager))
    assert response.status_code == 422
    assert response.json()["fields"] == {"customer_id": "No customer with CRM id 'NOPE'."}


def test_422_for_resolved_before_received_and_implausible_dates(client, manager, known):
    body = {**BODY, "resolved_at": "2026-01-04T10:00:00+01:00"}
    assert post(client, body, headers(manager, "a")).json()["fields"] == {"resolved_at": "is before received_at"}
    body = {**BODY, "received_at": "1901-01-01T00:00:00"}
    assert "before 1970-01-01" in post(client, body, headers(manager, "b")).json()["fields"]["received_at"]
    body = {**BODY, "received_at": "yesterday"}
    assert "not an ISO 8601" in post(client, body, headers(manager, "c")).json()["fields"]["received_at"]


def test_400_for_bad_json_and_a_body_that_is_not_an_object(client, manager):
    response = post(client, '{"channel": ', headers(manager))
    assert response.status_code == 400 and response.json()["error"].startswith("The body is not valid JSON")
    response = post(client, "[1, 2]", headers(manager, "other"))
    assert response.status_code == 400 and response.json()["error"] == "The body must be a JSON object."


def test_400_without_an_idempotency_key(client, manager, known):
    response = post(client, BODY, headers(manager, key=None))
    assert response.status_code == 400 and "Idempotency-Key" in response.json()["error"]
    assert not Complaint.objects.exists()


def test_401_without_a_token_even_with_a_session(client, manager, known):
    client.force_login(manager)
    response = post(client, BODY, {"HTTP_IDEMPOTENCY_KEY": "k"})
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    assert post(client, BODY, {"HTTP_AUTHORIZATION": "Bearer cxm_nope", "HTTP_IDEMPOTENCY_KEY": "k"}).status_code == 401


def test_403_for_a_user_who_may_not_log_complaints_and_201_with_the_permission(client, known):
    agent = UserFactory(username="agent")
    assert post(client, BODY, headers(agent)).status_code == 403
    agent.user_permissions.add(Permission.objects.get(codename="add_complaint"))
    agent = type(agent).objects.get(pk=agent.pk)  # permissions are cached on the instance
    assert post(client, BODY, headers(agent, "k2")).status_code == 201


def test_405_for_get(client, manager):
    response = client.get(URL, **headers(manager))
    assert response.status_code == 405 and response["Allow"] == "POST"


def test_keys_are_per_user(client, manager, known):
    post(client, BODY, headers(manager, "shared"))
    other = cx_manager("other")
    response = post(client, {**BODY, "external_id": "T-200"}, headers(other, "shared"))
    assert response.status_code == 201 and Complaint.objects.count() == 2

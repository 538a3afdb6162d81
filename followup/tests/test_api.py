"""/api/v1/cases/: listing with a cursor, creating, changing, and each error code."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from core.models import ApiToken
from followup import services
from followup.models import Case
from followup.tests.factories import UserFactory, case_handler, cx_manager
from metrics.tests.factories import ConnectionFactory, CustomerFactory, ResponseFactory

pytestmark = pytest.mark.django_db
LIST = "/api/v1/cases/"


def _auth(user) -> dict:
    _token, raw = ApiToken.issue(user=user, name="test")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.fixture
def manager():
    return cx_manager()


def _post(client, auth, body, url=LIST):
    return client.post(
        url, data=json.dumps(body) if not isinstance(body, str) else body, content_type="application/json", **auth
    )


def _patch(client, auth, pk, body):
    return client.patch(f"{LIST}{pk}/", data=json.dumps(body), content_type="application/json", **auth)


def test_url_names():
    assert reverse("followup-api-cases") == LIST


def test_401_without_credentials_and_403_outside_the_groups(client):
    response = client.get(LIST)
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    assert client.get(LIST, HTTP_AUTHORIZATION="Bearer nope").status_code == 401
    assert client.get(LIST, **_auth(UserFactory(username="plain"))).status_code == 403
    assert client.delete(LIST, **_auth(UserFactory(username="plain"))).status_code == 405


def test_list_pages_with_a_cursor(client, manager):
    customer = CustomerFactory(external_id="CRM-1")
    cases = [services.case_open(customer=customer, owner=manager, sla_hours=24) for _ in range(53)]
    auth = _auth(manager)
    first = client.get(LIST, **auth).json()
    assert [c["id"] for c in first["results"]] == [c.pk for c in reversed(cases)][:50]
    second = client.get(first["next"], **auth).json()
    assert [c["id"] for c in second["results"]] == [cases[2].pk, cases[1].pk, cases[0].pk]
    assert second["next"] is None
    assert client.get(LIST + "?cursor=%%%", **auth).status_code == 400
    assert client.get(LIST + "?status=done", **auth).status_code == 400


def test_create_by_crm_id_or_response(client, manager):
    auth = _auth(manager)
    CustomerFactory(external_id="CRM-7", name="Seven")
    response = _post(client, auth, {"customer": {"crm_id": "CRM-7"}, "priority": "high", "sla_hours": 4})
    assert response.status_code == 201
    document = response.json()
    assert document["customer"]["name"] == "Seven" and document["owner"] == "manager" and document["priority"] == "high"
    answer = ResponseFactory(nps=1)
    response = _post(client, auth, {"response": answer.pk})
    assert response.status_code == 201 and response.json()["response"] == answer.pk


def test_create_errors(client, manager):
    auth = _auth(manager)
    CustomerFactory(external_id="CRM-7")
    assert _post(client, auth, "not json").status_code == 400
    assert _post(client, auth, {"customer": {"crm_id": "missing"}}).status_code == 404
    assert _post(client, auth, {"response": 999999}).status_code == 404
    assert _post(client, auth, {}).status_code == 422
    assert _post(client, auth, {"customer": {"crm_id": "CRM-7"}, "priority": "urgent"}).status_code == 422
    assert _post(client, auth, {"customer": {"crm_id": "CRM-7"}, "sla_hours": 0}).status_code == 422
    assert _post(client, auth, {"customer": {"crm_id": "CRM-7"}, "owner": "ghost"}).status_code == 422
    assert _post(client, auth, {"response": ResponseFactory(customer=None, nps=1).pk}).status_code == 422
    CustomerFactory(external_id="CRM-7", connection=ConnectionFactory(name="hubspot"))
    conflict = _post(client, auth, {"customer": {"crm_id": "CRM-7"}})
    assert conflict.status_code == 409 and "hubspot" in conflict.json()["connections"]


def test_patch_status_close_and_conflicts(client, manager):
    auth = _auth(manager)
    case = services.case_open(customer=CustomerFactory(), owner=manager, sla_hours=24)
    assert _patch(client, auth, case.pk, {"status": "in_progress"}).json()["status"] == "in_progress"
    closed = _patch(client, auth, case.pk, {"outcome": "contacted", "note": "Spoke to them"}).json()
    assert closed["status"] == "closed" and closed["first_contact_at"] is not None
    assert _patch(client, auth, case.pk, {"outcome": "contacted"}).status_code == 409
    assert _patch(client, auth, case.pk, {"status": "closed"}).status_code == 422
    assert _patch(client, auth, case.pk, {"outcome": "fixed"}).status_code == 422
    assert _patch(client, auth, case.pk, {"colour": "red"}).status_code == 400
    assert _patch(client, auth, 999999, {"status": "open"}).status_code == 404
    assert Case.objects.get(pk=case.pk).notes.count() == 3  # opened, status, closed


def test_handlers_only_touch_their_own(client, manager):
    handler = case_handler()
    mine = services.case_open(customer=CustomerFactory(external_id="CRM-M"), owner=handler)
    other = services.case_open(customer=CustomerFactory(external_id="CRM-O"), owner=manager)
    auth = _auth(handler)
    assert [c["id"] for c in client.get(LIST, **auth).json()["results"]] == [mine.pk]
    assert _patch(client, auth, other.pk, {"status": "waiting"}).status_code == 404
    assert _patch(client, auth, mine.pk, {"owner": "manager"}).status_code == 403
    assert _post(client, auth, {"customer": {"crm_id": "CRM-O"}}).status_code == 403
    assert _post(client, auth, {"customer": {"crm_id": "CRM-M"}, "owner": "manager"}).status_code == 403
    assert _post(client, auth, {"customer": {"crm_id": "CRM-M"}}).status_code == 201


def test_a_refused_patch_changes_nothing(client, manager):
    auth = _auth(manager)
    case = services.case_open(customer=CustomerFactory(), owner=manager)
    UserFactory(username="pablo")
    assert _patch(client, auth, case.pk, {"owner": "pablo", "status": "closed"}).status_code == 422
    case.refresh_from_db()
    assert case.owner == manager and case.notes.count() == 1

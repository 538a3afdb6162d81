"""A double submit (two tabs, a double click, a retried request) stores one response. Needs PostgreSQL:
SQLite serialises writers, so it cannot show the race."""

import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from surveys.models import Response
from surveys.tests.factories import InvitationFactory, relational_survey, valid_answers


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_double_submit_stores_one_response(postgres_db):
    invitation = InvitationFactory(survey=relational_survey())
    path = reverse("surveys-answer", args=[invitation.token])
    data = valid_answers(invitation.survey)
    barrier = threading.Barrier(4)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def submit():
        try:
            barrier.wait()
            statuses.append(Client().post(path, data).status_code)
        except BaseException as exc:  # surfaced below: an exception in a thread would pass silently
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(statuses) == [200, 200, 200, 302]  # one redirect to thanks, three "already answered"
    assert Response.objects.filter(invitation=invitation).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_api_retries_with_one_idempotency_key_invite_once(postgres_db, monkeypatch):
    import json

    from core.models import ApiToken
    from customers.tests.factories import CustomerFactory
    from cxmetrics.tests.factories import cx_manager
    from surveys import tasks
    from surveys.models import Invitation

    monkeypatch.setattr(tasks.invitations_send_batch_task, "apply_async", lambda *a, **k: None)
    CustomerFactory(external_id="CRM-9")
    survey = relational_survey(slug="after-purchase")
    _token, raw = ApiToken.issue(user=cx_manager(), name="shop")
    path = reverse("surveys-api-invitations-create", args=[survey.slug])
    barrier = threading.Barrier(4)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def call():
        try:
            barrier.wait()
            response = Client().post(
                path,
                json.dumps({"customer_id": "CRM-9", "idempotency_key": "order-1"}),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {raw}",
            )
            statuses.append(response.status_code)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(statuses) == [200, 200, 200, 201]
    assert Invitation.objects.filter(survey=survey).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_score_clicks_and_a_submit_keep_one_response(postgres_db):
    """Two score posts (a double load of the email's link) racing the whole form: one response, complete."""
    from surveys.models import Question

    invitation = InvitationFactory(survey=relational_survey())
    path = reverse("surveys-answer", args=[invitation.token])
    nps = invitation.survey.questions.get(kind=Question.Kind.NPS)
    posts = [{f"q{nps.pk}": "9", "score_only": "1"}, {f"q{nps.pk}": "9", "score_only": "1"}]
    posts.append(valid_answers(invitation.survey, nps=7))
    barrier = threading.Barrier(len(posts))
    statuses: list[int] = []
    errors: list[BaseException] = []

    def send(data):
        try:
            barrier.wait()
            statuses.append(Client().post(path, data).status_code)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(data,)) for data in posts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert 302 in statuses and all(status in {204, 302, 409} for status in statuses), statuses
    [response] = Response.objects.filter(invitation=invitation)
    # Whatever the order, the whole form wins: a click before it is overwritten, a click after it refused.
    assert not response.partial and response.comment == "Great service" and response.nps == 7

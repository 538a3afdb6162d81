"""Each rule of access: anonymous users sign in; users outside both groups get 403; case handlers see the
cases assigned to them and those customers' pages only; CX managers see everything; only admins
configure alert rules."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from followup import services
from followup.models import Case
from followup.tests.factories import UserFactory, case_handler, cx_manager
from metrics.tests.factories import CustomerFactory, ResponseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    handler, other_handler = case_handler("hana"), case_handler("hugo")
    mine, theirs = CustomerFactory(name="Mine Co"), CustomerFactory(name="Theirs Co")
    return {
        "handler": handler,
        "mine": mine,
        "theirs": theirs,
        "my_case": services.case_open(customer=mine, owner=handler, sla_hours=24),
        "their_case": services.case_open(customer=theirs, owner=other_handler, sla_hours=24),
    }


def test_anonymous_users_are_sent_to_sign_in(client, world):
    for url in (reverse("followup-cases"), reverse("followup-case", args=[world["my_case"].pk])):
        response = client.get(url)
        assert response.status_code == 302 and reverse("login") in response["Location"]


def test_users_outside_the_groups_get_403(client, world):
    client.force_login(UserFactory(username="nobody"))
    assert client.get(reverse("followup-cases")).status_code == 403
    assert client.get(reverse("followup-case", args=[world["my_case"].pk])).status_code == 403
    assert client.get(reverse("dashboards-customer", args=[world["mine"].pk])).status_code == 403


def test_case_handlers_see_their_cases_only(client, world):
    client.force_login(world["handler"])
    page = client.get(reverse("followup-cases") + "?view=all").content.decode()
    assert f'data-case-id="{world["my_case"].pk}"' in page
    assert f'data-case-id="{world["their_case"].pk}"' not in page
    page = client.get(reverse("followup-cases") + "?view=team").content.decode()
    assert f'data-case-id="{world["their_case"].pk}"' not in page
    assert client.get(reverse("followup-case", args=[world["my_case"].pk])).status_code == 200
    assert client.get(reverse("followup-case", args=[world["their_case"].pk])).status_code == 404


def test_case_handlers_see_the_pages_of_their_cases_customers_only(client, world):
    client.force_login(world["handler"])
    assert client.get(reverse("dashboards-customer", args=[world["mine"].pk])).status_code == 200
    assert client.get(reverse("dashboards-customer", args=[world["theirs"].pk])).status_code == 403
    # The home page sends them to their cases; every dashboard stays closed.
    assert client.get(reverse("dashboards-overview"))["Location"] == reverse("followup-cases")
    assert client.get(reverse("dashboards-surveys")).status_code == 403
    assert client.get(reverse("dashboards-responses")).status_code == 403
    new = reverse("followup-case-new") + f"?customer={world['theirs'].pk}"
    assert client.get(new).status_code == 403


def test_case_handlers_cannot_reassign(client, world):
    client.force_login(world["handler"])
    response = client.post(
        reverse("followup-case", args=[world["my_case"].pk]), {"action": "assign", "owner": world["handler"].pk}
    )
    assert response.status_code == 400


def test_cx_managers_see_everything(client, world):
    client.force_login(cx_manager())
    page = client.get(reverse("followup-cases") + "?view=team").content.decode()
    assert f'data-case-id="{world["my_case"].pk}"' in page and f'data-case-id="{world["their_case"].pk}"' in page
    assert client.get(reverse("followup-case", args=[world["their_case"].pk])).status_code == 200
    assert client.get(reverse("dashboards-customer", args=[world["theirs"].pk])).status_code == 200


def test_only_admins_configure_alert_rules(client):
    url = reverse("admin:followup_alertrule_add")
    client.force_login(cx_manager())
    assert client.get(url).status_code == 302  # not staff: the admin sends them to its login
    admin = User.objects.create_superuser("root", "root@example.com", "pw-not-used-123")
    client.force_login(admin)
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "name": "Nothing",
            "owner": admin.pk,
            "sla_hours": 24,
            "priority": "normal",
            "open_case": "on",
            "active": "on",
        },
    )
    assert response.status_code == 200 and "Set at least one score limit" in response.content.decode()
    response = client.post(
        url,
        {
            "name": "Detractors",
            "owner": admin.pk,
            "sla_hours": 24,
            "priority": "normal",
            "open_case": "on",
            "active": "on",
            "nps_at_most": 6,
        },
    )
    assert response.status_code == 302


def test_open_a_case_from_an_answer_and_work_it(client):
    manager = cx_manager()
    customer = CustomerFactory(name="Gamma", email="g@gamma.example")
    answer = ResponseFactory(customer=customer, nps=2, comment="Never again")
    client.force_login(manager)
    form = client.get(reverse("followup-case-new") + f"?response={answer.pk}")
    assert "Never again" in form.content.decode()
    response = client.post(
        reverse("followup-case-new"),
        {"response": answer.pk, "owner": manager.pk, "priority": "high", "sla_hours": 8, "note": "Call today"},
    )
    case = Case.objects.get()
    assert response["Location"] == reverse("followup-case", args=[case.pk])
    assert (case.response, case.owner, case.priority) == (answer, manager, "high")
    url = reverse("followup-case", args=[case.pk])
    assert client.post(url, {"action": "email", "message": "Sorry"}).status_code == 302
    assert client.post(url, {"action": "close", "outcome": "contacted"}).status_code == 302
    case.refresh_from_db()
    assert (case.status, case.outcome) == ("closed", "contacted")
    page = client.get(url).content.decode()
    # The request queues the email (a worker sends it).
    assert 'data-note-kind="email_queued"' in page and 'data-note-kind="closed"' in page
    assert client.post(url, {"action": "close", "outcome": "bogus"}).status_code == 400


def test_cases_list_marks_overdue_and_sorts_by_value(client):
    from datetime import timedelta

    from django.utils import timezone

    manager = cx_manager()
    client.force_login(manager)
    cheap, rich = CustomerFactory(value=10), CustomerFactory(value=9000)
    late = services.case_open(customer=cheap, owner=manager, sla_hours=1, now=timezone.now() - timedelta(hours=2))
    fine = services.case_open(customer=rich, owner=manager, sla_hours=48)
    page = client.get(reverse("followup-cases") + "?view=mine&sort=-value").content.decode()
    assert page.index(f'data-case-id="{fine.pk}"') < page.index(f'data-case-id="{late.pk}"')
    assert page.count("data-overdue") == 1
    overdue = client.get(reverse("followup-cases") + "?view=overdue").content.decode()
    assert f'data-case-id="{late.pk}"' in overdue and f'data-case-id="{fine.pk}"' not in overdue


def test_refused_email_is_shown_and_logged(client):
    from django.core import mail
    from django.utils import timezone

    manager = cx_manager()
    client.force_login(manager)
    customer = CustomerFactory(email="gone@example.com", unsubscribed_at=timezone.now())
    case = services.case_open(customer=customer, owner=manager)
    response = client.post(reverse("followup-case", args=[case.pk]), {"action": "email", "message": "Hi"})
    assert response.status_code == 400
    assert "unsubscribed" in response.content.decode()
    assert mail.outbox == [] and case.notes.filter(kind="email_blocked").count() == 1

"""A rule that routes to the customer's account owner (Customer.account_owner_email, from the CRM): the case
and the owner email go to the active user with that email, else to the rule's owner; the timeline says which."""

from __future__ import annotations

import pytest
from django.core import mail

from followup import services
from followup.models import AlertFiring, Case, CaseNote
from followup.tests.factories import UserFactory
from metrics.tests.factories import CustomerFactory, ResponseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rule_owner():
    return UserFactory(username="olga", email="olga@example.com")


@pytest.fixture
def rule(rule_owner):
    return services.alert_rule_create(
        name="Detractors", owner=rule_owner, nps_at_most=6, email_owner=True, to_account_owner=True
    )


@pytest.fixture
def sweep():
    """The sweep, then the owner emails it queued, sent as their task would."""

    def run():
        services.alerts_sweep()
        for firing_id in AlertFiring.objects.filter(owner_email="queued").values_list("pk", flat=True):
            services.alert_owner_email_send(firing_id=firing_id)

    return run


def _opened_note(case: Case) -> str:
    return case.notes.get(kind=CaseNote.Kind.OPENED).text


def test_the_case_and_email_go_to_the_account_owner_matched_case_insensitively(rule, rule_owner, sweep):
    marta = UserFactory(username="marta", email="Marta.Gil@Example.com")
    UserFactory(username="marta-old", email="marta.gil@example.com", is_active=False)
    response = ResponseFactory(nps=2, customer=CustomerFactory(account_owner_email="marta.gil@example.com"))
    sweep()
    case = Case.objects.get(response=response)
    assert case.owner == marta
    assert AlertFiring.objects.get().owner == marta
    assert "Assigned to the customer's account owner, marta." in _opened_note(case)
    assert [m.to for m in mail.outbox] == [["Marta.Gil@Example.com"]]


def test_no_account_owner_falls_back_to_the_rules_owner(rule, rule_owner, sweep):
    response = ResponseFactory(nps=2, customer=CustomerFactory(account_owner_email=""))
    sweep()
    case = Case.objects.get(response=response)
    assert case.owner == rule_owner
    assert "no account owner in the CRM: assigned to the rule's owner, olga." in _opened_note(case)
    assert [m.to for m in mail.outbox] == [["olga@example.com"]]


def test_an_account_owner_who_is_no_active_user_falls_back_to_the_rules_owner(rule, rule_owner, sweep):
    UserFactory(username="gone", email="gone@example.com", is_active=False)
    response = ResponseFactory(nps=2, customer=CustomerFactory(account_owner_email="gone@example.com"))
    sweep()
    case = Case.objects.get(response=response)
    assert case.owner == rule_owner
    assert "No active user has the account owner's email gone@example.com" in _opened_note(case)


def test_a_rule_not_routing_ignores_the_account_owner(rule_owner, sweep):
    services.alert_rule_create(name="Plain", owner=rule_owner, nps_at_most=6)
    UserFactory(username="marta", email="marta@example.com")
    response = ResponseFactory(nps=2, customer=CustomerFactory(account_owner_email="marta@example.com"))
    sweep()
    case = Case.objects.get(response=response)
    assert case.owner == rule_owner
    assert _opened_note(case) == "Opened by the alert rule “Plain”."


def test_the_hourly_cap_counts_per_routed_owner(rule, rule_owner, sweep):
    from core.definitions import ALERT_OWNER_EMAILS_PER_HOUR

    UserFactory(username="marta", email="marta@example.com")
    for _ in range(ALERT_OWNER_EMAILS_PER_HOUR):
        ResponseFactory(nps=2, customer=CustomerFactory(account_owner_email="marta@example.com"))
    ResponseFactory(nps=2, customer=CustomerFactory(account_owner_email="marta@example.com"))
    ResponseFactory(nps=2, customer=CustomerFactory(account_owner_email=""))
    sweep()
    # Marta's emails fill her cap and her extra alert waits for her summary; the rule's owner, under
    # their own cap, gets theirs alone.
    assert sorted(m.to[0] for m in mail.outbox) == ["marta@example.com"] * ALERT_OWNER_EMAILS_PER_HOUR + [
        "olga@example.com"
    ]
    assert services.alert_summaries_send() == 1
    assert mail.outbox[-1].to == ["marta@example.com"]


def test_the_admin_form_explains_the_routing(admin_client):
    page = admin_client.get("/admin/followup/alertrule/add/").content.decode()
    assert "route to the customer" in page.lower()
    assert "When the customer has none, or no active user has that email" in page.replace("&#x27;", "'")

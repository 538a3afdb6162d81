"""End to end in Chromium: a detractor answers through their personal link, the alert sweep opens a case
for the rule's owner and posts the alert, signed, to a webhook receiver on this machine; the owner finds
the case under Cases, emails the customer and closes it as contacted; the follow-up figures count it."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time

import pytest
from django.core import mail

from core.days import local_day
from customers.selectors import customers_targeted
from customers.tests.factories import CustomerFactory, SegmentFactory
from followup.models import Case, CaseEmail
from followup.services import alert_rule_create, alerts_sweep
from followup.tests.factories import case_handler
from metrics.filters import MetricFilters
from metrics.loop import case_figures, loop_closure_rate
from surveys.models import Response
from surveys.services import invitation_send, invitations_create
from surveys.tests.factories import relational_survey
from webhooks.services import webhook_create
from webhooks.signing import signature_valid
from webhooks.tests.receiver import Receiver


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


@pytest.fixture
def celery_eager(monkeypatch):
    """Tasks run in the process that queues them (CELERY_TASK_ALWAYS_EAGER): the webhook delivery after the
    sweep, the follow-up email after the request that queues it."""
    from cxmetrics.celery import app

    monkeypatch.setattr(app.conf, "task_always_eager", True)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_detractor_is_followed_up_and_the_loop_closed(live_server, page, settings, receiver, celery_eager):
    settings.SITE_URL = live_server.url
    settings.WEBHOOK_ALLOW_LOCAL_HTTP = True
    owner = case_handler("olga")
    webhook, secret = webhook_create(name="Team chat", url=receiver.url)
    alert_rule_create(name="Detractors", owner=owner, nps_at_most=6, sla_hours=24, post_webhook=True, webhook=webhook)
    gold = SegmentFactory(name="Gold")
    customer = CustomerFactory(segment=gold, language="en", name="Delta Ltd", email="dora@delta.example")
    survey = relational_survey()
    plan = invitations_create(survey=survey, customers=customers_targeted(segment=gold), queue=False)
    invitation_send(invitation_id=plan.invitation_ids[0])
    [invitation_email] = mail.outbox
    [link] = re.findall(r'href="([^"]+\?nps=2)"', invitation_email.alternatives[0][0])

    # The customer answers 2 from the email's score link, with a comment.
    page.goto(link)
    for group in page.locator("fieldset").all():
        if not group.locator("input:checked").count():
            group.locator("label").first.click()
    page.locator("textarea").first.fill("Nobody called back")
    page.get_by_role("button").last.click()
    page.wait_for_url(re.compile(r"/thanks/"))
    answer = Response.objects.get()
    assert answer.nps == 2 and not Case.objects.exists()  # answering does not evaluate the rules

    alerts_sweep()  # what the beat task runs
    case = Case.objects.get()
    assert (case.customer, case.response, case.owner) == (customer, answer, owner)

    # The webhook receiver got the alert once, signed with the webhook's secret.
    [post] = receiver.requests
    headers = {k.lower(): v for k, v in post.headers.items()}
    assert headers["content-type"].startswith("application/json")
    assert headers["x-cxmetrics-event"] == "alert.fired"
    document = json.loads(post.body)
    assert document["event"] == "alert.fired" and str(document["id"]) == headers["x-cxmetrics-delivery"]
    assert document["text"].startswith("Alert “Detractors”: Delta Ltd answered NPS 2,")
    data = document["data"]
    assert data["rule"] == {"id": case.opened_by_rule_id, "name": "Detractors"}
    assert data["customer"] == {"crm_id": customer.external_id, "name": "Delta Ltd"}
    assert (data["response"]["id"], data["response"]["nps"]) == (answer.pk, 2)
    assert data["response"]["comment"] == "Nobody called back"
    assert data["case"] == {"id": case.pk, "url": f"{live_server.url}/cases/{case.pk}/"}
    # The receiver's check (docs/webhooks.md): HMAC-SHA256 of "<timestamp>.<raw body>" with the secret.
    timestamp, signed = headers["x-cxmetrics-timestamp"], headers["x-cxmetrics-signature"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + post.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(signed, f"sha256={expected}")
    assert signature_valid(secret=secret, timestamp=timestamp, body=post.body, header=signed, now=time.time())
    assert not signature_valid(secret="whsec_other", timestamp=timestamp, body=post.body, header=signed,
                               now=time.time())  # fmt: skip

    # The owner signs in, finds the case under Cases (mine), emails the customer and closes it.
    page.goto(f"{live_server.url}/login/?next=/cases/")
    page.get_by_label("Username").fill("olga")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.locator("main").get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/cases/")
    row = page.locator(f'[data-case-id="{case.pk}"]')
    assert "Delta Ltd" in row.inner_text()
    row.get_by_role("link", name=str(case.pk)).click()
    page.wait_for_url(f"{live_server.url}/cases/{case.pk}/")
    assert "Nobody called back" in page.locator("[data-case-response]").inner_text()

    page.locator('[data-form="email"] textarea').fill("I will call you tomorrow.")
    page.locator('[data-form="email"]').get_by_role("button", name="Send email").click()
    page.wait_for_url(f"{live_server.url}/cases/{case.pk}/")
    # The request queued the email and the (eager) worker sent it: both are on the timeline.
    assert page.locator('[data-note-kind="email_queued"]').count() == 1
    assert page.locator('[data-note-kind="email"]').count() == 1
    assert CaseEmail.objects.get(case=case).status == CaseEmail.Status.SENT
    follow_up = mail.outbox[-1]
    assert follow_up.to == ["dora@delta.example"] and "I will call you tomorrow." in follow_up.body

    page.locator('[data-form="close"] select').select_option("contacted")
    page.locator('[data-form="close"]').get_by_role("button", name="Close case").click()
    page.wait_for_url(f"{live_server.url}/cases/{case.pk}/")
    assert "contacted" in page.locator("[data-case-status]").inner_text()

    # The customer's page, which the handler may open because the case is theirs, lists the case.
    page.locator("[data-customer-link]").first.click()
    assert page.locator("[data-customer-cases]").inner_text().startswith(f"#{case.pk}")

    day = local_day(answer.submitted_at)
    period = MetricFilters(start=day, end=day)
    assert case_figures(filters=period).closed == 1
    closure = loop_closure_rate(filters=period)
    assert (closure.detractor_answers, closure.closed_contacted, closure.rate) == (1, 1, 100.0)

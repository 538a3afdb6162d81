"""The stored-script probe of docs/security.md, kept as a test: script payloads stored where users type
(a segment, a customer's name, a lost reason, a comment, a survey's name, an attribute) are rendered in a
real Chromium on every dashboard page and the admin lists, and none of them runs."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.models import Customer, Event
from cxmetrics.demo import demo_users_ensure
from dashboards.tests.test_browser_dashboards import sign_in
from metrics.tests.factories import (
    AttributeScoreFactory,
    CustomerFactory,
    InvitationFactory,
    ResponseFactory,
    SegmentFactory,
    SurveyFactory,
    event,
)


def payload(n: int) -> str:
    return f'"><img src=x onerror="window.__xss={n}"><script>window.__xss={n}</script>'


def hostile_data() -> None:
    now = timezone.now()
    segment = SegmentFactory(name=payload(1)[:80], rank=3)
    survey = SurveyFactory(slug="probe", name=payload(2)[:100])
    for i in range(40):
        customer = CustomerFactory(
            name=payload(3), segment=segment, value=Decimal(1000 + i), acquired_at=now - timedelta(days=400)
        )
        event(Event.Type.NEW, customer, customer.acquired_at)
        when = now - timedelta(days=1 + i % 20)
        response = ResponseFactory(
            survey=survey,
            invitation=InvitationFactory(survey=survey, customer=customer, sent_at=when - timedelta(hours=1)),
            customer=customer,
            submitted_at=when,
            nps=i % 11,
            csat=1 + i % 5,
            comment=payload(4),
        )
        AttributeScoreFactory(response=response, attribute=payload(5)[:80], score=1 + i % 5)
        if i < 6:
            Customer.objects.filter(pk=customer.pk).update(status=Customer.Status.LOST, lost_at=when)
            event(Event.Type.LOST, customer, when, reason=payload(6))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_stored_script_payloads_never_run(live_server, page):
    demo_users_ensure()
    hostile_data()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, live_server.url, "admin", "admin-demo-2026")
    paths = ["/", "/surveys/", "/customers/", "/combined/", "/surveys/?survey=probe"]
    paths += [f"/admin/{model}/" for model in ("customers/customer", "customers/event", "customers/segment",
                                                 "surveys/survey", "surveys/response", "surveys/invitation")]  # fmt: skip
    for path in paths:
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("load")
        if not path.startswith("/admin/"):
            page.wait_for_selector(".chart .plot-container", state="attached")
            page.locator(".chart .main-svg").first.hover()
        assert page.evaluate("window.__xss") is None, path
        assert page.locator("img[src=x]").count() == 0, path
    assert not dialogs

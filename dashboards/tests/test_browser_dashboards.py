"""End to end in a real Chromium: a CX manager signs in, every dashboard page draws its Plotly
charts, and choosing a segment in the filter bar changes a KPI."""

from __future__ import annotations

import itertools
import random
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.models import Customer, Event
from cxmetrics.demo import demo_users_ensure
from metrics.tests.factories import (
    AttributeScoreFactory,
    CustomerFactory,
    InvitationFactory,
    ResponseFactory,
    SegmentFactory,
    SurveyFactory,
    event,
)

PAGES = [("/", "Overview"), ("/surveys/", "Surveys"), ("/customers/", "Customer base"), ("/combined/", "Combined"),
         ("/follow-up/", "Follow-up")]  # fmt: skip


def recent_data(seed: int = 7) -> None:
    """Two segments, 80 customers, 60 days of CRM events and responses, built through the ORM so the
    timestamps are stored as Django stores them on either database."""
    rng = random.Random(seed)
    now = timezone.now()
    gold, silver = SegmentFactory(name="Gold", rank=2), SegmentFactory(name="Silver", rank=1)
    survey = SurveyFactory(slug="relationship", name="Relationship survey")
    customers = []
    for i in range(80):
        segment = gold if i % 3 == 0 else silver
        customer = CustomerFactory(
            segment=segment, value=Decimal(rng.randint(1, 90) * 1000), acquired_at=now - timedelta(days=400 + i)
        )
        event(Event.Type.NEW, customer, customer.acquired_at)
        customers.append(customer)
    for i, customer in enumerate(customers[:12]):
        when = now - timedelta(days=5 + 4 * i)
        Customer.objects.filter(pk=customer.pk).update(status=Customer.Status.LOST, lost_at=when)
        event(Event.Type.LOST, customer, when, reason=rng.choice(["Price", "Service quality"]))
    for i in range(10):
        newcomer = CustomerFactory(segment=silver, acquired_at=now - timedelta(days=3 + 5 * i))
        event(Event.Type.NEW, newcomer, newcomer.acquired_at)
    for customer in customers[20:26]:
        event(
            Event.Type.SEGMENT_MOVE,
            customer,
            now - timedelta(days=20),
            from_segment=customer.segment,
            to_segment=gold if customer.segment == silver else silver,
        )
    for i, customer in enumerate(customers[30:36]):
        event(
            Event.Type.REFERRAL,
            CustomerFactory(segment=None, acquired_at=None, status=Customer.Status.PROSPECT),
            now - timedelta(days=10 + i),
            referrer=customer,
            segment=customer.segment,
        )
    for i, customer in enumerate(customers[12:]):
        when = now - timedelta(days=1 + (i % 55), hours=i % 7)
        invitation = InvitationFactory(survey=survey, customer=customer, sent_at=when - timedelta(hours=2))
        nps = rng.choice([10, 10, 9, 9, 9, 8, 8, 7, 6, 4, 2]) if customer.segment == gold else rng.randint(0, 10)
        response = ResponseFactory(
            survey=survey,
            invitation=invitation,
            customer=customer,
            submitted_at=when,
            nps=nps,
            csat=rng.randint(2, 5),
            ces=rng.randint(2, 7),
            overall=rng.randint(1, 5),
            likelihood_switch=rng.randint(0, 10),
            likelihood_repurchase=rng.randint(0, 10),
            comment=rng.choice(["Great service.", "Too slow.", ""]),
        )
        for attribute in ("delivery speed", "value for money"):
            AttributeScoreFactory(response=response, attribute=attribute, score=rng.randint(1, 5))


def sign_in(page, base_url: str, username: str = "manager", password: str = "manager-demo-2026") -> None:
    """Through the login form, as the demo user (demo_users_ensure) given."""
    page.goto(f"{base_url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.locator("main").get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_cx_manager_sees_every_page_drawn_and_filters_it(live_server, page):
    demo_users_ensure()
    recent_data()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, live_server.url)

    for path, heading in PAGES:
        page.goto(f"{live_server.url}{path}")
        assert page.get_by_role("heading", name=heading, level=1).is_visible()
        page.wait_for_selector(".chart .plot-container", state="attached")
        drawn = page.locator(".chart .plot-container").count()
        assert drawn >= 1, path
        assert page.locator(".chart .main-svg").first.is_visible(), path
        # Plotly drew real data: at least one trace group in the first full-size chart.
        assert page.locator(".chart-card .chart .plot-container .trace, .chart-card .chart .sankey").count() > 0, path
        assert page.get_by_role("link", name="Download CSV").first.is_visible()
    assert not errors, errors

    page.goto(f"{live_server.url}/")
    customers = page.locator('[data-kpi="customers"] [data-kpi-value]')
    before = customers.inner_text()
    page.select_option("#filter-segment", label="Gold")
    page.locator("#filter-form").get_by_role("button", name="Apply").click()
    page.wait_for_url("**segment=Gold**")
    after = page.locator('[data-kpi="customers"] [data-kpi-value]').inner_text()
    assert after != before
    assert int(after.replace(",", "")) < int(before.replace(",", ""))
    # The nav keeps the filter: the surveys page opens on the same segment.
    page.locator("nav").get_by_role("link", name="Surveys").click()
    page.wait_for_url("**/surveys/?**segment=Gold**")
    assert page.locator("#filter-segment").input_value() == "Gold"
    page.wait_for_selector(".chart .plot-container", state="attached")
    assert page.locator(".chart .main-svg").first.is_visible()


PHONE = {"width": 390, "height": 844}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_on_a_phone_charts_keep_their_titles_tables_their_figures_and_small_samples_no_points(live_server, browser):
    demo_users_ensure()
    recent_data()
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    sign_in(page, live_server.url)
    today = timezone.localdate()
    # Weekly buckets of the last 60 days: about nine answers a week, fewer than the 30 a point needs.
    query = f"start={(today - timedelta(days=59)).isoformat()}&end={today.isoformat()}&granularity=week"
    for path, _heading in PAGES:
        page.goto(f"{live_server.url}{path}?{query}")
        page.wait_for_selector(".chart .plot-container", state="attached")
        for chart in page.locator(".chart-card .chart").all():
            box = chart.bounding_box()
            for title in chart.locator(".g-ytitle, .g-xtitle").all():
                inner = title.bounding_box()
                if inner:  # inside the chart's box: not clipped at the screen's edge
                    fits = inner["x"] >= box["x"] - 1 and inner["x"] + inner["width"] <= box["x"] + box["width"] + 1
                    assert fits, (path, chart.get_attribute("data-chart-id"), title.text_content())
        for table in page.locator("table[data-table]").all():
            last = table.locator("tbody tr").first.locator("td:visible").last
            if last.count():
                right = last.bounding_box()
                assert right["x"] + right["width"] <= PHONE["width"], table.get_attribute("data-table")
    page.goto(f"{live_server.url}/surveys/?{query}")
    page.wait_for_selector(".chart .plot-container", state="attached")
    line = page.evaluate(
        """() => {
            const div = document.querySelector('[data-chart-id="chart-nps_trend-figure"]');
            const trace = div.data.find((t) => t.name === "NPS");
            return {x: trace.x, y: trace.y};
        }"""
    )
    marked = [y for x, y in zip(line["x"], line["y"], strict=True) if x.endswith("†")]
    assert marked and all(y is None for y in marked)  # too few answers: no point, no line through it
    context.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_on_a_spanish_phone_hover_text_speaks_spanish_and_tick_labels_do_not_overlap(live_server, browser):
    from surveys.models import Question
    from surveys.tests.factories import QuestionFactory

    demo_users_ensure()
    recent_data()
    survey = SurveyFactory(slug="labels")
    QuestionFactory(survey=survey, kind=Question.Kind.ATTRIBUTE, attribute="delivery speed",
                    attribute_es="rapidez de entrega")  # fmt: skip
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    sign_in(page, live_server.url)
    context.add_cookies([{"name": "django_language", "value": "es", "url": live_server.url}])
    page.goto(f"{live_server.url}/surveys/?preset=last_90")
    page.wait_for_selector(".chart .plot-container", state="attached")
    card = page.locator('[data-chart-id="chart-attribute_ratings-figure"]')
    card.scroll_into_view_if_needed()
    labels = card.locator(".ytick text").all_text_contents()
    assert "rapidez de entrega" in labels and "delivery speed" not in labels
    label = card.locator(".ytick text", has_text="rapidez de entrega").bounding_box()
    middle = label["y"] + label["height"] / 2
    bars = [b for b in (path.bounding_box() for path in card.locator(".point path").all()) if b]
    bar = next(b for b in bars if b["y"] <= middle <= b["y"] + b["height"])
    page.mouse.move(bar["x"] + bar["width"] / 2, bar["y"] + bar["height"] / 2)
    page.wait_for_timeout(300)
    hover = card.locator(".hoverlayer").text_content()
    assert re.fullmatch(r"rapidez de entrega: \d,\d\d \(n = \d+\)", hover.strip()), hover
    # Tick labels of every chart keep clear of each other (rotated when they would collide).
    for chart in page.locator(".chart-card .chart").all():
        for axis in (".xtick text", ".ytick text"):
            boxes = [b for b in (t.bounding_box() for t in chart.locator(axis).all()) if b and b["width"]]
            for a, b in itertools.pairwise(boxes):
                apart = (a["x"] + a["width"] <= b["x"] + 1 or b["x"] + b["width"] <= a["x"] + 1
                         or a["y"] + a["height"] <= b["y"] + 1 or b["y"] + b["height"] <= a["y"] + 1)  # fmt: skip
                assert apart, (chart.get_attribute("data-chart-id"), axis)
    # Spanish labels are longer: no page is wider than the phone.
    for path, _heading in PAGES:
        page.goto(f"{live_server.url}{path}?preset=last_90")
        page.wait_for_selector(".chart .plot-container", state="attached")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path
    context.close()

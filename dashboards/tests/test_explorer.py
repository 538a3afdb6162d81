"""The responses explorer: the dashboard filters and its own, keyset pages without gaps or repeats,
access, errors, the CSV export and a bounded number of queries."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from django.utils import timezone

from cxmetrics.tests.factories import UserFactory, cx_manager
from dashboards import selectors
from metrics.filters import MetricFilters
from metrics.tests.factories import CustomerFactory, ResponseFactory, SegmentFactory, SurveyFactory, at
from surveys.tests.factories import QuestionFactory

pytestmark = pytest.mark.django_db

URL = "/responses/"
JANUARY = {"start": "2026-01-01", "end": "2026-01-31"}


@pytest.fixture
def manager_client(client):
    client.force_login(cx_manager())
    return client


@pytest.fixture
def data():
    gold, silver = SegmentFactory(name="Gold", rank=3), SegmentFactory(name="Silver", rank=2)
    survey = SurveyFactory(slug="rel", name="rel-2026", title_en="Relationship", title_es="Relación")
    for kind in ("nps", "csat", "ces"):
        QuestionFactory(survey=survey, kind=kind)
    a = CustomerFactory(name="Alpha Ltd", external_id="CRM-A", segment=gold)
    b = CustomerFactory(name="Beta SA", external_id="CRM-B", segment=silver)
    erased = CustomerFactory(name="", email="", external_id="CRM-E", segment=silver, erased_at=timezone.now())
    rows = {
        "r1": dict(customer=a, submitted_at=at("2026-01-03"), nps=10, csat=5, ces=7, comment="Great service"),
        "r2": dict(customer=b, submitted_at=at("2026-01-05"), nps=4, csat=2, ces=2, comment="Too slow delivery"),
        "r3": dict(customer=a, submitted_at=at("2026-01-10"), nps=8, csat=4, comment=""),
        "r4": dict(customer=erased, submitted_at=at("2026-01-12"), nps=6, comment="slow app"),
        "r5": dict(customer=None, segment=None, submitted_at=at("2026-01-15"), csat=3, comment=""),
        "r6": dict(customer=a, submitted_at=at("2025-12-20"), nps=9, comment="before the period"),
    }
    return {name: ResponseFactory(survey=survey, **kwargs) for name, kwargs in rows.items()}


def listed(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-response-id="(\d+)"', response.content.decode())]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["r5", "r4", "r3", "r2", "r1"]),
        ({"segment": "Gold"}, ["r3", "r1"]),
        ({"category": "detractor"}, ["r4", "r2"]),
        ({"category": "promoter"}, ["r1"]),
        ({"nps_min": "7"}, ["r3", "r1"]),
        ({"nps_min": "5", "nps_max": "8"}, ["r4", "r3"]),
        ({"csat_max": "3"}, ["r5", "r2"]),
        ({"ces_min": "5"}, ["r1"]),
        ({"has_comment": "yes"}, ["r4", "r2", "r1"]),
        ({"has_comment": "no"}, ["r5", "r3"]),
        ({"q": "SLOW"}, ["r4", "r2"]),
        ({"segment": "Silver", "q": "slow", "category": "detractor"}, ["r4", "r2"]),
        ({"start": "2025-12-01", "end": "2025-12-31"}, ["r6"]),
    ],
)
def test_every_filter_selects_the_hand_counted_responses(manager_client, data, params, expected):
    response = manager_client.get(URL, {**JANUARY, **params})
    assert response.status_code == 200
    assert listed(response) == [data[name].pk for name in expected]


def test_rows_show_survey_title_customer_link_and_erased_customers(manager_client, data):
    html = manager_client.get(URL, JANUARY).content.decode()
    assert "Relationship" in html and "Alpha Ltd" in html
    assert f'href="{reverse("dashboards-customer", args=[data["r1"].customer_id])}"' in html
    assert "personal data erased" in html
    spanish = manager_client.get(URL, JANUARY, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Relación" in spanish


def test_total_is_shown_when_the_rollups_hold_it(manager_client, data):
    def total(params):
        found = re.search(
            r"data-response-count>(\d+)<", manager_client.get(URL, {**JANUARY, **params}).content.decode()
        )
        return int(found.group(1)) if found else None

    assert total({"category": "detractor"}) == 2
    assert total({"has_comment": "yes"}) == 3
    assert total({"has_comment": "yes", "category": "promoter"}) == 1
    assert total({}) is None  # a count of every raw response is not cheap: no total
    assert total({"q": "slow"}) is None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"nps_min": "11"}, "less than or equal to 10"),
        ({"nps_min": "8", "nps_max": "3"}, "The highest NPS (3) is below the lowest (8)."),
        ({"cursor": "not-a-cursor"}, "This page link is not valid; start again from the first page."),
        ({"category": "fans"}, "Select a valid choice."),
        ({"q": "x" * 101}, "at most 100 characters"),
    ],
)
def test_bad_explorer_parameters_answer_400_with_the_reason(manager_client, data, params, message):
    response = manager_client.get(URL, {**JANUARY, **params})
    assert response.status_code == 400
    assert message in response.content.decode()
    if "cursor" in params:
        assert "<strong>Page</strong>: This page link" in response.content.decode()


def test_a_bad_dashboard_filter_answers_400(manager_client, data):
    response = manager_client.get(URL, {"segment": "Nope"})
    assert response.status_code == 400
    assert "Unknown segment" in response.content.decode()


def test_anonymous_goes_to_login_and_a_non_manager_gets_403(client, data):
    response = client.get(URL)
    assert response.status_code == 302 and "/login" in response["Location"]
    client.force_login(UserFactory(username="agent"))
    assert client.get(URL).status_code == 403
    assert client.get(reverse("dashboards-export-responses")).status_code == 403


@pytest.fixture
def many():
    """130 responses, three at each moment (equal submitted_at), so the page boundaries split ties."""
    segment = SegmentFactory(name="Gold", rank=3)
    customer = CustomerFactory(segment=segment)
    survey = SurveyFactory(slug="rel")
    start = at("2026-01-02")
    return [
        ResponseFactory(survey=survey, customer=customer, submitted_at=start + timedelta(hours=i // 3), nps=i % 11)
        for i in range(130)
    ]


def expected_order(responses) -> list[int]:
    return [r.pk for r in sorted(responses, key=lambda r: (r.submitted_at, r.pk), reverse=True)]


def test_keyset_pages_walk_older_and_back_newer_without_gaps_or_repeats(many):
    qs = selectors.explorer_rows(filters=MetricFilters(start=at("2026-01-01").date(), end=at("2026-01-31").date()))
    pages, cursor = [], None
    while True:
        page = selectors.keyset_page(qs, cursor=cursor)
        pages.append([r.pk for r in page.rows])
        if page.older is None:
            break
        cursor = selectors.Cursor.parse(page.older.token())
    assert [len(p) for p in pages] == [50, 50, 30]
    assert sum(pages, []) == expected_order(many)
    back = selectors.keyset_page(qs, cursor=selectors.keyset_page(qs, cursor=cursor).newer)
    assert [r.pk for r in back.rows] == pages[1]
    first = selectors.keyset_page(qs, cursor=back.newer)
    assert [r.pk for r in first.rows] == pages[0] and first.newer is None


def test_page_links_carry_the_filters_and_walk_every_row_once(manager_client, many):
    seen, url = [], URL + "?" + urlencode({**JANUARY, "segment": "Gold", "nps_min": "2"})
    while url:
        response = manager_client.get(url)
        assert response.status_code == 200
        seen += listed(response)
        html = response.content.decode()
        found = re.search(r'href="([^"]+)" rel="next"', html)
        url = URL + found.group(1).replace("&amp;", "&") if found else None
        if url:
            assert "segment=Gold" in url and "nps_min=2" in url
    assert seen == expected_order([r for r in many if r.nps >= 2])


def test_the_page_runs_a_bounded_number_of_queries(manager_client, many, django_assert_max_num_queries):
    # The theme filter's choices are one query.
    with django_assert_max_num_queries(13):
        response = manager_client.get(URL, {**JANUARY, "segment": "Gold", "category": "detractor"})
    assert response.status_code == 200 and len(listed(response)) == 50


def test_csv_export_has_the_comment_columns_and_the_same_rows(manager_client, data):
    response = manager_client.get(reverse("dashboards-export-responses"), {**JANUARY, "q": "slow"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "responses-2026-01-01-2026-01-31" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == list(selectors.COMMENT_COLUMNS)
    assert [(r[1], r[6], r[10]) for r in rows[1:]] == [("CRM-E", "6", "slow app"), ("CRM-B", "4", "Too slow delivery")]


def test_csv_export_refuses_bad_parameters(manager_client, data):
    response = manager_client.get(reverse("dashboards-export-responses"), {**JANUARY, "ces_max": "9"})
    assert response.status_code == 400
    assert response.content.decode().startswith("Bad parameters: ces_max:")


def test_nav_links_to_the_explorer_with_the_filters(manager_client, data):
    html = manager_client.get(reverse("dashboards-overview"), {"segment": "Gold"}).content.decode()
    assert 'href="/responses/?segment=Gold"' in html


def drill_links(html: str) -> dict[str, tuple[str, str]]:
    """{data-drill key: (href, text)} of the page's drill-down links."""
    found = re.findall(r'<a href="([^"]+)"[^>]*data-drill="([^"]+)">([^<]*)</a>', html)
    return {key: (href.replace("&amp;", "&"), text) for href, key, text in found}


def test_nps_category_counts_on_the_overview_lead_to_the_same_responses(manager_client, data):
    html = manager_client.get(reverse("dashboards-overview"), {**JANUARY, "segment": "Silver"}).content.decode()
    links = drill_links(html)
    href, text = links["detractor"]
    assert text == "Detractors 2"
    assert "segment=Silver" in href and "start=2026-01-01" in href and "category=detractor" in href
    assert listed(manager_client.get(href)) == [data["r4"].pk, data["r2"].pk]
    assert links["promoter"][1] == "Promoters 0"
    assert listed(manager_client.get(links["responses"][0])) == [data["r4"].pk, data["r2"].pk]
    february = {"start": "2026-02-01", "end": "2026-02-28"}  # no NPS answer: no category links
    assert "promoter" not in drill_links(manager_client.get(reverse("dashboards-overview"), february).content.decode())
    assert "0" not in drill_links(manager_client.get(reverse("dashboards-surveys"), february).content.decode())


def test_score_distribution_links_each_score_to_its_responses(manager_client, data):
    html = manager_client.get(reverse("dashboards-surveys"), JANUARY).content.decode()
    links = drill_links(html)
    assert set(links) >= {str(score) for score in range(11)} | {"promoter", "passive", "detractor"}
    assert listed(manager_client.get(links["8"][0])) == [data["r3"].pk]
    assert listed(manager_client.get(links["0"][0])) == []
    assert links["passive"][1] == "Passives 1"
    assert listed(manager_client.get(links["passive"][0])) == [data["r3"].pk]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_on_a_phone_the_explorer_and_the_customer_page_fit_and_draw(live_server, browser):
    from cxmetrics.demo import demo_users_ensure
    from dashboards.tests.test_browser_dashboards import PHONE, recent_data, sign_in

    demo_users_ensure()
    recent_data()
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/responses/?segment=Gold")
    assert page.get_by_role("heading", name="Responses", level=1).is_visible()
    assert page.locator("tr[data-response-id]").count() > 0
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    last = page.locator("table[data-table=responses] tbody tr").first.locator("td:visible").last
    box = last.bounding_box()
    assert box["x"] + box["width"] <= PHONE["width"]
    page.locator("[data-customer-link]").first.click()
    page.wait_for_url("**/customers/*/")
    page.wait_for_selector(".chart .plot-container", state="attached")
    assert page.locator(".chart .main-svg").first.is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert not errors, errors
    context.close()

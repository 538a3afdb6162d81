"""End to end in a real Chromium: the demo CX manager signs in and reaches the home page."""

import pytest

from cxmetrics.demo import demo_users_ensure


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_demo_cx_manager_signs_in(live_server, page):
    demo_users_ensure()
    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
    page.get_by_label("Username").fill("manager")
    page.get_by_label("Password").fill("manager-demo-2026")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_role("heading", name="Overview").is_visible()
    assert page.get_by_text("manager").first.is_visible()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_wrong_password_is_refused(live_server, page):
    demo_users_ensure()
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("manager")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_text("Please enter a correct username and password").is_visible()

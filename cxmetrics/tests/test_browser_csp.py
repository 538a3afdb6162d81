"""End to end in Chromium under the Content-Security-Policy: the dashboards draw their Plotly charts, the
survey page, the admin and the lockout page load, and the browser reports no violation anywhere."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from crm_sync.models import Connection
from cxmetrics.demo import demo_users_ensure
from dashboards.tests.test_browser_dashboards import PAGES, recent_data, sign_in
from surveys.models import Invitation

# Recorded before any page script runs (an init script is not subject to the page's policy).
WATCH_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


def watch(page) -> list[str]:
    problems: list[str] = []
    page.add_init_script(WATCH_VIOLATIONS)
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def violations(page) -> list[str]:
    return page.evaluate("window.__cspViolations || []")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_no_page_breaks_the_content_security_policy(live_server, page):
    demo_users_ensure()
    recent_data()
    problems = watch(page)

    response = page.goto(f"{live_server.url}/login/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    sign_in(page, live_server.url)
    for path, heading in PAGES:
        page.goto(f"{live_server.url}{path}")
        assert page.get_by_role("heading", name=heading, level=1).is_visible()
        page.wait_for_selector(".chart .plot-container", state="attached")
        assert page.locator(".chart .main-svg").first.is_visible(), path
        page.locator(".chart .main-svg").first.hover()  # the hover layer injects styles too
        assert violations(page) == [], path

    invitation = Invitation.objects.filter(token__gt="").first()
    page.goto(f"{live_server.url}/s/{invitation.token}/")
    assert page.locator("form").first.is_visible()
    assert violations(page) == []
    assert not problems, problems


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_admin_and_the_lockout_page_keep_the_policy(live_server, page, settings):
    User.objects.create_superuser("admin", "admin@example.com", "admin-pass-2026")
    connection = Connection.objects.create(kind="hubspot", name="HS", token="pat")
    problems = watch(page)

    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("admin-pass-2026")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/admin/")
    page.goto(f"{live_server.url}/admin/crm_sync/connection/{connection.pk}/change/")
    assert page.get_by_label("secret token").is_visible()
    page.goto(f"{live_server.url}/admin/axes/accessattempt/")
    assert violations(page) == []

    page.context.clear_cookies()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill("wrong")
        page.locator("main").get_by_role("button", name="Sign in").click()
    assert page.get_by_role("heading", name="Too many failed sign-in attempts").is_visible()
    assert page.get_by_text("locked for 15 minutes").is_visible()
    assert violations(page) == []
    assert not problems, problems

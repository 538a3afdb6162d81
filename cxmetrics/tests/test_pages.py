"""Pages render in both languages and never reference an outside URL."""

import re

import pytest
from django.urls import reverse

from cxmetrics.tests.factories import cx_manager

OUTSIDE_URL = re.compile(r"""(?:src|href|action)=["'](?:https?:)?//(?!127\.0\.0\.1|localhost|testserver)""")


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["login", "dashboards-overview"])
def test_pages_reference_no_outside_url(client, name):
    client.force_login(cx_manager())
    html = client.get(reverse(name), follow=True).content.decode()
    assert "/static/vendor/bootstrap/bootstrap.min.css" in html
    assert not OUTSIDE_URL.search(html), OUTSIDE_URL.search(html)


@pytest.mark.django_db
def test_spanish_is_available_without_extra_tools(client):
    client.post(reverse("set_language"), {"language": "es", "next": "/login/"})
    html = client.get(reverse("login")).content.decode()
    assert 'lang="es"' in html
    assert "Iniciar sesión" in html


@pytest.mark.django_db
def test_the_language_picker_is_in_the_account_menu_once_signed_in(client):
    """Signed in, the language, the profile and signing out sit in one menu (the page links need the
    width); on the sign-in page the picker stands alone."""
    anonymous = client.get(reverse("login")).content.decode()
    assert 'id="language-select"' in anonymous and 'id="account-menu"' not in anonymous
    client.force_login(cx_manager())
    html = client.get(reverse("dashboards-overview")).content.decode()
    menu = html[html.index('id="account-menu"') : html.index("</nav>")]
    for part in ('id="language-select"', reverse("digests-profile"), reverse("logout")):
        assert part in menu, part


@pytest.mark.django_db
def test_overview_shows_an_empty_state_then_data(client):
    from cxmetrics.demo import seed_demo

    client.force_login(cx_manager())
    assert "No data yet" in client.get(reverse("dashboards-overview")).content.decode()
    seed_demo(customers=50, months=3, seed=3)
    assert "No data yet" not in client.get(reverse("dashboards-overview")).content.decode()


CDN = re.compile(r"https?://(cdn\.|cdnjs\.|unpkg\.|cdn\.jsdelivr|cdn\.plot\.ly|fonts\.googleapis)")


def test_no_served_asset_or_template_names_a_cdn():
    # The product must work offline: vendored bundles are patched (static/vendor/plotly/README.md).
    from pathlib import Path

    from django.conf import settings

    root = Path(settings.BASE_DIR)
    files = [p for folder in ("static", "templates") for p in (root / folder).rglob("*") if p.is_file()]
    files += list(root.glob("*/templates/**/*.html")) + list(root.glob("*/static/**/*.*"))
    offenders = [
        str(p.relative_to(root))
        for p in files
        if p.suffix in {".js", ".css", ".html"} and CDN.search(p.read_text(encoding="utf-8", errors="ignore"))
    ]
    assert not offenders, offenders

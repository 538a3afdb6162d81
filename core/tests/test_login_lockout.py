"""Sign-in throttling (django-axes): a username from one address is locked after LOGIN_FAILURE_LIMIT wrong
passwords, even with the right one, on the site login and the admin login, until the cool-off ends."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

pytestmark = pytest.mark.django_db

PASSWORD = secrets.token_urlsafe(16)  # the right one; any other is wrong


@pytest.fixture
def user():
    return User.objects.create_user("alice", "alice@example.com", PASSWORD)


@pytest.fixture
def staff():
    return User.objects.create_superuser("root", "root@example.com", PASSWORD)


def sign_in(client, url: str, username: str, password: str, address: str = "10.0.0.1"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=address)


def fail(client, url: str, username: str, times: int, address: str = "10.0.0.1") -> None:
    for _ in range(times):
        response = sign_in(client, url, username, "wrong", address)
        assert response.status_code == 200  # the form again, with its error


def lock(client, url: str, username: str, settings) -> None:
    """Wrong passwords up to the limit: the last one already gets the lockout page."""
    fail(client, url, username, settings.AXES_FAILURE_LIMIT - 1)
    assert sign_in(client, url, username, "wrong").status_code == 429


def test_the_defaults_lock_after_five_failures_for_fifteen_minutes(settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    assert timedelta(minutes=15) == settings.AXES_COOLOFF_TIME
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


def test_site_login_locks_even_the_right_password_and_says_for_how_long(client, user, settings):
    url = reverse("login")
    fail(client, url, "alice", settings.AXES_FAILURE_LIMIT - 1)
    response = sign_in(client, url, "alice", "wrong")
    assert response.status_code == 429
    response = sign_in(client, url, "alice", PASSWORD)
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed sign-in attempts" in page
    assert "locked for 15 minutes" in page
    assert 'class="navbar' in page  # the site's own page, not a bare text answer
    assert response["Retry-After"] == "900"
    assert "_auth_user_id" not in client.session


def test_the_lock_is_per_username_and_address(client, user, settings):
    url = reverse("login")
    lock(client, url, "alice", settings)
    assert sign_in(client, url, "alice", PASSWORD).status_code == 429
    # The same account from another address, and another account from the locked address, still sign in.
    assert sign_in(client, url, "alice", PASSWORD, address="10.0.0.2").status_code == 302
    client.logout()
    User.objects.create_user("bob", "bob@example.com", PASSWORD)
    assert sign_in(client, url, "bob", PASSWORD).status_code == 302


def test_fewer_failures_than_the_limit_do_not_lock_and_a_success_resets_them(client, user, settings):
    url = reverse("login")
    fail(client, url, "alice", settings.AXES_FAILURE_LIMIT - 1)
    assert sign_in(client, url, "alice", PASSWORD).status_code == 302
    client.logout()
    fail(client, url, "alice", settings.AXES_FAILURE_LIMIT - 1)
    assert sign_in(client, url, "alice", PASSWORD).status_code == 302


def test_admin_login_is_locked_the_same_way(client, staff, settings):
    url = reverse("admin:login")
    fail(client, url, "root", settings.AXES_FAILURE_LIMIT - 1)
    assert sign_in(client, url, "root", "wrong").status_code == 429
    response = sign_in(client, url, "root", PASSWORD)
    assert response.status_code == 429
    assert "locked for 15 minutes" in response.content.decode()
    assert client.get(reverse("admin:index")).status_code == 302  # still not signed in


def test_the_lock_ends_after_the_cool_off(client, user, settings):
    url = reverse("login")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        lock(client, url, "alice", settings)
        assert sign_in(client, url, "alice", PASSWORD).status_code == 429
    with time_machine.travel(start + timedelta(minutes=14), tick=False):
        assert sign_in(client, url, "alice", PASSWORD).status_code == 429
    # Each attempt during the lock restarts the wait, here the one at minute 14.
    with time_machine.travel(start + timedelta(minutes=14 + 16), tick=False):
        assert sign_in(client, url, "alice", PASSWORD).status_code == 302


def test_the_lock_page_is_translated(client, user, settings):
    url = reverse("login")
    lock(client, url, "alice", settings)
    response = client.post(
        url, {"username": "alice", "password": PASSWORD}, REMOTE_ADDR="10.0.0.1", HTTP_ACCEPT_LANGUAGE="es"
    )
    assert response.status_code == 429
    assert 'lang="es"' in response.content.decode()


def test_behind_a_proxy_the_configured_header_is_the_address(client, user, settings):
    settings.CLIENT_IP_HEADER = "HTTP_X_REAL_IP"
    url = reverse("login")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            url, {"username": "alice", "password": "wrong"}, REMOTE_ADDR="10.9.9.9", HTTP_X_REAL_IP="203.0.113.7"
        )
    attempt = AccessAttempt.objects.get()
    assert (attempt.username, attempt.ip_address) == ("alice", "203.0.113.7")
    # Another client behind the same proxy is not locked out.
    response = client.post(
        url, {"username": "alice", "password": PASSWORD}, REMOTE_ADDR="10.9.9.9", HTTP_X_REAL_IP="203.0.113.8"
    )
    assert response.status_code == 302


def test_the_admin_lists_lockouts_and_a_superuser_clears_one(client, user, staff, settings):
    url = reverse("login")
    lock(client, url, "alice", settings)
    attempt = AccessAttempt.objects.get(username="alice")
    assert attempt.failures_since_start == settings.AXES_FAILURE_LIMIT

    admin = client.__class__()
    admin.force_login(staff)
    listing = admin.get(reverse("admin:axes_accessattempt_changelist"))
    assert listing.status_code == 200
    assert "alice" in listing.content.decode()
    response = admin.post(
        reverse("admin:axes_accessattempt_changelist"),
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    assert sign_in(client, url, "alice", PASSWORD).status_code == 302

import pytest
from django.urls import reverse

from cxmetrics.tests.factories import UserFactory, cx_manager


@pytest.mark.django_db
def test_anonymous_users_are_sent_to_login(client):
    response = client.get(reverse("dashboards-overview"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_signed_in_user_outside_the_group_gets_403(client):
    client.force_login(UserFactory(username="outsider"))
    response = client.get(reverse("dashboards-overview"))
    assert response.status_code == 403
    assert b"CX managers group" in response.content


@pytest.mark.django_db
def test_cx_manager_and_staff_see_the_dashboards(client):
    client.force_login(cx_manager())
    assert client.get(reverse("dashboards-overview")).status_code == 200
    client.force_login(UserFactory(username="staffer", is_staff=True))
    assert client.get(reverse("dashboards-overview")).status_code == 200


@pytest.mark.django_db
def test_login_page_is_public(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b'name="username"' in response.content

"""The invite page: a dry run first, the number of customers to be emailed, a confirmation for many."""

import re

import pytest
from django.urls import reverse

from customers.tests.factories import CustomerFactory
from cxmetrics.tests.factories import UserFactory
from surveys.models import Invitation
from surveys.tests.factories import relational_survey

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, settings):
    settings.SURVEY_INVITE_CONFIRM_ABOVE = 3
    client.force_login(UserFactory(username="admin", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def survey(queued):
    return relational_survey()


def _url(survey):
    return reverse("admin:surveys_survey_invite", args=[survey.pk])


def _invitable(html: str) -> int:
    return int(re.search(r'data-invitable="(\d+)"', html).group(1))


def test_the_page_opens_as_a_dry_run(admin_client, survey):
    html = admin_client.get(_url(survey)).content.decode()
    assert re.search(r'<input type="checkbox" name="dry_run"[^>]*checked', html)
    assert 'name="confirm_count"' not in html


def test_a_dry_run_says_how_many_customers_will_be_emailed_and_sends_nothing(admin_client, survey):
    CustomerFactory.create_batch(2)
    CustomerFactory(email="")  # skipped: no email
    response = admin_client.post(_url(survey), {"target": "all", "dry_run": "on"})
    html = response.content.decode()
    assert response.status_code == 200 and _invitable(html) == 2
    assert "2 customers will be emailed." in html and "3 targeted, 1 skipped" in html
    assert not Invitation.objects.exists()
    # The next submit sends: the dry run is unticked on the page it returns.
    assert not re.search(r'<input type="checkbox" name="dry_run"[^>]*checked', html)


def test_up_to_the_threshold_the_invitations_are_sent_at_once(admin_client, survey):
    CustomerFactory.create_batch(3)
    response = admin_client.post(_url(survey), {"target": "all"})
    assert response.status_code == 302 and Invitation.objects.count() == 3


def test_above_the_threshold_the_number_must_be_confirmed(admin_client, survey):
    CustomerFactory.create_batch(4)
    asked = admin_client.post(_url(survey), {"target": "all"})
    html = asked.content.decode()
    assert asked.status_code == 200 and _invitable(html) == 4
    assert 'name="confirm_count"' in html and "type 4" in html and "Email 4 customers" in html
    assert not Invitation.objects.exists()
    wrong = admin_client.post(_url(survey), {"target": "all", "confirm_count": "40"})
    assert "This is not the number of customers to email." in wrong.content.decode()
    assert not Invitation.objects.exists()
    sent = admin_client.post(_url(survey), {"target": "all", "confirm_count": "4"})
    assert sent.status_code == 302 and Invitation.objects.count() == 4


def test_the_from_template_page_fills_the_slug_from_the_name(admin_client):
    html = admin_client.get(reverse("admin:surveys_survey_from_template")).content.decode()
    assert "surveys/slug_from_name.js" in html
    assert 'id="id_name"' in html and 'id="id_slug"' in html


def test_the_admin_forms_use_the_admin_form_style(admin_client, survey):
    for url in (_url(survey), reverse("admin:surveys_survey_from_template")):
        html = admin_client.get(url).content.decode()
        assert "admin/css/forms.css" in html and 'class="module aligned"' in html
        assert 'class="radiolist' in html

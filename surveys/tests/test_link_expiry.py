"""Personal survey links expire: the survey's validity counted from the sending (or the creation)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from surveys.models import Invitation, Response
from surveys.tests.factories import InvitationFactory, relational_survey, valid_answers

pytestmark = pytest.mark.django_db

TITLE = "This link has expired"
TEXT = "The link to this survey is no longer valid, and answers can no longer be sent with it."


def in_language(language: str, text: str) -> str:
    with translation.override(language):
        return translation.gettext(text)


def invitation_sent(days_ago: float, *, valid_days: int = 365, language: str = "en", **fields) -> Invitation:
    survey = relational_survey(languages=["en", "es"], link_valid_days=valid_days)
    return InvitationFactory(
        survey=survey, language=language, sent_at=timezone.now() - timedelta(days=days_ago), **fields
    )


@pytest.mark.parametrize("language", ["en", "es"])
def test_an_expired_link_says_so_in_the_survey_language_with_410(client, language):
    invitation = invitation_sent(366, language=language)
    response = client.get(reverse("surveys-answer", args=[invitation.token]))
    assert response.status_code == 410
    assert response["Content-Language"] == language
    html = response.content.decode()
    assert f'<html lang="{language}">' in html
    assert in_language(language, TITLE) in html
    assert in_language(language, f"{TEXT} Thank you for your interest.") in html
    assert 'name="q' not in html  # no form
    invitation.refresh_from_db()
    assert invitation.opened_at is None


@pytest.mark.parametrize("language", ["en", "es"])
def test_an_expired_link_accepts_no_answer(client, language):
    invitation = invitation_sent(366, language=language)
    response = client.post(reverse("surveys-answer", args=[invitation.token]), valid_answers(invitation.survey))
    assert response.status_code == 410
    assert not Response.objects.exists()
    invitation.refresh_from_db()
    assert invitation.responded_at is None


def test_the_validity_is_per_survey_and_counted_from_the_sending(client):
    fresh_enough = invitation_sent(29, valid_days=30)
    assert client.get(reverse("surveys-answer", args=[fresh_enough.token])).status_code == 200
    response = client.post(reverse("surveys-answer", args=[fresh_enough.token]), valid_answers(fresh_enough.survey))
    assert response.status_code == 302
    assert Response.objects.filter(invitation=fresh_enough).exists()

    survey = fresh_enough.survey
    old = InvitationFactory(survey=survey, sent_at=timezone.now() - timedelta(days=31))
    assert client.get(reverse("surveys-answer", args=[old.token])).status_code == 410
    survey.link_valid_days = 60
    survey.save()
    assert client.get(reverse("surveys-answer", args=[old.token])).status_code == 200


def test_a_never_sent_invitation_counts_from_its_creation(client):
    invitation = invitation_sent(0, valid_days=10, status=Invitation.Status.QUEUED)
    Invitation.objects.filter(pk=invitation.pk).update(sent_at=None, created_at=timezone.now() - timedelta(days=11))
    assert client.get(reverse("surveys-answer", args=[invitation.token])).status_code == 410


def test_an_answered_expired_link_still_says_answered(client):
    invitation = invitation_sent(400, responded_at=timezone.now() - timedelta(days=390))
    response = client.get(reverse("surveys-answer", args=[invitation.token]))
    assert response.status_code == 200
    assert "This link has expired" not in response.content.decode()


def test_the_unsubscribe_link_keeps_working_after_expiry(client):
    invitation = invitation_sent(400)
    assert client.post(reverse("surveys-unsubscribe", args=[invitation.token])).status_code == 200
    invitation.customer.refresh_from_db()
    assert invitation.customer.unsubscribed_at is not None

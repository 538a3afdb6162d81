"""The thank-you page's next step, the invitation's greeting and the page of a bad survey link."""

import pytest
from django.urls import reverse

from customers.models import Audience
from customers.tests.factories import CustomerFactory
from surveys.models import Question
from surveys.services import invitation_message
from surveys.tests.factories import InvitationFactory, relational_survey

pytestmark = pytest.mark.django_db


def _survey(**fields):
    return relational_survey(
        next_promoter_url="https://reviews.example.com/acme",
        next_promoter_label_en="Review us on Example Reviews",
        next_promoter_label_es="Valórenos en Example Reviews",
        next_detractor_text_en="We are sorry. Your account manager will be in touch this week.",
        next_detractor_text_es="Lo sentimos. Su gestor de cuenta se pondrá en contacto esta semana.",
        **fields,
    )


def _answer_and_thank(client, invitation, score: int, lang: str) -> str:
    nps = invitation.survey.questions.get(kind=Question.Kind.NPS)
    answered = client.post(reverse("surveys-answer", args=[invitation.token]) + f"?lang={lang}", {f"q{nps.pk}": score})
    assert answered.status_code == 302
    return client.get(answered["Location"]).content.decode()


@pytest.mark.parametrize(
    ("score", "lang", "shown", "hidden"),
    [
        (10, "en", 'href="https://reviews.example.com/acme"', "will be in touch"),
        (9, "es", "Valórenos en Example Reviews", "se pondrá en contacto"),
        (3, "en", "Your account manager will be in touch this week.", "reviews.example.com"),
        (0, "es", "Su gestor de cuenta se pondrá en contacto esta semana.", "reviews.example.com"),
        (7, "en", "Thank you", "reviews.example.com"),
    ],
)
def test_the_thank_you_page_offers_the_next_step_of_the_answer_category(client, score, lang, shown, hidden):
    invitation = InvitationFactory(survey=_survey(), customer=CustomerFactory())
    html = _answer_and_thank(client, invitation, score, lang)
    assert shown in html and hidden not in html
    if score == 7:  # a passive gets neither
        assert "will be in touch" not in html


def test_without_a_configured_next_step_the_thank_you_page_has_none(client):
    invitation = InvitationFactory(survey=relational_survey(), customer=CustomerFactory())
    html = _answer_and_thank(client, invitation, 10, "en")
    assert "btn-primary btn-lg" not in html


def test_the_promoter_link_has_a_default_label_in_the_language(client):
    invitation = InvitationFactory(
        survey=relational_survey(next_promoter_url="https://example.com/refer"), customer=CustomerFactory()
    )
    assert "Recommend us" in _answer_and_thank(client, invitation, 10, "en")


def test_the_invitation_greets_a_person_never_the_company():
    business = CustomerFactory(name="Acme Logistics S.A.", audience=Audience.B2B)
    message = invitation_message(invitation=InvitationFactory(survey=relational_survey(), customer=business))
    assert "Acme Logistics" not in message.body and "Hello," in message.body
    assert "Acme Logistics" not in message.alternatives[0][0]
    person = CustomerFactory(name="Lucía Pérez", audience=Audience.B2C)
    invitation = InvitationFactory(survey=relational_survey(slug="b2c"), customer=person, language="es")
    message = invitation_message(invitation=invitation)
    assert "Hola, Lucía Pérez:" in message.body
    business.contact_name = "Ana Ruiz"  # what the CRM's contact person would give
    message = invitation_message(invitation=InvitationFactory(survey=business_survey(), customer=business))
    assert "Hello Ana Ruiz," in message.body


def business_survey():
    return relational_survey(slug="contact")


@pytest.mark.parametrize(
    ("path", "lang", "text"),
    [
        ("/s/not-a-real-token/", "en", "Survey link not found"),
        ("/s/not-a-real-token/?lang=es", "es", "Enlace de encuesta no encontrado"),
        ("/s/not-a-real-token/thanks/", "en", "Survey link not found"),
        ("/s/unsubscribe/not-a-real-token/", "en", "Survey link not found"),
        ("/s/p/no-such-survey/", "en", "Survey link not found"),
    ],
)
def test_a_bad_survey_link_shows_the_survey_layout_with_404(client, path, lang, text):
    response = client.get(path)
    assert response.status_code == 404
    html = response.content.decode()
    assert f'<html lang="{lang}">' in html and "survey-page" in html
    assert response["Content-Language"] == lang
    assert 'hreflang="es"' in html or 'hreflang="en"' in html
    if lang == "en":
        assert text in html


def test_a_bad_link_speaks_the_browsers_language(client):
    response = client.get("/s/not-a-real-token/", HTTP_ACCEPT_LANGUAGE="es-MX,es;q=0.9")
    assert response.status_code == 404 and response["Content-Language"] == "es"


def test_an_expired_link_is_410_in_the_survey_language(client):
    from datetime import timedelta

    from django.utils import timezone

    invitation = InvitationFactory(
        survey=relational_survey(),
        customer=CustomerFactory(),
        language="es",
        sent_at=timezone.now() - timedelta(days=400),
    )
    response = client.get(reverse("surveys-answer", args=[invitation.token]))
    assert response.status_code == 410
    assert '<html lang="es">' in response.content.decode() and "survey-page" in response.content.decode()

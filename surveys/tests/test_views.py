import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.tests.factories import CustomerFactory, SegmentFactory
from surveys.models import Invitation, Question, Response
from surveys.tests.factories import InvitationFactory, relational_survey, valid_answers

pytestmark = pytest.mark.django_db


@pytest.fixture
def invitation():
    customer = CustomerFactory(segment=SegmentFactory(name="Gold"))
    return InvitationFactory(survey=relational_survey(), customer=customer, language="es")


def url(invitation, **params):
    from urllib.parse import urlencode

    base = reverse("surveys-answer", args=[invitation.token])
    return f"{base}?{urlencode(params)}" if params else base


def test_get_shows_the_form_in_the_invitation_language_and_records_only_the_open(client, invitation):
    response = client.get(url(invitation))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="es">' in html
    assert "¿Qué probabilidad hay de que nos recomiende" in html
    assert "<fieldset" in html and "<legend" in html
    assert response["Cache-Control"] == "no-store"
    invitation.refresh_from_db()
    assert invitation.opened_at is not None
    assert not Response.objects.exists()


def test_score_link_from_the_email_preselects_but_never_records(client, invitation):
    nps = invitation.survey.questions.get(kind=Question.Kind.NPS)
    html = client.get(url(invitation, nps=7)).content.decode()
    checked = re.findall(r'<input type="radio" name="q\d+" value="(\d+)"[^>]*\bchecked\b', html)
    assert checked == ["7"]
    assert f'id="id_q{nps.pk}_7"' in html
    client.get(url(invitation, nps=7))
    assert not Response.objects.exists()
    invitation.refresh_from_db()
    assert invitation.responded_at is None


def test_language_switch(client, invitation):
    html = client.get(url(invitation, lang="en")).content.decode()
    assert '<html lang="en">' in html and "How likely are you to recommend" in html
    assert 'hreflang="es"' in html


def test_submit_stores_the_response_with_segment_snapshot_and_thanks(client, invitation):
    response = client.post(url(invitation), valid_answers(invitation.survey, nps=10))
    assert response.status_code == 302
    stored = Response.objects.get()
    assert stored.nps == 10 and stored.segment.name == "Gold" and stored.language == "es"
    thanks = client.get(response["Location"])
    assert thanks.status_code == 200
    assert "¡Gracias! Sus respuestas nos ayudan a mejorar." in thanks.content.decode()
    again = client.get(url(invitation))
    assert "Ya respondida" in again.content.decode() or "already" in again.content.decode().lower()
    assert client.post(url(invitation), valid_answers(invitation.survey, nps=0)).status_code == 200
    assert Response.objects.count() == 1 and Response.objects.get().nps == 10


def test_missing_required_answer_shows_the_error_and_stores_nothing(client, invitation):
    data = valid_answers(invitation.survey)
    nps = invitation.survey.questions.get(kind=Question.Kind.NPS)
    del data[f"q{nps.pk}"]
    response = client.post(url(invitation, lang="en"), data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Please answer this question." in html
    assert 'id="error-summary"' in html
    assert not Response.objects.exists()


@pytest.mark.parametrize("bad", ["11", "-1", "abc", "9.5"])
def test_out_of_range_answer_is_refused(client, invitation, bad):
    data = valid_answers(invitation.survey)
    nps = invitation.survey.questions.get(kind=Question.Kind.NPS)
    data[f"q{nps.pk}"] = bad
    response = client.post(url(invitation, lang="en"), data)
    assert "Choose one of the values from 0 to 10." in response.content.decode()
    assert not Response.objects.exists()


def test_attribute_out_of_its_1_to_5_scale_is_refused(client, invitation):
    data = valid_answers(invitation.survey)
    attribute = invitation.survey.questions.filter(kind=Question.Kind.ATTRIBUTE).first()
    data[f"q{attribute.pk}"] = "0"
    client.post(url(invitation), data)
    assert not Response.objects.exists()


@pytest.mark.parametrize("token", ["nope", "x" * 32, "a" * 200])
def test_unknown_or_forged_token_is_a_404_that_tells_nothing_of_any_survey(client, token, invitation):
    response = client.get(f"/s/{token}/")
    assert response.status_code == 404
    html = response.content.decode()
    assert invitation.survey.name not in html and invitation.survey.title_en not in html
    assert "survey-page" in html  # the survey pages' layout, not the site's bare 404
    assert client.post(f"/s/{token}/", {}).status_code == 404


def test_closed_survey_says_so(client, invitation):
    survey = invitation.survey
    survey.closes_at = timezone.now() - timedelta(days=1)
    survey.save()
    response = client.get(url(invitation, lang="en"))
    assert "This survey is closed" in response.content.decode()
    client.post(url(invitation), valid_answers(survey))
    assert not Response.objects.exists()


def test_not_yet_open_survey_says_closed(client, invitation):
    invitation.survey.opens_at = timezone.now() + timedelta(days=1)
    invitation.survey.save()
    assert "This survey is closed" in client.get(url(invitation, lang="en")).content.decode()


def test_public_link_only_when_allowed(client):
    survey = relational_survey(allow_public_link=False)
    assert client.get(reverse("surveys-public", args=[survey.slug])).status_code == 404
    survey.allow_public_link = True
    survey.save()
    assert client.get(reverse("surveys-public", args=[survey.slug])).status_code == 200
    response = client.post(reverse("surveys-public", args=[survey.slug]), valid_answers(survey))
    assert response.status_code == 302
    stored = Response.objects.get()
    assert stored.customer is None and stored.channel == "public" and stored.invitation is None


def test_anonymous_submissions_are_rate_limited_per_address(client, settings):
    settings.SURVEY_PUBLIC_SUBMISSIONS_PER_HOUR = 2
    survey = relational_survey(allow_public_link=True)
    path = reverse("surveys-public", args=[survey.slug])
    for _ in range(2):
        assert client.post(path, valid_answers(survey), REMOTE_ADDR="10.0.0.1").status_code == 302
    assert client.post(path, valid_answers(survey), REMOTE_ADDR="10.0.0.1").status_code == 429
    assert client.post(path, valid_answers(survey), REMOTE_ADDR="10.0.0.2").status_code == 302
    assert Response.objects.count() == 3


def test_proxy_header_is_used_when_configured(client, settings):
    settings.SURVEY_PUBLIC_SUBMISSIONS_PER_HOUR = 1
    settings.SURVEY_CLIENT_IP_HEADER = "HTTP_X_REAL_IP"
    survey = relational_survey(allow_public_link=True)
    path = reverse("surveys-public", args=[survey.slug])
    assert client.post(path, valid_answers(survey), HTTP_X_REAL_IP="1.1.1.1").status_code == 302
    assert client.post(path, valid_answers(survey), HTTP_X_REAL_IP="2.2.2.2").status_code == 302
    assert client.post(path, valid_answers(survey), HTTP_X_REAL_IP="1.1.1.1").status_code == 429


def test_unsubscribe_asks_on_get_and_works_on_post_without_login(client, invitation):
    path = reverse("surveys-unsubscribe", args=[invitation.token])
    assert client.get(path).status_code == 200
    invitation.customer.refresh_from_db()
    assert invitation.customer.unsubscribed_at is None
    queued = InvitationFactory(customer=invitation.customer, status=Invitation.Status.QUEUED, sent_at=None)
    # RFC 8058 one-click: a POST without a CSRF cookie.
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    invitation.customer.refresh_from_db()
    assert invitation.customer.unsubscribed_at is not None
    queued.refresh_from_db()
    assert queued.status == Invitation.Status.FAILED
    assert client.get("/s/unsubscribe/forged-token/").status_code == 404


def test_choice_question_stores_the_english_label(client):
    survey = relational_survey()
    Question.objects.create(
        survey=survey,
        order=999,
        kind=Question.Kind.CHOICE,
        text_en="Plan?",
        text_es="¿Plan?",
        choices_en=["Basic", "Pro"],
        choices_es=["Básico", "Pro"],
    )
    invitation = InvitationFactory(survey=survey)
    data = valid_answers(survey)
    choice = survey.questions.get(kind=Question.Kind.CHOICE)
    data[f"q{choice.pk}"] = "0"
    client.post(url(invitation, lang="es"), data)
    assert Response.objects.get().answers[str(choice.pk)]["value"] == "Basic"


def test_thanks_before_answering_goes_to_the_survey(client, invitation):
    response = client.get(reverse("surveys-thanks", args=[invitation.token]))
    assert response.status_code == 302 and response["Location"].startswith(url(invitation))


def test_submit_works_without_the_csrf_cookie():
    # Mail apps' in-app browsers may block cookies: the answer must not be lost to a CSRF 403.
    from django.test import Client

    invitation = InvitationFactory(survey=relational_survey(), customer=CustomerFactory())
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(url(invitation), valid_answers(invitation.survey, nps=7))
    assert response.status_code == 302
    assert Response.objects.get().nps == 7


def test_the_answer_page_sets_no_cookie(client, invitation):
    response = client.get(url(invitation))
    assert response.status_code == 200 and not response.cookies  # no CSRF cookie: the view is csrf_exempt
    assert "csrfmiddlewaretoken" not in response.content.decode()


def test_an_edited_question_shows_at_once_although_the_questions_html_is_kept(client, invitation):
    nps = invitation.survey.questions.get(kind=Question.Kind.NPS)
    assert "¿Qué probabilidad hay de que nos recomiende" in client.get(url(invitation)).content.decode()
    nps.text_es = "¿Nos recomendaría a un amigo?"
    nps.save()
    html = client.get(url(invitation)).content.decode()
    assert "¿Nos recomendaría a un amigo?" in html and "¿Qué probabilidad hay de que nos recomiende" not in html
    # The preselected score is part of what is kept, so a link without one preselects nothing.
    checked = r'<input type="radio" name="q\d+" value="(\d+)"[^>]*\bchecked\b'
    assert re.findall(checked, client.get(url(invitation, nps=9)).content.decode()) == ["9"]
    assert re.findall(checked, client.get(url(invitation)).content.decode()) == []


def test_the_question_markup_is_rendered_once_per_survey_and_language(client, invitation, monkeypatch):
    from surveys import views

    views.survey_pages.clear()
    first = client.get(url(invitation)).content.decode()
    english = client.get(url(invitation, lang="en")).content.decode()

    def no_form(*args, **kwargs):
        raise AssertionError("the kept markup should have been used")

    monkeypatch.setattr(views, "SurveyResponseForm", no_form)
    assert client.get(url(invitation)).content.decode() == first
    assert client.get(url(invitation, lang="en")).content.decode() == english != first


@pytest.mark.django_db(transaction=True)
def test_the_open_stamp_is_written_once_outside_a_transaction_and_leaves_the_session_as_it_was(client):
    """Outside a transaction (as in production) the stamp goes in one statement whose commit does not wait
    for the disk: it is stored, the first open's time stays, and the session keeps synchronous commits."""
    from django.db import connection

    invitation = InvitationFactory(survey=relational_survey(), customer=CustomerFactory())
    assert client.get(url(invitation)).status_code == 200
    first = Invitation.objects.get(pk=invitation.pk).opened_at
    assert first is not None
    assert client.get(url(invitation)).status_code == 200
    assert Invitation.objects.get(pk=invitation.pk).opened_at == first
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone()[0] == "on"

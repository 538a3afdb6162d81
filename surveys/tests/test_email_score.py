"""The score clicked in the invitation email: kept even if the page is closed, never stored by a GET."""

import pytest
from django.urls import reverse

from customers.tests.factories import CustomerFactory
from surveys.models import AttributeScore, Invitation, Question, Response
from surveys.services import SURVEY_TEMPLATES
from surveys.tests.factories import InvitationFactory, relational_survey, valid_answers

pytestmark = pytest.mark.django_db


@pytest.fixture
def invitation():
    return InvitationFactory(survey=relational_survey(), customer=CustomerFactory(), language="en")


def _url(invitation, query=""):
    return reverse("surveys-answer", args=[invitation.token]) + query


def _nps(invitation) -> Question:
    return invitation.survey.questions.get(kind=Question.Kind.NPS)


def _score_post(client, invitation, score, query="?nps=9"):
    """What survey.js sends when the page has loaded with the email's score, or the score changes."""
    return client.post(_url(invitation, query), {f"q{_nps(invitation).pk}": str(score), "score_only": "1"})


def test_relational_nps_template_requires_only_the_nps_question():
    required = {spec.kind for spec in SURVEY_TEMPLATES["relational_nps"].questions if spec.required}
    assert required == {Question.Kind.NPS}
    survey = relational_survey()
    assert list(survey.questions.filter(required=True).values_list("kind", flat=True)) == [Question.Kind.NPS]


def test_the_get_of_a_score_link_writes_no_answer_and_asks_the_script_to_store_it(client, invitation):
    page = client.get(_url(invitation, "?nps=9"))
    client.head(_url(invitation, "?nps=9"))
    assert page.status_code == 200
    assert f'data-score-field="q{_nps(invitation).pk}"' in page.content.decode()
    assert not Response.objects.exists()
    invitation.refresh_from_db()
    assert invitation.responded_at is None


def test_the_script_post_stores_the_score_once_and_a_second_click_updates_it(client, invitation):
    assert _score_post(client, invitation, 9).status_code == 204
    stored = Response.objects.get()
    assert (stored.nps, stored.partial, stored.invitation_id) == (9, True, invitation.pk)
    invitation.refresh_from_db()
    assert invitation.responded_at == stored.submitted_at
    assert _score_post(client, invitation, 4, "?nps=4").status_code == 204
    assert Response.objects.count() == 1
    again = Response.objects.get()
    assert (again.pk, again.nps, again.submitted_at) == (stored.pk, 4, stored.submitted_at)
    # Coming back with the link shows the form again, with the stored score chosen.
    html = client.get(_url(invitation)).content.decode()
    assert f'name="q{_nps(invitation).pk}" value="4" id="id_q{_nps(invitation).pk}_4" class="btn-check" checked' in html


def test_submitting_only_the_score_is_accepted(client, invitation):
    response = client.post(_url(invitation), {f"q{_nps(invitation).pk}": "10"})
    assert response.status_code == 302
    assert Response.objects.get().nps == 10 and not Response.objects.get().partial


def test_completing_the_form_updates_the_same_response(client, invitation):
    _score_post(client, invitation, 9)
    first = Response.objects.get()
    response = client.post(_url(invitation, "?nps=9"), valid_answers(invitation.survey, nps=8))
    assert response.status_code == 302
    assert Response.objects.count() == 1
    done = Response.objects.get()
    assert done.pk == first.pk and done.nps == 8 and not done.partial
    assert done.comment == "Great service" and done.likelihood_repurchase == 10
    assert AttributeScore.objects.filter(response=done).count() == 4
    # Complete now: another score click or another form is refused, and the page says it was answered.
    assert _score_post(client, invitation, 2).status_code == 409
    assert client.post(_url(invitation), valid_answers(invitation.survey, nps=0)).status_code == 200
    assert Response.objects.get().nps == 8
    assert "already been answered" in client.get(_url(invitation, "?lang=en")).content.decode()


def test_a_score_alone_is_refused_for_bad_values_and_public_links(client, invitation):
    assert _score_post(client, invitation, 11).status_code == 400
    assert client.post(_url(invitation), {"score_only": "1"}).status_code == 400
    survey = invitation.survey
    survey.allow_public_link = True
    survey.save()
    public = client.post(
        reverse("surveys-public", args=[survey.slug]), {f"q{_nps(invitation).pk}": "9", "score_only": "1"}
    )
    assert public.status_code == 400
    assert not Response.objects.exists()
    assert Invitation.objects.get().responded_at is None

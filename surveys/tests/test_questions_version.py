"""A survey link's questions are kept per process for the survey's questions version, which database
triggers change on every write to its questions, however it is made (surveys.selectors.survey_questions,
migration 0007)."""

import pytest
from django.db import connection
from django.urls import reverse

from crm_sync.tests.factories import CustomerFactory
from surveys import selectors
from surveys.models import Question, QuestionsVersion, Survey
from surveys.tests.factories import InvitationFactory, QuestionFactory, SurveyFactory, relational_survey

pytestmark = pytest.mark.django_db


def _version(survey: Survey):
    return QuestionsVersion.objects.filter(survey_id=survey.pk).values_list("version", flat=True).first()


def test_every_kind_of_write_to_the_questions_gives_the_survey_a_new_version():
    survey = SurveyFactory()
    assert _version(survey) is None
    question = QuestionFactory(survey=survey)
    seen = [_version(survey)]
    assert seen[0] is not None
    QuestionFactory(survey=survey, kind=Question.Kind.TEXT)
    seen.append(_version(survey))
    question.text_es = "¿Nos recomendaría a un colega?"
    question.save()
    seen.append(_version(survey))
    Question.objects.filter(survey=survey).update(required=False)  # no signals, no save()
    seen.append(_version(survey))
    with connection.cursor() as cursor:
        cursor.execute("UPDATE surveys_question SET text_en = 'Raw' WHERE id = %s", [question.pk])
    seen.append(_version(survey))
    other = SurveyFactory()
    Question.objects.filter(pk=question.pk).update(survey=other)  # moved: both surveys change
    seen.append(_version(survey))
    assert _version(other) is not None
    Question.objects.filter(survey=survey).delete()
    seen.append(_version(survey))
    assert len(set(seen)) == len(seen)
    # Deleting a survey deletes its questions; the version row it leaves behind has no foreign key to break.
    other.delete()
    assert not Survey.objects.filter(pk=other.pk).exists()


def test_the_questions_are_read_once_per_version_and_each_call_gets_its_own_copies(django_assert_num_queries):
    survey = relational_survey()
    invitation = InvitationFactory(survey=survey, customer=CustomerFactory())
    selectors._QUESTIONS.clear()
    with django_assert_num_queries(2):  # the link, then its questions
        first = selectors.survey_questions(survey=selectors.invitation_get_by_token(token=invitation.token).survey)
    linked = selectors.invitation_get_by_token(token=invitation.token)
    with django_assert_num_queries(0):
        again = selectors.survey_questions(survey=linked.survey)
    assert (
        [q.pk for q in again]
        == [q.pk for q in first]
        == list(survey.questions.order_by("order", "id").values_list("pk", flat=True))
    )
    assert all(a is not b for a, b in zip(again, first, strict=True))
    assert all(q.survey is linked.survey for q in again)

    # A write the ORM's signals never see still shows at once.
    Question.objects.filter(survey=survey, kind=Question.Kind.NPS).update(text_en="Would you recommend us?")
    fresh = selectors.survey_questions(survey=selectors.invitation_get_by_token(token=invitation.token).survey)
    assert next(q for q in fresh if q.kind == Question.Kind.NPS).text_en == "Would you recommend us?"
    # A survey read without its version (not by a link) is always read from the database.
    plain = Survey.objects.get(pk=survey.pk)
    with django_assert_num_queries(1):
        selectors.survey_questions(survey=plain)


def test_an_edited_question_shows_at_once_on_personal_and_public_links(client):
    survey = relational_survey(allow_public_link=True)
    invitation = InvitationFactory(survey=survey, customer=CustomerFactory(), language="en")
    personal = reverse("surveys-answer", args=[invitation.token])
    public = reverse("surveys-public", args=[survey.slug])
    for url in (personal, public):
        assert "How likely are you to recommend" in client.get(url).content.decode()
    Question.objects.filter(survey=survey, kind=Question.Kind.NPS).update(text_en="Would you recommend us?")
    for url in (personal, public):
        html = client.get(url).content.decode()
        assert "Would you recommend us?" in html and "How likely are you to recommend" not in html


def test_a_backend_without_the_triggers_keeps_no_questions(monkeypatch, django_assert_num_queries):
    survey = relational_survey()
    invitation = InvitationFactory(survey=survey, customer=CustomerFactory())
    monkeypatch.setattr(selectors, "TRIGGER_VENDORS", ())
    selectors._QUESTIONS.clear()
    for _ in range(2):
        linked = selectors.invitation_get_by_token(token=invitation.token).survey
        with django_assert_num_queries(1):
            selectors.survey_questions(survey=linked)
    assert not selectors._QUESTIONS

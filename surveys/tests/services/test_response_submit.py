import pytest

from customers.tests.factories import CustomerFactory, SegmentFactory
from surveys.models import AttributeScore, Channel, Question, Response
from surveys.services import AlreadyAnswered, response_submit
from surveys.tests.factories import InvitationFactory, relational_survey

pytestmark = pytest.mark.django_db


def _answers(survey, **by_kind):
    answers = {}
    for question in survey.questions.all():
        key = question.attribute or question.kind
        if key in by_kind:
            answers[question.pk] = by_kind[key]
    return answers


def test_stores_answers_scores_and_segment_snapshot():
    gold = SegmentFactory(name="Gold")
    customer = CustomerFactory(segment=gold)
    survey = relational_survey()
    invitation = InvitationFactory(survey=survey, customer=customer)
    answers = _answers(
        survey, nps=9, text="Fast", likelihood_repurchase=8, likelihood_switch=2, overall=4, **{"delivery speed": 5}
    )
    response = response_submit(survey=survey, invitation=invitation, answers=answers, language="es")
    assert (response.nps, response.likelihood_repurchase, response.likelihood_switch, response.overall) == (9, 8, 2, 4)
    assert response.comment == "Fast"
    assert response.segment == gold and response.customer == customer
    assert (response.survey_type, response.touchpoint, response.language, response.channel) == (
        "relational",
        "relationship",
        "es",
        Channel.EMAIL,
    )
    nps_question = survey.questions.get(kind=Question.Kind.NPS)
    assert response.answers[str(nps_question.pk)]["value"] == 9
    assert list(AttributeScore.objects.values_list("attribute", "score", "segment")) == [("delivery speed", 5, gold.pk)]
    invitation.refresh_from_db()
    assert invitation.responded_at == response.submitted_at

    # The snapshot does not follow later segment moves.
    customer.segment = SegmentFactory(name="Silver")
    customer.save()
    response.refresh_from_db()
    assert response.segment == gold


def test_a_second_submit_for_the_same_invitation_is_refused():
    survey = relational_survey()
    invitation = InvitationFactory(survey=survey)
    response_submit(survey=survey, invitation=invitation, answers=_answers(survey, nps=3), language="en")
    invitation.refresh_from_db()
    with pytest.raises(AlreadyAnswered):
        response_submit(survey=survey, invitation=invitation, answers=_answers(survey, nps=10), language="en")
    assert Response.objects.get().nps == 3


def test_anonymous_public_response():
    survey = relational_survey(allow_public_link=True)
    response = response_submit(survey=survey, answers=_answers(survey, nps=7), language="en", channel=Channel.PUBLIC)
    assert response.customer is None and response.segment is None and response.channel == "public"


def test_a_trust_question_fills_the_trust_column():
    survey = relational_survey()
    survey.questions.create(kind=Question.Kind.TRUST, order=50, text_en="How much do you trust us?")
    answers = _answers(survey, nps=9, trust=4)
    response = response_submit(survey=survey, answers=answers, language="en")
    response.refresh_from_db()
    assert (response.nps, response.trust) == (9, 4)


def test_a_trust_answer_outside_its_scale_is_refused_by_the_database():
    from django.db import IntegrityError, transaction

    survey = relational_survey()
    with pytest.raises(IntegrityError), transaction.atomic():
        Response.objects.create(
            survey=survey, survey_type="relational", touchpoint="relationship", audience="b2b", channel="email",
            submitted_at=survey.created_at, trust=6,
        )  # fmt: skip

import pytest
from django.utils import timezone

from customers.tests.factories import CustomerFactory, SegmentFactory
from surveys.models import Invitation
from surveys.tests.factories import InvitationFactory, SurveyFactory

pytestmark = pytest.mark.django_db


def _fields(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def test_invitation_by_token_reads_what_the_orm_reads_in_one_query(django_assert_num_queries):
    from surveys.selectors import invitation_get_by_token, survey_questions
    from surveys.tests.factories import QuestionFactory

    survey = SurveyFactory(languages=["en", "es"], title_es="Encuesta")
    customer = CustomerFactory(segment=SegmentFactory(name="Gold"), value="1234.50")
    invitation = InvitationFactory(survey=survey, customer=customer, opened_at=timezone.now())
    QuestionFactory(survey=survey, order=20, choices_en=["a", "b"])
    QuestionFactory(survey=survey, order=10)
    expected = Invitation.objects.select_related("survey", "customer").get(pk=invitation.pk)

    with django_assert_num_queries(1):  # the survey and the customer come with it
        found = invitation_get_by_token(token=invitation.token)
        assert found.survey.languages == ["en", "es"] and found.customer.segment_id == customer.segment_id
    assert _fields(found) == _fields(expected)  # datetimes, JSON and decimals converted as the ORM does
    assert _fields(found.survey) == _fields(expected.survey)
    assert _fields(found.customer) == _fields(expected.customer)
    assert not found._state.adding and found.pk == invitation.pk
    assert invitation_get_by_token(token="no-such-token") is None
    assert invitation_get_by_token(token="x" * 65) is None

    questions = survey_questions(survey=found.survey)
    assert [_fields(q) for q in questions] == [_fields(q) for q in survey.questions.order_by("order", "id")]
    assert [q.order for q in questions] == [10, 20] and questions[1].choices_en == ["a", "b"]

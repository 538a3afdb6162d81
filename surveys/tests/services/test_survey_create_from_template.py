import pytest

from surveys.models import Question
from surveys.services import SURVEY_TEMPLATES, survey_create_from_template
from surveys.tests.factories import relational_survey

pytestmark = pytest.mark.django_db


def test_relational_nps_template_has_the_key_questions_in_both_languages():
    survey = relational_survey()
    kinds = list(survey.questions.values_list("kind", flat=True))
    assert kinds[:5] == ["nps", "text", "likelihood_repurchase", "likelihood_switch", "overall"]
    assert kinds.count("attribute") == 4
    assert survey.survey_type == "relational"
    assert all(q.text_es for q in survey.questions.all())
    assert survey.title_es and survey.intro_es and survey.thanks_es


@pytest.mark.parametrize("key", list(SURVEY_TEMPLATES))
def test_every_template_creates_a_survey(key):
    survey = survey_create_from_template(template=key, name=key, slug=key.replace("_", "-"))
    assert survey.questions.exists()
    assert survey.questions.filter(kind=Question.Kind.TEXT, required=False).exists()


def test_support_ces_is_transactional_support():
    survey = survey_create_from_template(template="support_ces", name="Support", slug="support")
    assert (survey.survey_type, survey.touchpoint) == ("transactional", "support")
    assert survey.questions.first().kind == "ces"

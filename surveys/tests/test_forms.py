import pytest

from surveys.forms import SurveyResponseForm, field_name
from surveys.models import Question
from surveys.tests.factories import QuestionFactory, SurveyFactory

pytestmark = pytest.mark.django_db


def _form(questions, data=None, initial=None, language="en"):
    return SurveyResponseForm(data, initial=initial or {}, questions=questions, language=language)


def _inputs(form, question):
    return str(next(item["inputs"] for item in form.items() if item["question"] == question))


def test_scale_radios_are_the_markup_the_template_wrote_with_the_preselected_score_checked():
    survey = SurveyFactory()
    nps = QuestionFactory(survey=survey, kind=Question.Kind.NPS)
    html = _inputs(_form([nps], initial={field_name(nps): "7"}), nps)
    assert html.count('type="radio"') == 11
    assert (
        f'<input type="radio" name="q{nps.pk}" value="0" id="id_q{nps.pk}_0" class="btn-check">'
        f'<label class="btn btn-outline-primary" for="id_q{nps.pk}_0">0</label>'
    ) in html
    assert f'value="7" id="id_q{nps.pk}_7" class="btn-check" checked>' in html
    assert html.count(" checked") == 1


def test_a_submitted_value_is_checked_again_and_nothing_without_one():
    survey = SurveyFactory()
    csat = QuestionFactory(survey=survey, kind=Question.Kind.CSAT)
    bound = _form([csat], data={field_name(csat): "3"})
    html = _inputs(bound, csat)
    assert f'value="3" id="id_q{csat.pk}_2" class="btn-check" checked>' in html and html.count(" checked") == 1
    assert " checked" not in _inputs(_form([csat]), csat)


def test_choice_labels_are_escaped_and_in_the_visitor_language():
    survey = SurveyFactory()
    choice = QuestionFactory(
        survey=survey,
        kind=Question.Kind.CHOICE,
        choices_en=["<b>Basic</b>", "Pro & more"],
        choices_es=["Básico", "Pro"],
    )
    html = _inputs(_form([choice], initial={field_name(choice): "1"}), choice)
    assert "&lt;b&gt;Basic&lt;/b&gt;" in html and "Pro &amp; more" in html and "<b>" not in html
    assert (
        f'<div class="form-check"><input type="radio" name="q{choice.pk}" value="1" id="id_q{choice.pk}_1" '
        f'class="form-check-input" checked><label class="form-check-label" for="id_q{choice.pk}_1">'
    ) in html
    assert "Básico" in _inputs(_form([choice], language="es"), choice)


def test_forms_get_their_own_copy_of_the_fields_and_an_edited_question_is_seen_at_once():
    survey = SurveyFactory()
    nps = QuestionFactory(survey=survey, kind=Question.Kind.NPS, text_en="How likely?", required=True)
    first, second = _form([nps]), _form([nps])
    assert first.fields[field_name(nps)] is not second.fields[field_name(nps)]
    first.fields[field_name(nps)].required = False  # a change to one form's field stays in that form
    assert second.fields[field_name(nps)].required and _form([nps]).fields[field_name(nps)].required
    nps.text_en, nps.required = "How likely now?", False
    edited = _form([nps], data={})
    assert edited.fields[field_name(nps)].label == "How likely now?"
    assert edited.is_valid()  # no longer required
    assert not _form([QuestionFactory(survey=survey, kind=Question.Kind.CSAT)], data={}).is_valid()

from __future__ import annotations

import factory
from django.utils import timezone

from customers.tests.factories import CustomerFactory
from surveys.models import Channel, Invitation, Question, Response, Survey, SurveyType, Touchpoint
from surveys.services import invitation_token, survey_create_from_template


class SurveyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Survey

    name = factory.Sequence(lambda n: f"Survey {n}")
    slug = factory.Sequence(lambda n: f"survey-{n}")
    survey_type = SurveyType.RELATIONAL
    touchpoint = Touchpoint.RELATIONSHIP
    languages = factory.LazyFunction(lambda: ["en", "es"])
    title_en = "How are we doing?"
    title_es = "¿Cómo lo estamos haciendo?"
    intro_en = "Two minutes, please."
    intro_es = "Dos minutos, por favor."
    thanks_en = "Thanks a lot!"
    thanks_es = "¡Muchas gracias!"


class QuestionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Question

    survey = factory.SubFactory(SurveyFactory)
    order = factory.Sequence(lambda n: n)
    kind = Question.Kind.NPS
    text_en = "How likely are you to recommend us?"
    text_es = "¿Nos recomendaría?"


class InvitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invitation

    survey = factory.SubFactory(SurveyFactory)
    customer = factory.SubFactory(CustomerFactory)
    token = factory.LazyFunction(invitation_token)
    segment = factory.LazyAttribute(lambda o: o.customer.segment)
    status = Invitation.Status.SENT
    sent_at = factory.LazyFunction(timezone.now)


class ResponseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Response

    survey = factory.SubFactory(SurveyFactory)
    survey_type = factory.LazyAttribute(lambda o: o.survey.survey_type)
    touchpoint = factory.LazyAttribute(lambda o: o.survey.touchpoint)
    audience = factory.LazyAttribute(lambda o: o.survey.audience)
    channel = Channel.EMAIL
    submitted_at = factory.LazyFunction(timezone.now)
    nps = 9


def relational_survey(slug: str = "relational-nps", **fields) -> Survey:
    """The "Relational NPS" template: NPS, reason, repurchase, switch, overall, four attribute ratings."""
    return survey_create_from_template(template="relational_nps", name="Relational NPS", slug=slug, **fields)


def valid_answers(survey: Survey, nps: int = 9) -> dict[str, str]:
    """POST data answering every question of a survey."""
    data = {}
    for question in survey.questions.all():
        if question.kind == Question.Kind.NPS:
            data[f"q{question.pk}"] = str(nps)
        elif question.scale:
            data[f"q{question.pk}"] = str(question.scale[1])
        elif question.kind == Question.Kind.TEXT:
            data[f"q{question.pk}"] = "Great service"
        elif question.kind == Question.Kind.CHOICE:
            data[f"q{question.pk}"] = "0"
    return data

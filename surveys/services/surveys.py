"""Creating surveys from the built-in templates, and the rule that protects a survey's history."""

from __future__ import annotations

from dataclasses import dataclass, replace

from django.db import transaction
from django.utils.translation import gettext

from surveys.models import Question, Survey, SurveyType, Touchpoint

Kind = Question.Kind


@dataclass(frozen=True)
class QuestionSpec:
    kind: str
    text_en: str
    text_es: str
    attribute: str = ""
    attribute_es: str = ""
    required: bool = True


# Customer-facing texts live on the survey, in each language; these are only the starting point.
NPS = QuestionSpec(
    Kind.NPS,
    "How likely are you to recommend us to a friend or colleague?",
    "¿Qué probabilidad hay de que nos recomiende a un amigo o colega?",
)
REASON = QuestionSpec(
    Kind.TEXT,
    "What is the main reason for your score?",
    "¿Cuál es la razón principal de su puntuación?",
    required=False,
)
REPURCHASE = QuestionSpec(
    Kind.LIKELIHOOD_REPURCHASE,
    "How likely are you to buy from us again?",
    "¿Qué probabilidad hay de que vuelva a comprarnos?",
)
SWITCH = QuestionSpec(
    Kind.LIKELIHOOD_SWITCH,
    "How likely are you to switch to a competitor?",
    "¿Qué probabilidad hay de que se cambie a un competidor?",
)
OVERALL = QuestionSpec(
    Kind.OVERALL,
    "Overall, how would you rate your experience with us?",
    "En general, ¿cómo valoraría su experiencia con nosotros?",
)
CSAT = QuestionSpec(
    Kind.CSAT,
    "How satisfied were you with this experience?",
    "¿Qué tan satisfecho quedó con esta experiencia?",
)
CES = QuestionSpec(
    Kind.CES,
    "The company made it easy for me to handle my issue.",
    "La empresa me facilitó resolver mi problema.",
)
DEFAULT_ATTRIBUTES = [
    ("product quality", "calidad del producto"),
    ("delivery speed", "rapidez de la entrega"),
    ("customer support", "atención al cliente"),
    ("value for money", "relación calidad-precio"),
]


def _attribute(name_en: str, name_es: str) -> QuestionSpec:
    return QuestionSpec(
        Kind.ATTRIBUTE,
        f"How would you rate our {name_en}?",
        f"¿Cómo valoraría nuestra {name_es}?" if name_es else "",
        attribute=name_en,
        attribute_es=name_es,
    )


@dataclass(frozen=True)
class SurveyTemplate:
    key: str
    label: str
    survey_type: str
    touchpoint: str
    questions: tuple[QuestionSpec, ...]
    title_en: str
    title_es: str


SURVEY_TEMPLATES: dict[str, SurveyTemplate] = {
    t.key: t
    for t in [
        SurveyTemplate(
            "relational_nps",
            "Relational NPS",
            SurveyType.RELATIONAL,
            Touchpoint.RELATIONSHIP,
            # Only the NPS question needs an answer: the score clicked in the email is a whole response.
            (
                NPS,
                *(
                    replace(spec, required=False)
                    for spec in (
                        REASON,
                        REPURCHASE,
                        SWITCH,
                        OVERALL,
                        *(_attribute(en, es) for en, es in DEFAULT_ATTRIBUTES),
                    )
                ),
            ),
            "How are we doing?",
            "¿Cómo lo estamos haciendo?",
        ),
        SurveyTemplate(
            "transactional_csat",
            "Transactional CSAT",
            SurveyType.TRANSACTIONAL,
            Touchpoint.PURCHASE,
            (CSAT, REASON),
            "How was your recent experience?",
            "¿Qué tal fue su experiencia reciente?",
        ),
        SurveyTemplate(
            "support_ces",
            "Support CES",
            SurveyType.TRANSACTIONAL,
            Touchpoint.SUPPORT,
            (CES, REASON),
            "How was your support case?",
            "¿Qué tal fue su caso de soporte?",
        ),
    ]
}


@transaction.atomic
def survey_create_from_template(
    *, template: str, name: str, slug: str, languages: list[str] | None = None, **survey_fields
) -> Survey:
    spec = SURVEY_TEMPLATES[template]
    survey = Survey.objects.create(
        name=name,
        slug=slug,
        survey_type=survey_fields.pop("survey_type", spec.survey_type),
        touchpoint=survey_fields.pop("touchpoint", spec.touchpoint),
        languages=languages or ["en", "es"],
        title_en=spec.title_en,
        title_es=spec.title_es,
        intro_en="Thank you for taking two minutes to tell us how we are doing.",
        intro_es="Gracias por dedicarnos dos minutos para contarnos cómo lo estamos haciendo.",
        thanks_en="Thank you! Your answers help us improve.",
        thanks_es="¡Gracias! Sus respuestas nos ayudan a mejorar.",
        **survey_fields,
    )
    Question.objects.bulk_create(
        Question(
            survey=survey,
            order=(i + 1) * 10,
            kind=q.kind,
            text_en=q.text_en,
            text_es=q.text_es,
            attribute=q.attribute,
            attribute_es=q.attribute_es,
            required=q.required,
        )
        for i, q in enumerate(spec.questions)
    )
    return survey


def question_change_error(*, question: Question, kind: str, attribute: str) -> str | None:
    """Why this change to an existing question must be refused, or None.

    Once a survey has responses, a question's kind (and so its scale) and an attribute's name are frozen:
    changing them would re-label the answers already given.
    """
    if question.pk is None:
        return None
    original = Question.objects.filter(pk=question.pk).values("kind", "attribute").first()
    if original is None or (original["kind"] == kind and original["attribute"] == attribute):
        return None
    count = question.survey.responses.count() if question.survey_id else 0
    if not count:
        return None
    return gettext(
        "This survey already has %(count)s responses: a question's kind, scale or attribute cannot change "
        "because it would corrupt their history. Add a new question (or create a new survey) instead."
    ) % {"count": count}

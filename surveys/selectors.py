"""Reads of the surveys app."""

from __future__ import annotations

from surveys.models import Invitation, Question, Survey


def invitation_get_by_token(*, token: str) -> Invitation | None:
    """The invitation of a survey link with its survey and customer; None for an unknown token or a
    customer deleted since (their link no longer opens)."""
    if not token or len(token) > 64:
        return None
    return Invitation.objects.select_related("survey", "customer").filter(token=token, customer__isnull=False).first()


def survey_get_public(*, slug: str) -> Survey | None:
    return Survey.objects.filter(slug=slug, allow_public_link=True).first()


def survey_questions(*, survey: Survey) -> list[Question]:
    """The survey's questions in their order."""
    return list(survey.questions.order_by("order", "id"))


def attribute_labels(*, language: str) -> dict[str, str]:
    """Attribute names in ``language`` by their key (the English name); the latest question that gives
    one wins, and an attribute without one keeps its key."""
    if language != "es":
        return {}
    rows = (
        Question.objects.filter(kind=Question.Kind.ATTRIBUTE)
        .exclude(attribute_es="")
        .order_by("pk")
        .values_list("attribute", "attribute_es")
    )
    return dict(rows)


def survey_has_responses(*, survey: Survey) -> bool:
    return survey.pk is not None and survey.responses.exists()

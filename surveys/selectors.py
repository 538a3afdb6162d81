"""Reads of the surveys app."""

from __future__ import annotations

from core.definitions import SCORE_QUESTIONS
from surveys.models import Invitation, Question, Response, Survey


def invitation_get_by_token(*, token: str) -> Invitation | None:
    """The invitation of a survey link with its survey and customer; None for an unknown token or a
    customer deleted since (their link no longer opens)."""
    if not token or len(token) > 64:
        return None
    return Invitation.objects.select_related("survey", "customer").filter(token=token, customer__isnull=False).first()


def invitation_response_scores(*, invitation: Invitation) -> tuple[bool, int | None] | None:
    """(partial, nps) of the invitation's response; None when it has none."""
    row = Response.objects.filter(invitation=invitation).values_list("partial", "nps").first()
    return tuple(row) if row else None


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


def customer_survey_records(*, customer_id: int) -> dict[str, list[dict]]:
    """What the surveys hold about one customer, for their data export: their responses (scores,
    comment, every answer) and invitations (without the link's token), oldest first."""
    responses = [
        {
            "survey": r.survey.name,
            "submitted_at": r.submitted_at,
            "channel": r.channel,
            "language": r.language,
            "segment_at_the_time": r.segment.name if r.segment else None,
            "scores": {q: getattr(r, q) for q in SCORE_QUESTIONS if getattr(r, q) is not None},
            "attribute_ratings": {a.attribute: a.score for a in r.attribute_scores.all()},
            "comment": r.comment,
            "answers": [
                {"question": a.get("text", ""), "kind": a.get("kind", ""), "answer": a.get("value")}
                for a in (r.answers or {}).values()
                if isinstance(a, dict)
            ],
            "imported_response_id": r.external_id or None,
        }
        for r in Response.objects.filter(customer_id=customer_id)
        .select_related("survey", "segment")
        .prefetch_related("attribute_scores")
        .order_by("submitted_at", "pk")
    ]
    invitations = list(
        Invitation.objects.filter(customer_id=customer_id)
        .order_by("created_at", "pk")
        .values(
            "survey__name", "status", "channel", "language", "created_at", "sent_at", "opened_at", "responded_at",
            "reminded_at",
        )
    )  # fmt: skip
    for invitation in invitations:
        invitation["survey"] = invitation.pop("survey__name")
    return {"responses": responses, "invitations": invitations}

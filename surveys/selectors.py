"""Reads of the surveys app."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from core.definitions import SCORE_QUESTIONS
from surveys.models import Invitation, Question, Response, Survey


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


def survey_has_responses(*, survey: Survey) -> bool:
    return survey.pk is not None and survey.responses.exists()


RESPONSE_RATE_DIMENSIONS = {
    "survey": "survey__name",
    "type": "survey__survey_type",
    "touchpoint": "survey__touchpoint",
    "segment": "segment__name",
}


def invitation_funnel(*, by: str = "survey", invitations: QuerySet[Invitation] | None = None) -> list[dict]:
    """Sent, failed, opened and responded invitations per survey, type, touchpoint or segment (snapshot),
    with the response rate (responses / sent; None when nothing was sent)."""
    dimension = RESPONSE_RATE_DIMENSIONS[by]
    queryset = invitations if invitations is not None else Invitation.objects.all()
    rows = (
        queryset.values(dimension)
        .annotate(
            sent=Count("pk", filter=Q(status=Invitation.Status.SENT)),
            failed=Count("pk", filter=Q(status__in=[Invitation.Status.FAILED, Invitation.Status.BOUNCED])),
            opened=Count("pk", filter=Q(status=Invitation.Status.SENT, opened_at__isnull=False)),
            responded=Count("pk", filter=Q(status=Invitation.Status.SENT, responded_at__isnull=False)),
        )
        .order_by(dimension)
    )
    return [
        {
            "key": row[dimension],
            "sent": row["sent"],
            "failed": row["failed"],
            "opened": row["opened"],
            "responded": row["responded"],
            "response_rate": round(100 * row["responded"] / row["sent"], 1) if row["sent"] else None,
        }
        for row in rows
    ]


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

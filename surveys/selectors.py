"""Reads of the surveys app."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

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

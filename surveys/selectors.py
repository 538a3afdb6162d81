"""Reads of the surveys app."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from crm_sync.models import Customer
from surveys.models import Invitation, Question, Survey


def invitation_get_by_token(*, token: str) -> Invitation | None:
    if not token or len(token) > 64:
        return None
    # get(), not first(): the token is unique, and first() would add an ORDER BY to compile and run.
    try:
        return Invitation.objects.select_related("survey", "customer").get(token=token)
    except Invitation.DoesNotExist:
        return None


def survey_get_public(*, slug: str) -> Survey | None:
    return Survey.objects.filter(slug=slug, allow_public_link=True).first()


def survey_questions(*, survey: Survey) -> list[Question]:
    return list(survey.questions.order_by("order", "id"))


def survey_has_responses(*, survey: Survey) -> bool:
    return survey.pk is not None and survey.responses.exists()


def customers_targeted(
    *, segment=None, external_ids: list[str] | None = None, emails: list[str] | None = None
) -> QuerySet[Customer]:
    """The customers an invitation run addresses: a list of ids/emails, a value segment, or all active ones."""
    if external_ids is not None or emails is not None:
        query = Q(pk__in=[])
        if external_ids:
            query |= Q(external_id__in=external_ids)
        if emails:
            query |= Q(email__in=emails)
        return Customer.objects.filter(query)
    customers = Customer.objects.filter(status=Customer.Status.ACTIVE)
    if segment is not None:
        customers = customers.filter(segment=segment)
    return customers


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

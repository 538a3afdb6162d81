"""Reads of the surveys app."""

from __future__ import annotations

import copy

from django.db import connection
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from crm_sync.models import Customer
from cxmetrics import rows
from surveys.models import Invitation, Question, QuestionsVersion, Survey

_NOT_READ = object()


def _invitation_sql() -> str:
    return rows.statement(("invitation by token",), _invitation_sql_build)


def _invitation_sql_build() -> str:
    quote = connection.ops.quote_name
    field = Invitation._meta.get_field
    return (
        f"SELECT {rows.columns(Invitation, 'i')}, {rows.columns(Survey, 's')}, {rows.columns(Customer, 'c')}, v.version "
        f"FROM {quote(Invitation._meta.db_table)} i "
        f"JOIN {quote(Survey._meta.db_table)} s ON s.{quote(Survey._meta.pk.column)} = i.{quote(field('survey').column)} "
        f"JOIN {quote(Customer._meta.db_table)} c "
        f"ON c.{quote(Customer._meta.pk.column)} = i.{quote(field('customer').column)} "
        f"LEFT JOIN {quote(QuestionsVersion._meta.db_table)} v ON v.survey_id = s.{quote(Survey._meta.pk.column)} "
        f"WHERE i.{quote(field('token').column)} = %s"
    )


def invitation_get_by_token(*, token: str) -> Invitation | None:
    """The invitation of a survey link with its survey and customer, as
    ``Invitation.objects.select_related("survey", "customer").get(token=token)`` returns it, and the
    survey's ``questions_version`` (see survey_questions). Every open
    and every answer of a link starts here, and compiling that query took longer than running it: the
    join is written out once (cxmetrics.rows) and its row made into the three instances."""
    if not token or len(token) > 64:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_invitation_sql(), [token])
        row = cursor.fetchone()
    if row is None:
        return None
    n_invitation, n_survey = len(Invitation._meta.concrete_fields), len(Survey._meta.concrete_fields)
    invitation = rows.instance(Invitation, row[:n_invitation])
    survey = rows.instance(Survey, row[n_invitation : n_invitation + n_survey])
    customer = rows.instance(Customer, row[n_invitation + n_survey : -1])
    survey.questions_version = row[-1]
    Invitation.survey.field.set_cached_value(invitation, survey)
    Invitation.customer.field.set_cached_value(invitation, customer)
    return invitation


def survey_get_public(*, slug: str) -> Survey | None:
    version = QuestionsVersion.objects.filter(survey_id=OuterRef("pk")).values("version")[:1]
    return (
        Survey.objects.filter(slug=slug, allow_public_link=True).annotate(questions_version=Subquery(version)).first()
    )


# (survey id, questions version) → the survey's questions as read then; see survey_questions.
_QUESTIONS: dict[tuple, list[Question]] = {}
_QUESTIONS_MAX = 200
# The backends migration 0007 gives the triggers that keep QuestionsVersion; elsewhere nothing is kept.
TRIGGER_VENDORS = ("postgresql", "sqlite")


def survey_questions(*, survey: Survey) -> list[Question]:
    """The survey's questions in their order, as ``survey.questions.order_by("order", "id")``; read like
    the invitation above (every open and answer of a survey page reads them).

    A survey read with its ``questions_version`` (invitation_get_by_token, survey_get_public) gets them
    from the per process copy kept for that version, which database triggers change with every write to
    its questions (QuestionsVersion): one round trip and ten instances fewer per page open and answer.
    Each call gets its own copies, tied to ``survey``."""
    version = getattr(survey, "questions_version", _NOT_READ) if connection.vendor in TRIGGER_VENDORS else _NOT_READ
    key = (survey.pk, version)
    kept = None if version is _NOT_READ else _QUESTIONS.get(key)
    if kept is None:
        with connection.cursor() as cursor:
            cursor.execute(rows.statement(("survey questions",), _questions_sql_build), [survey.pk])
            kept = [rows.instance(Question, row) for row in cursor.fetchall()]
        if version is not _NOT_READ:
            if len(_QUESTIONS) >= _QUESTIONS_MAX:
                _QUESTIONS.clear()
            _QUESTIONS[key] = kept
    questions = [copy.copy(question) for question in kept]
    for question in questions:
        Question.survey.field.set_cached_value(question, survey)
    return questions


def _questions_sql_build() -> str:
    quote = connection.ops.quote_name
    field = Question._meta.get_field
    return (
        f"SELECT {rows.columns(Question, 'q')} FROM {quote(Question._meta.db_table)} q "
        f"WHERE q.{quote(field('survey').column)} = %s "
        f"ORDER BY q.{quote(field('order').column)}, q.{quote(Question._meta.pk.column)}"
    )


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

"""Storing a customer's answers: one response per invitation, enforced by the database."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.definitions import SCORE_QUESTIONS
from core.outbox import record_changes
from surveys.models import AttributeScore, Channel, Invitation, Question, Response, Survey

Kind = Question.Kind


class AlreadyAnswered(Exception):
    pass


class SurveyClosed(Exception):
    pass


def answers_to_columns(*, questions: list[Question], answers: dict[int, Any]) -> tuple[dict, dict, list[tuple]]:
    """Split answers (question id → value) into score columns, the stored ``answers`` document and
    attribute ratings. The first question of a kind fills that kind's column."""
    columns: dict[str, Any] = {}
    document: dict[str, Any] = {}
    attributes: list[tuple[str, int]] = []
    comments: list[str] = []
    for question in questions:
        value = answers.get(question.pk)
        if value in (None, ""):
            continue
        document[str(question.pk)] = {"kind": question.kind, "text": question.text_en, "value": value}
        if question.attribute:
            document[str(question.pk)]["attribute"] = question.attribute
        column = question.kind if question.kind in SCORE_QUESTIONS else None
        if column and column not in columns:
            columns[column] = int(value)
        elif question.kind == Kind.ATTRIBUTE and question.attribute:
            if question.attribute not in {name for name, _score in attributes}:
                attributes.append((question.attribute, int(value)))
        elif question.kind == Kind.TEXT:
            comments.append(str(value).strip())
    columns["comment"] = "\n\n".join(c for c in comments if c)
    return columns, document, attributes


def response_submit(
    *,
    survey: Survey,
    answers: dict[int, Any],
    language: str,
    invitation: Invitation | None = None,
    channel: str | None = None,
    questions: list[Question] | None = None,
) -> Response:
    """Store a submitted response. Raises AlreadyAnswered when the invitation has a response (also when a
    concurrent submit got there first) and SurveyClosed outside the survey's dates. ``questions``: the
    survey's questions when the caller has them already (the view validated the answers against them)."""
    now = timezone.now()
    if not survey.is_open(now):
        raise SurveyClosed
    if questions is None:
        questions = list(survey.questions.all())
    columns, document, attributes = answers_to_columns(questions=questions, answers=answers)
    customer = invitation.customer if invitation else None
    segment_id = customer.segment_id if customer else None  # the snapshot: the segment when answering
    try:
        with transaction.atomic():
            response = Response.objects.create(
                survey=survey,
                invitation=invitation,
                customer=customer,
                segment_id=segment_id,
                survey_type=survey.survey_type,
                touchpoint=survey.touchpoint,
                audience=survey.audience,
                language=language,
                channel=channel or (invitation.channel if invitation else Channel.PUBLIC),
                submitted_at=now,
                answers=document,
                **columns,
            )
            AttributeScore.objects.bulk_create(
                AttributeScore(
                    response=response,
                    attribute=name,
                    score=score,
                    submitted_at=now,
                    survey=survey,
                    segment_id=segment_id,
                )
                for name, score in attributes
            )
            if invitation:
                Invitation.objects.filter(pk=invitation.pk).update(responded_at=now)
            record_changes(
                responses=[now],
                invitations=[invitation.sent_at] if invitation else [],
                customers=[customer.pk] if customer else [],
            )
    except IntegrityError as exc:
        if invitation and Response.objects.filter(invitation=invitation).exists():
            raise AlreadyAnswered from exc
        raise
    return response


def responses_delete(*, responses: QuerySet[Response]) -> int:
    """Delete these responses (with their attribute ratings) so that no figure keeps them. The invitation
    keeps ``responded_at``: its link was used, and answering twice stays refused. Returns how many."""
    with transaction.atomic():
        doomed = list(
            responses.select_for_update(of=("self",)).values_list(
                "pk", "submitted_at", "customer_id", "invitation__sent_at"
            )
        )
        if not doomed:
            return 0
        Response.objects.filter(pk__in=[pk for pk, *_ in doomed]).delete()
        record_changes(
            responses=[submitted for _pk, submitted, _c, _s in doomed],
            invitations=[sent for *_, sent in doomed],
            customers=[customer for _pk, _s, customer, _sent in doomed],
        )
    return len(doomed)


# What an erased comment or free-text answer becomes: not blank, so every figure that counts the
# responses with a comment (the comment share, by NPS category) stays as it was.
ERASED_TEXT = "[erased]"


def responses_erase_personal_text(*, customer_ids: list[int]) -> int:
    """Replace the comments and free-text answers of these customers' responses by ``ERASED_TEXT``,
    keeping every score, choice, date and dimension (erasure at the subject's request). No figure
    changes, so nothing is recorded for the read model. Returns how many responses changed."""
    changed: list[Response] = []
    for response in Response.objects.filter(customer_id__in=customer_ids).only("pk", "comment", "answers"):
        answers = response.answers if isinstance(response.answers, dict) else {}
        texts = [a for a in answers.values() if isinstance(a, dict) and a.get("kind") == Kind.TEXT]
        if not response.comment and not texts:
            continue
        if response.comment:
            response.comment = ERASED_TEXT
        for answer in texts:
            answer["value"] = ERASED_TEXT
        changed.append(response)
    Response.objects.bulk_update(changed, ["comment", "answers"], batch_size=500)
    return len(changed)

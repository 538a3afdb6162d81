"""Storing a customer's answers: one response per invitation, enforced by the database."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.definitions import SCALES, SCORE_QUESTIONS
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
    survey's questions when the caller has them already (the view validated the answers against them).
    A response holding only the score clicked in the email (``partial``) is completed in place: the
    customer still has one response, dated when they clicked."""
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
            started = _partial_locked(invitation) if invitation and invitation.responded_at else None
            if started is not None:
                return _response_complete(
                    response=started, columns=columns, document=document, attributes=attributes, language=language
                )
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
            _attribute_scores_create(response, attributes)
            if invitation:
                Invitation.objects.filter(pk=invitation.pk).update(responded_at=now)
            record_changes(
                responses=[now],
                invitations=[invitation.sent_at] if invitation else [],
                customers=[customer.pk] if customer else [],
            )
    except IntegrityError as exc:
        if invitation and Response.objects.filter(invitation=invitation).exists():
            if Response.objects.filter(invitation=invitation, partial=True).exists():
                # A score click stored the response between our read and our insert: complete it.
                invitation.responded_at = now
                return response_submit(
                    survey=survey, answers=answers, language=language, invitation=invitation, questions=questions
                )
            raise AlreadyAnswered from exc
        raise
    return response


def _partial_locked(invitation: Invitation) -> Response | None:
    """The invitation's response when it holds only the email's score (locked for the update); None when
    there is none. Raises AlreadyAnswered when the invitation's response is complete."""
    response = Response.objects.select_for_update().filter(invitation=invitation).first()
    if response is None:
        return None
    if not response.partial:
        raise AlreadyAnswered
    return response


def _attribute_scores_create(response: Response, attributes: list[tuple[str, int]]) -> None:
    AttributeScore.objects.bulk_create(
        AttributeScore(
            response=response,
            attribute=name,
            score=score,
            submitted_at=response.submitted_at,
            survey_id=response.survey_id,
            segment_id=response.segment_id,
        )
        for name, score in attributes
    )


def _response_complete(
    *, response: Response, columns: dict, document: dict, attributes: list[tuple[str, int]], language: str
) -> Response:
    """Replace a partial response's answers by the whole form's (every score column is rewritten, so a
    score changed on the page wins over the one clicked in the email)."""
    for column in SCORE_QUESTIONS:
        setattr(response, column, columns.get(column))
    response.comment = columns.get("comment", "")
    response.answers = document
    response.language = language
    response.partial = False
    response.save(update_fields=[*SCORE_QUESTIONS, "comment", "answers", "language", "partial"])
    AttributeScore.objects.filter(response=response).delete()
    _attribute_scores_create(response, attributes)
    record_changes(responses=[response.submitted_at], customers=[response.customer_id] if response.customer_id else [])
    return response


def response_score_store(*, invitation: Invitation, question: Question, score: int, language: str) -> Response:
    """Store the score the customer clicked in the invitation email, as soon as the survey page has
    loaded in their browser (a script posts it; a link scanner's GET stores nothing). The first click
    creates the invitation's response, marked ``partial``; another click updates that score; the rest
    of the form, sent later, completes the same response. Raises AlreadyAnswered once the form was sent
    and SurveyClosed outside the survey's dates."""
    survey = invitation.survey
    now = timezone.now()
    if not survey.is_open(now):
        raise SurveyClosed
    low, high = question.scale or SCALES["nps"]
    if question.survey_id != survey.pk or question.kind != Kind.NPS or not low <= score <= high:
        raise ValueError(f"Not a score of this survey's NPS question: {score!r}")
    columns, document, _attributes = answers_to_columns(questions=[question], answers={question.pk: score})
    customer = invitation.customer
    for _attempt in range(2):
        try:
            with transaction.atomic():
                started = _partial_locked(invitation)
                if started is not None:
                    started.nps = columns["nps"]
                    started.answers = {**started.answers, **document}
                    started.language = language
                    started.save(update_fields=["nps", "answers", "language"])
                    record_changes(responses=[started.submitted_at], customers=[customer.pk] if customer else [])
                    return started
                response = Response.objects.create(
                    survey=survey,
                    invitation=invitation,
                    customer=customer,
                    segment_id=customer.segment_id if customer else None,
                    survey_type=survey.survey_type,
                    touchpoint=survey.touchpoint,
                    audience=survey.audience,
                    language=language,
                    channel=invitation.channel,
                    submitted_at=now,
                    answers=document,
                    partial=True,
                    **columns,
                )
                Invitation.objects.filter(pk=invitation.pk).update(responded_at=now)
                invitation.responded_at = now
                record_changes(
                    responses=[now], invitations=[invitation.sent_at], customers=[customer.pk] if customer else []
                )
                return response
        except IntegrityError:
            continue  # a concurrent click created it: update it instead
    raise AlreadyAnswered


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

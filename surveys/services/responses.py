"""Storing a customer's answers: one response per invitation, enforced by the database."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from crm_sync.rollups import customer_last_nps_record, customers_last_nps_recompute, events_mark_answered
from cxmetrics import rows
from dashboards.models import RollupDirtyDay
from dashboards.rollups import local_day, rollups_mark_dirty
from surveys.models import AttributeScore, Channel, Invitation, Question, Response, Survey

Kind = Question.Kind

# Question kinds that have a column of their own on Response, for fast aggregation.
SCORE_COLUMNS = {
    Kind.NPS: "nps",
    Kind.CSAT: "csat",
    Kind.CES: "ces",
    Kind.LIKELIHOOD_SWITCH: "likelihood_switch",
    Kind.LIKELIHOOD_REPURCHASE: "likelihood_repurchase",
    Kind.OVERALL: "overall",
}


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
        column = SCORE_COLUMNS.get(question.kind)
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
            # rows.insert: Response.objects.create without compiling the insert (Response has no signal
            # receivers; its rollups are kept by database triggers).
            response = rows.insert(
                Response(
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
                rows.update(Invitation, invitation.pk, {"responded_at": now})
            if customer is not None and response.nps is not None:
                customer_last_nps_record(customer_id=customer.pk, nps=response.nps, submitted_at=now)
    except IntegrityError as exc:
        if invitation and Response.objects.filter(invitation=invitation).exists():
            raise AlreadyAnswered from exc
        raise
    return response


def responses_delete(*, responses: QuerySet[Response]) -> int:
    """Delete these responses (with their attribute ratings) so that no figure keeps them: in the same
    transaction the days they were submitted on and the days their invitations were sent on are marked
    dirty for the survey rollups, the days of the customers' losses they were flags of for the event
    rollups, and the customers' latest NPS answer is recomputed from the answers left. The invitation
    keeps ``responded_at``: its link was used, and answering twice stays refused. Returns how many."""
    with transaction.atomic():
        doomed = list(
            responses.select_for_update(of=("self",)).values_list(
                "pk", "submitted_at", "customer_id", "nps", "invitation__sent_at"
            )
        )
        if not doomed:
            return 0
        Response.objects.filter(pk__in=[pk for pk, *_ in doomed]).delete()
        rollups_mark_dirty(days={local_day(submitted) for _pk, submitted, *_ in doomed})
        rollups_mark_dirty(days={local_day(sent) for *_, sent in doomed if sent}, kind=RollupDirtyDay.Kind.INVITATION)
        events_mark_answered(answers=[(customer, submitted) for _pk, submitted, customer, *_ in doomed])
        answered = [
            (customer, submitted)
            for _pk, submitted, customer, nps, _sent in doomed
            if customer is not None and nps is not None
        ]
        if answered:
            customers_last_nps_recompute(customer_ids={c for c, _s in answered}, up_to=max(s for _c, s in answered))
    return len(doomed)

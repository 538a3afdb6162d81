"""Writes of the surveys app. Views, admin, commands and tasks call these; nothing else writes."""

from .email import InvitationSendError, classify_smtp_error, invitation_message
from .imports import ImportFileError, ImportReport, responses_import
from .invitations import (
    InvitationError,
    InvitePlan,
    contact_policy_days,
    customer_unsubscribe,
    customers_invitable,
    invitation_create_for_api,
    invitation_mark_failed,
    invitation_mark_opened,
    invitation_remind,
    invitation_send,
    invitation_token,
    invitations_create,
    invitations_delete,
    invitations_queue,
    invitations_remind_due,
    invitations_reminder_due,
    invitations_requeue_stuck,
    invitations_send_batch,
)
from .responses import AlreadyAnswered, SurveyClosed, answers_to_columns, response_submit, responses_delete
from .surveys import SURVEY_TEMPLATES, question_change_error, survey_create_from_template

__all__ = [
    "SURVEY_TEMPLATES", "AlreadyAnswered", "ImportFileError", "ImportReport", "InvitationError",
    "InvitationSendError", "InvitePlan", "SurveyClosed", "answers_to_columns", "classify_smtp_error",
    "contact_policy_days", "customer_unsubscribe", "customers_invitable", "invitation_create_for_api",
    "invitation_mark_failed", "invitation_mark_opened", "invitation_message", "invitation_remind",
    "invitation_send", "invitation_token", "invitations_create", "invitations_delete", "invitations_queue", "invitations_remind_due",
    "invitations_reminder_due", "invitations_requeue_stuck", "invitations_send_batch", "question_change_error", "response_submit",
    "responses_delete", "responses_import",
    "survey_create_from_template",
]

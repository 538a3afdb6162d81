"""The invitation and reminder emails, and which SMTP failures a retry can fix."""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from customers.models import Audience
from surveys.models import Invitation, Question


class InvitationSendError(Exception):
    """Sending failed; ``permanent`` says that retrying cannot help (e.g. a 5xx "no such user")."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


def classify_smtp_error(exc: Exception) -> InvitationSendError:
    # Authentication failures are an operator's configuration problem: retry (with a cap) rather than
    # marking every invitation of the batch as permanently failed.
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return InvitationSendError(f"SMTP authentication failed: {exc}", permanent=False)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _message in exc.recipients.values()]
        permanent = bool(codes) and all(500 <= code < 600 for code in codes)
        return InvitationSendError(f"recipient refused: {exc.recipients}", permanent=permanent)
    if isinstance(exc, smtplib.SMTPResponseException):
        return InvitationSendError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", permanent=500 <= exc.smtp_code < 600)
    if isinstance(exc, OSError):  # SMTPServerDisconnected, SMTPConnectError, timeouts, refused connections
        return InvitationSendError(f"SMTP unavailable: {exc}", permanent=False)
    raise exc


def absolute_url(path: str) -> str:
    return f"{getattr(settings, 'SITE_URL', 'http://127.0.0.1:8000').rstrip('/')}{path}"


def greeting_name(customer) -> str:
    """Whom the invitation greets: the contact person the CRM gives (``contact_name``, when the customer
    record has one), else a consumer's own name. Never a business customer's name: that is the company,
    and "Hello Acme Logistics S.A.," reads as a mass mailing. Empty: a greeting without a name."""
    contact = (getattr(customer, "contact_name", "") or "").strip()
    if contact:
        return contact
    return (customer.name or "").strip() if customer.audience == Audience.B2C else ""


def invitation_message(*, invitation: Invitation, reminder: bool = False) -> EmailMultiAlternatives:
    survey = invitation.survey
    language = invitation.language
    survey_url = absolute_url(reverse("surveys-answer", args=[invitation.token]))
    unsubscribe_url = absolute_url(reverse("surveys-unsubscribe", args=[invitation.token]))
    nps_question = next((q for q in survey.questions.all() if q.kind == Question.Kind.NPS), None)
    with translation.override(language):
        context = {
            "survey": survey,
            "customer": invitation.customer,
            "greeting_name": greeting_name(invitation.customer),
            "title": survey.text("title", language) or survey.name,
            "intro": survey.text("intro", language),
            "survey_url": survey_url,
            "unsubscribe_url": unsubscribe_url,
            "nps_question": nps_question.text_in(language) if nps_question else "",
            "nps_links": [(score, f"{survey_url}?nps={score}") for score in range(11)] if nps_question else [],
            "reminder": reminder,
            "language": language,
        }
        subject = survey.text("email_subject", language) or context["title"]
        if reminder:
            subject = gettext("Reminder: %(subject)s") % {"subject": subject}
        text_body = render_to_string("surveys/email/invitation.txt", context)
        html_body = render_to_string("surveys/email/invitation.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text_body,
        to=[invitation.customer.email],
        headers={
            # RFC 8058 one-click unsubscribe: mail clients POST to the link, which needs no login.
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    message.attach_alternative(html_body, "text/html")
    return message

"""Cases: open, assign, move through their statuses, note, email the customer, close with an outcome.
Each change writes one timeline entry in the same transaction."""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext

from complaints.models import Complaint
from customers.models import Customer
from customers.suppression import suppressed_crm_ids, suppressed_emails
from followup.models import AlertRule, Case, CaseEmail, CaseNote, Priority
from surveys.models import Response

Status = Case.Status
Outcome = Case.Outcome
EMAIL_LANGUAGES = ("en", "es")
# A follow-up email the mail server refuses is tried this many times in all, waiting 1, 2, 4, 8 minutes.
CASE_EMAIL_MAX_ATTEMPTS = 5
CASE_EMAIL_RETRY_FIRST_SECONDS = 60
CASE_EMAIL_RETRY_MAX_SECONDS = 3600

logger = logging.getLogger(__name__)


class CaseError(Exception):
    """A change a case cannot take (closing a closed case, an unknown status or outcome)."""


class CaseEmailRefused(CaseError):
    """The customer may not be emailed (unsubscribed, suppressed, erased or no address)."""


def _note(*, case: Case, kind: str, by, text: str, at: datetime) -> CaseNote:
    return CaseNote.objects.create(case=case, kind=kind, author=by, text=text, created_at=at)


@transaction.atomic
def case_open(
    *,
    customer: Customer,
    owner=None,
    response: Response | None = None,
    complaint: Complaint | None = None,
    rule: AlertRule | None = None,
    by=None,
    priority: str = Priority.NORMAL,
    sla_hours: int | None = None,
    note: str = "",
    now: datetime | None = None,
) -> Case:
    """A new open case on ``customer`` (and the answer that prompted it, if any), due ``sla_hours`` after
    now; a rule's SLA and priority when a rule opens it."""
    if complaint is not None and complaint.customer_id != customer.pk:
        raise CaseError(gettext("The complaint is not this customer's."))
    if response is not None and response.customer_id != customer.pk:
        raise CaseError(gettext("The response is not from this customer."))
    if priority not in Priority.values:
        raise CaseError(gettext("Unknown priority: %(priority)s.") % {"priority": priority})
    if sla_hours is not None and sla_hours < 1:
        raise CaseError(gettext("The SLA must be at least one hour."))
    now = now or timezone.now()
    if rule is not None:
        sla_hours = sla_hours or rule.sla_hours
    case = Case.objects.create(
        customer=customer,
        response=response,
        complaint=complaint,
        owner=owner,
        priority=priority,
        created_at=now,
        due_at=now + timedelta(hours=sla_hours) if sla_hours else None,
        opened_by_rule=rule,
        opened_by_user=by,
    )
    text = note or (gettext("Opened by the alert rule “%(rule)s”.") % {"rule": rule.name} if rule else "")
    _note(case=case, kind=CaseNote.Kind.OPENED, by=by, text=text, at=now)
    return case


def _locked(case: Case) -> Case:
    return Case.objects.select_for_update().get(pk=case.pk)


@transaction.atomic
def case_assign(*, case: Case, owner, by=None, now: datetime | None = None) -> Case:
    case = _locked(case)
    if case.owner_id == (owner.pk if owner else None):
        return case
    case.owner = owner
    case.save(update_fields=["owner"])
    name = owner.get_username() if owner else gettext("nobody")
    _note(
        case=case,
        kind=CaseNote.Kind.ASSIGNED,
        by=by,
        text=gettext("Assigned to %(name)s.") % {"name": name},
        at=now or timezone.now(),
    )
    return case


@transaction.atomic
def case_status_set(*, case: Case, status: str, by=None, now: datetime | None = None) -> Case:
    """Open, in progress or waiting; closing takes an outcome (``case_close``). A closed case reopens."""
    if status == Status.CLOSED:
        raise CaseError(gettext("Close a case with an outcome."))
    if status not in Status.values:
        raise CaseError(gettext("Unknown status: %(status)s.") % {"status": status})
    case = _locked(case)
    if case.status == status:
        return case
    before = case.get_status_display()
    case.status = status
    case.closed_at = None
    case.outcome = ""
    case.save(update_fields=["status", "closed_at", "outcome"])
    text = gettext("Status: %(before)s → %(after)s.") % {"before": before, "after": case.get_status_display()}
    _note(case=case, kind=CaseNote.Kind.STATUS, by=by, text=text, at=now or timezone.now())
    return case


@transaction.atomic
def case_note_add(*, case: Case, text: str, by=None, contacted: bool = False, now: datetime | None = None) -> CaseNote:
    """A note; ``contacted``: it records a contact with the customer (a call), which may be the first."""
    text = text.strip()
    if not text:
        raise CaseError(gettext("A note needs some text."))
    now = now or timezone.now()
    if contacted:
        Case.objects.filter(pk=case.pk, first_contact_at__isnull=True).update(first_contact_at=now)
    return _note(case=case, kind=CaseNote.Kind.NOTE, by=by, text=text, at=now)


@transaction.atomic
def case_close(*, case: Case, outcome: str, by=None, note: str = "", now: datetime | None = None) -> Case:
    """Closed with an outcome. ``contacted`` with no contact recorded yet makes the close the first contact."""
    if outcome not in Outcome.values:
        raise CaseError(gettext("Unknown outcome: %(outcome)s.") % {"outcome": outcome})
    now = now or timezone.now()
    case = _locked(case)
    if case.status == Status.CLOSED:
        raise CaseError(gettext("The case is already closed."))
    case.status = Status.CLOSED
    case.outcome = outcome
    case.closed_at = now
    if outcome == Outcome.CONTACTED and case.first_contact_at is None:
        case.first_contact_at = now
    case.save(update_fields=["status", "outcome", "closed_at", "first_contact_at"])
    text = gettext("Closed: %(outcome)s.") % {"outcome": case.get_outcome_display()}
    if note.strip():
        text = f"{text}\n{note.strip()}"
    _note(case=case, kind=CaseNote.Kind.CLOSED, by=by, text=text, at=now)
    return case


def _refusal(customer: Customer) -> str | None:
    if customer.erased_at is not None:
        return gettext("The customer's personal data was erased.")
    if not customer.email:
        return gettext("The customer has no email address.")
    if customer.unsubscribed_at is not None:
        return gettext("The customer unsubscribed from our emails.")
    if suppressed_emails(emails=[customer.email]) or suppressed_crm_ids(
        external_ids=[customer.external_id], connection_ids=[customer.connection_id]
    ):
        return gettext("The customer is on the suppression list.")
    return None


def case_email_message(*, case: Case, message: str = "", sender=None) -> EmailMultiAlternatives:
    """The follow-up email in the customer's language (English when we have no template in theirs)."""
    customer = case.customer
    language = customer.language if customer.language in EMAIL_LANGUAGES else "en"
    with translation.override(language):
        context = {
            "customer": customer,
            "name": customer.name,
            "message": message.strip(),
            "sender": (sender.get_full_name() or sender.get_username()) if sender else "",
            "response": case.response,
        }
        subject = gettext("Following up on your feedback")
        body = render_to_string("followup/email/followup.txt", context)
    reply_to = [sender.email] if sender is not None and sender.email else None
    return EmailMultiAlternatives(subject=subject, body=body, to=[customer.email], reply_to=reply_to)


def case_email_send(*, case: Case, message: str = "", by=None, now: datetime | None = None) -> CaseEmail:
    """Queue the customer's follow-up email and log it as queued; a worker sends it (``case_email_deliver``).
    A customer who may not be emailed gets nothing: the refusal is logged instead, then raised."""
    now = now or timezone.now()
    case = Case.objects.select_related("customer").get(pk=case.pk)
    refusal = _refusal(case.customer)
    if refusal:
        _note(case=case, kind=CaseNote.Kind.EMAIL_BLOCKED, by=by, text=refusal, at=now)
        raise CaseEmailRefused(refusal)
    with transaction.atomic():
        email = CaseEmail.objects.create(
            case=case, author=by, message=message.strip(), created_at=now, next_attempt_at=now
        )
        text = "\n\n".join(filter(None, [gettext("The follow-up email is queued for sending."), message.strip()]))
        _note(case=case, kind=CaseNote.Kind.EMAIL_QUEUED, by=by, text=text, at=now)
        transaction.on_commit(lambda: _queue(email.pk))
    return email


def _queue(email_id: int, countdown: float | None = None) -> None:
    from followup.tasks import case_email_task

    case_email_task.apply_async(args=[email_id], countdown=countdown)


def case_email_retry_wait(*, attempts: int) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: doubling, capped."""
    return min(CASE_EMAIL_RETRY_MAX_SECONDS, CASE_EMAIL_RETRY_FIRST_SECONDS * 2 ** max(0, attempts - 1))


def case_email_deliver(*, email_id: int, now: datetime | None = None) -> str:
    """Send one queued follow-up email if this worker claims it; returns its status afterwards ("taken" when
    another run has it or it is done). Whether the customer may be emailed is checked again here: they may
    have unsubscribed or been erased since it was queued. A mail server error leaves it pending until the
    attempts run out."""
    now = now or timezone.now()
    claimed = CaseEmail.objects.filter(pk=email_id, status=CaseEmail.Status.PENDING).update(
        status=CaseEmail.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1
    )
    if not claimed:
        return "taken"
    email = CaseEmail.objects.select_related("case__customer", "case__response", "author").get(pk=email_id)
    case = email.case
    refusal = _refusal(case.customer)
    if refusal:
        with transaction.atomic():
            _email_finish(email, CaseEmail.Status.REFUSED, error=refusal)
            _note(case=case, kind=CaseNote.Kind.EMAIL_BLOCKED, by=email.author, text=refusal, at=now)
        return CaseEmail.Status.REFUSED
    message = case_email_message(case=case, message=email.message, sender=email.author)
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as exc:
        # Refused by the mail server or not reached: nothing was delivered.
        logger.warning("case email %s not sent (attempt %s): %s", email.pk, email.attempts, exc)
        if email.attempts >= CASE_EMAIL_MAX_ATTEMPTS:
            text = gettext("The email could not be sent after %(count)s attempts: %(error)s") % {
                "count": email.attempts,
                "error": exc,
            }
            with transaction.atomic():
                _email_finish(email, CaseEmail.Status.FAILED, error=str(exc))
                _note(case=case, kind=CaseNote.Kind.EMAIL_BLOCKED, by=email.author, text=text, at=now)
            return CaseEmail.Status.FAILED
        wait = case_email_retry_wait(attempts=email.attempts)
        _email_finish(email, CaseEmail.Status.PENDING, error=str(exc), next_attempt_at=now + timedelta(seconds=wait))
        return CaseEmail.Status.PENDING
    with transaction.atomic():
        _email_finish(email, CaseEmail.Status.SENT, sent_at=now)
        Case.objects.filter(pk=case.pk, first_contact_at__isnull=True).update(first_contact_at=now)
        _note(case=case, kind=CaseNote.Kind.EMAIL, by=email.author, text=f"{message.subject}\n\n{message.body}", at=now)
    return CaseEmail.Status.SENT


def _email_finish(email: CaseEmail, status: str, *, error: str = "", **extra) -> int:
    """Leave "sending" for ``status``; 0 when the email is no longer being sent (another run finished it)."""
    return CaseEmail.objects.filter(pk=email.pk, status=CaseEmail.Status.SENDING).update(
        status=status, error=error, next_attempt_at=extra.pop("next_attempt_at", None), **extra
    )


def case_emails_requeue(*, older_than: timedelta = timedelta(minutes=10), now: datetime | None = None) -> int:
    """Queue again the pending follow-up emails whose task was lost (a broker restart): due long ago and
    still pending. The claim makes a late duplicate task send nothing."""
    now = now or timezone.now()
    stuck = list(
        CaseEmail.objects.filter(status=CaseEmail.Status.PENDING, next_attempt_at__lt=now - older_than).values_list(
            "pk", flat=True
        )[:1000]
    )
    for email_id in stuck:
        _queue(email_id)
    return len(stuck)


def case_emails_abandoned_fail(*, older_than: timedelta = timedelta(minutes=30), now: datetime | None = None) -> int:
    """Mark failed the follow-up emails a worker claimed and never finished (it stopped mid-send). Whether
    the message left is unknown, so it is not sent again (an email goes out at most once); the case's
    timeline says so, and its handler decides whether to write again. Returns how many."""
    now = now or timezone.now()
    stuck = CaseEmail.objects.filter(status=CaseEmail.Status.SENDING, claimed_at__lt=now - older_than)
    text = gettext(
        "The worker stopped while sending this email: it may or may not have reached the customer. "
        "Check before writing again."
    )
    failed = 0
    for email in stuck.select_related("case", "author")[:1000]:
        with transaction.atomic():
            # Only if it is still the abandoned claim: a slow send that finished meanwhile keeps its status.
            if _email_finish(email, CaseEmail.Status.FAILED, error=text):
                _note(case=email.case, kind=CaseNote.Kind.EMAIL_BLOCKED, by=email.author, text=text, at=now)
                failed += 1
    return failed


def cases_default_sla_hours() -> int:
    return int(getattr(settings, "CASE_DEFAULT_SLA_HOURS", 48))

"""Inviting customers: who may be invited (one contact policy for every survey), creating invitations,
sending them (called by the Celery tasks), reminders and unsubscribing."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.mail import get_connection
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from core.outbox import record_changes
from customers import services as customers
from customers.models import Customer
from customers.suppression import normalised_email, suppressed_crm_ids, suppressed_emails
from surveys.models import Channel, Invitation, Survey

from .email import InvitationSendError, classify_smtp_error, invitation_message

logger = logging.getLogger(__name__)


def send_stuck_after() -> timedelta:
    """A send claimed this long ago belongs to a worker that died mid-send (one email takes seconds, its
    SMTP operations are bounded by EMAIL_TIMEOUT), and a queued invitation still unclaimed this long
    after its task was due lost that task: either is queued again, and another worker may take it."""
    return timedelta(seconds=max(60, int(getattr(settings, "SURVEY_SEND_STUCK_SECONDS", 300))))


class InvitationError(Exception):
    """An invitation cannot be created; ``code`` is machine-readable for the API."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


def invitation_token() -> str:
    return secrets.token_urlsafe(24)  # 192 random bits


def contact_policy_days(survey: Survey) -> int:
    if survey.contact_policy_days is not None:
        return survey.contact_policy_days
    return int(getattr(settings, "SURVEY_CONTACT_POLICY_DAYS", 90))


def _recently_invited(survey: Survey, now):
    """Customers contacted (by any survey) within the survey's contact-policy window."""
    since = now - timedelta(days=contact_policy_days(survey))
    return Invitation.objects.filter(
        customer=OuterRef("pk"),
        created_at__gte=since,
        status__in=[Invitation.Status.QUEUED, Invitation.Status.SENT],
    )


def customers_invitable(*, survey: Survey, customers: QuerySet[Customer], now=None) -> QuerySet[Customer]:
    """Of ``customers``, those the contact policy allows to invite now. An erased customer is also
    unsubscribed and without email; an email on the suppression list is checked by the callers, on
    the rows they load (a keyed hash cannot be compared in SQL)."""
    now = now or timezone.now()
    return (
        customers.filter(unsubscribed_at__isnull=True, erased_at__isnull=True)
        .exclude(email="")
        .exclude(status=Customer.Status.PROSPECT)
        .annotate(_recent=Exists(_recently_invited(survey, now)))
        .filter(_recent=False)
    )


@dataclass
class InvitePlan:
    targeted: int = 0
    eligible: int = 0  # allowed by the contact policy
    invitable: int = 0  # eligible and within the limit
    suppressed: int = 0  # eligible, but their email is on the suppression list (erased on another customer)
    invitation_ids: list[int] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return self.targeted - self.eligible


def _ensure_can_invite(survey: Survey, now) -> None:
    if not survey.is_open(now):
        raise InvitationError("The survey is closed (see its open and close dates).", code="survey_closed")
    if not survey.questions.exists():
        raise InvitationError("The survey has no questions.", code="survey_empty")


def invitations_create(
    *,
    survey: Survey,
    customers: QuerySet[Customer],
    limit: int | None = None,
    dry_run: bool = False,
    channel: str = Channel.EMAIL,
    queue: bool = True,
) -> InvitePlan:
    """Invite the customers the contact policy allows, and queue the emails once the rows are committed."""
    now = timezone.now()
    _ensure_can_invite(survey, now)
    plan = InvitePlan(targeted=customers.count())
    eligible = customers_invitable(survey=survey, customers=customers, now=now).order_by("pk")
    plan.eligible = eligible.count()
    if limit is not None:
        eligible = eligible[:limit]
    eligible_rows = list(eligible.only("pk", "language", "segment_id", "email"))
    suppressed = suppressed_emails(emails=[c.email for c in eligible_rows], blocked=not dry_run)
    if suppressed:
        kept = [c for c in eligible_rows if normalised_email(c.email) not in suppressed]
        plan.suppressed = len(eligible_rows) - len(kept)
        eligible_rows = kept
    plan.invitable = len(eligible_rows)
    if dry_run:
        return plan
    with transaction.atomic():
        created = Invitation.objects.bulk_create(
            [
                Invitation(
                    survey=survey,
                    customer_id=c.pk,
                    token=invitation_token(),
                    language=survey.pick_language(c.language),
                    segment_id=c.segment_id,
                    channel=channel,
                )
                for c in eligible_rows
            ],
            batch_size=1000,
        )
        if created and created[0].pk is None:  # backends that do not return ids from bulk inserts
            tokens = [i.token for i in created]
            plan.invitation_ids = list(Invitation.objects.filter(token__in=tokens).values_list("pk", flat=True))
        else:
            plan.invitation_ids = [i.pk for i in created]
        if queue and plan.invitation_ids:
            ids = list(plan.invitation_ids)
            transaction.on_commit(lambda: invitations_queue(invitation_ids=ids))
    return plan


def invitation_create_for_api(
    *, survey: Survey, idempotency_key: str, customer_id: str = "", email: str = "", language: str = ""
) -> tuple[Invitation, bool]:
    """A transactional trigger. Returns (invitation, created); a replayed idempotency key returns the first one."""
    existing = Invitation.objects.filter(survey=survey, idempotency_key=idempotency_key).first()
    if existing:
        return existing, False
    try:
        return _invitation_create_for_api(
            survey=survey, idempotency_key=idempotency_key, customer_id=customer_id, email=email, language=language
        )
    except (IntegrityError, InvitationError):
        # A concurrent retry with the same key got there first (the unique constraint refused this one, or the
        # contact policy now sees that invitation): answer as a replay.
        existing = Invitation.objects.filter(survey=survey, idempotency_key=idempotency_key).first()
        if existing:
            return existing, False
        raise


def _invitation_create_for_api(
    *, survey: Survey, idempotency_key: str, customer_id: str, email: str, language: str
) -> tuple[Invitation, bool]:
    now = timezone.now()
    _ensure_can_invite(survey, now)
    customers = Customer.objects.all()
    if customer_id:
        customers = customers.filter(external_id=customer_id)
    elif email:
        customers = customers.filter(email__iexact=email)
    else:
        raise InvitationError("Give a customer_id or an email.", code="customer_missing")
    customer = customers.order_by("pk").first()
    erased = InvitationError("The customer's data was erased at their request: they cannot be invited.", code="erased")
    if customer is None:
        if _suppressed(customer_id=customer_id, email=email):
            raise erased
        raise InvitationError("No customer with that id or email.", code="customer_unknown")
    if customer.erased_at is not None or (customer.email and suppressed_emails(emails=[customer.email])):
        raise erased
    if customer.unsubscribed_at is not None:
        raise InvitationError("The customer has unsubscribed from surveys.", code="unsubscribed")
    if not customer.email:
        raise InvitationError("The customer has no email address.", code="no_email")
    if not customers_invitable(survey=survey, customers=Customer.objects.filter(pk=customer.pk), now=now).exists():
        raise InvitationError("The customer was invited recently (contact policy).", code="contact_policy")
    with transaction.atomic():
        invitation = Invitation.objects.create(
            survey=survey,
            customer=customer,
            token=invitation_token(),
            language=survey.pick_language(language, customer.language),
            segment_id=customer.segment_id,
            channel=Channel.API,
            idempotency_key=idempotency_key,
        )
        transaction.on_commit(lambda: invitations_queue(invitation_ids=[invitation.pk]))
    return invitation, True


def _suppressed(*, customer_id: str, email: str) -> bool:
    if customer_id:
        return bool(suppressed_crm_ids(external_ids=[customer_id]))
    return bool(suppressed_emails(emails=[email]))


def invitations_queue(*, invitation_ids: Iterable[int]) -> int:
    """Queue sending in batches spaced out so that the site-wide rate (per minute) is respected."""
    from surveys.tasks import invitations_send_batch_task

    ids = list(invitation_ids)
    batch_size = max(1, int(getattr(settings, "SURVEY_SEND_BATCH_SIZE", 50)))
    per_minute = max(1, int(getattr(settings, "SURVEY_SEND_RATE_PER_MINUTE", 300)))
    batches = [ids[i : i + batch_size] for i in range(0, len(ids), batch_size)]
    now = timezone.now()
    for number, batch in enumerate(batches):
        countdown = number * batch_size * 60 / per_minute
        invitations_mark_due(invitation_ids=batch, due_at=now + timedelta(seconds=countdown))
        invitations_send_batch_task.apply_async(args=[batch], countdown=countdown)
    return len(batches)


def invitations_mark_due(*, invitation_ids: Iterable[int], due_at) -> None:
    """Record when the task that sends these queued invitations is due, so that until then (and a
    margin) the stuck-send sweep leaves them to it."""
    Invitation.objects.filter(pk__in=list(invitation_ids), status=Invitation.Status.QUEUED).update(send_due_at=due_at)


def _claim(invitation_id: int, now) -> bool:
    claimed = Invitation.objects.filter(
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - send_stuck_after()),
        pk=invitation_id,
        status=Invitation.Status.QUEUED,
    ).update(claimed_at=now, attempts=F("attempts") + 1)
    return claimed == 1


def invitation_mark_failed(*, invitation_id: int, error: str) -> None:
    Invitation.objects.filter(pk=invitation_id).exclude(status=Invitation.Status.SENT).update(
        status=Invitation.Status.FAILED, error=error[:2000], claimed_at=None
    )


def invitation_send(*, invitation_id: int, connection=None) -> bool:
    """Send one queued invitation. Returns True when sent, False when skipped or permanently failed.

    Raises InvitationSendError (never permanent) when a retry may succeed; the invitation stays queued.
    """
    now = timezone.now()
    if not _claim(invitation_id, now):
        return False  # already sent, failed, or being sent by another worker
    invitation = Invitation.objects.select_related("survey", "customer").get(pk=invitation_id)
    customer = invitation.customer
    if customer is None or customer.unsubscribed_at is not None or not customer.email:
        invitation_mark_failed(invitation_id=invitation_id, error="customer deleted, unsubscribed or without email")
        return False
    message = invitation_message(invitation=invitation)
    message.connection = connection
    try:
        message.send()
    except Exception as exc:
        error = classify_smtp_error(exc)
        if error.permanent:
            invitation_mark_failed(invitation_id=invitation_id, error=str(error))
            return False
        Invitation.objects.filter(pk=invitation_id).update(claimed_at=None, error=str(error)[:2000])
        raise error from exc
    sent_at = timezone.now()
    with transaction.atomic():
        Invitation.objects.filter(pk=invitation_id).update(
            status=Invitation.Status.SENT, sent_at=sent_at, claimed_at=None, error=""
        )
        record_changes(invitations=[sent_at])
    return True


def invitations_send_batch(*, invitation_ids: list[int]) -> list[int]:
    """Send a batch over one SMTP connection. Returns the ids that failed transiently (to retry one by one)."""
    retry: list[int] = []
    connection = get_connection()
    try:
        for invitation_id in invitation_ids:
            try:
                invitation_send(invitation_id=invitation_id, connection=connection)
            except InvitationSendError:
                retry.append(invitation_id)
                # The connection may be broken: start a fresh one for the rest of the batch.
                connection.close()
                connection = get_connection()
    finally:
        connection.close()
    return retry


def _stuck(cutoff) -> Q:
    """Queued and either claimed before ``cutoff`` (its worker died mid-send) or unclaimed although its
    task was due before ``cutoff`` (the task was lost: a worker killed with it, a broker restarted)."""
    unclaimed_overdue = Q(claimed_at__isnull=True) & (
        Q(send_due_at__lt=cutoff) | Q(send_due_at__isnull=True, created_at__lt=cutoff)
    )
    return Q(status=Invitation.Status.QUEUED) & (Q(claimed_at__lt=cutoff) | unclaimed_overdue)


def invitations_requeue_stuck(*, limit: int = 2000) -> int:
    """Queue again the invitations stuck in the queue (see ``_stuck``); run every few minutes by beat.

    Each one is taken with a conditional UPDATE (still stuck → due now) whose row count says who took
    it, so two sweeps at once never queue it twice; sending claims each row again, so an invitation is
    sent once even when an old task for it turns up."""
    now = timezone.now()
    cutoff = now - send_stuck_after()
    candidates = Invitation.objects.filter(_stuck(cutoff)).order_by("pk").values_list("pk", flat=True)[:limit]
    taken = [
        pk
        for pk in candidates
        if Invitation.objects.filter(_stuck(cutoff), pk=pk).update(claimed_at=None, send_due_at=now) == 1
    ]
    if taken:
        logger.warning("%s invitations were stuck in the queue and are queued again", len(taken))
        invitations_queue(invitation_ids=taken)
    return len(taken)


def invitation_mark_opened(*, invitation: Invitation) -> None:
    """Stamp the first open of a link."""
    if invitation.opened_at is None:
        now = timezone.now()
        Invitation.objects.filter(pk=invitation.pk, opened_at__isnull=True).update(opened_at=now)
        invitation.opened_at = now


def invitations_reminder_due(*, now=None) -> QuerySet[Invitation]:
    """Sent, unanswered, not yet reminded invitations whose survey's reminder delay has passed."""
    now = now or timezone.now()
    due = Q(pk__in=[])
    for survey_id, delay in Survey.objects.filter(reminder_delay_days__isnull=False).values_list(
        "pk", "reminder_delay_days"
    ):
        due |= Q(survey_id=survey_id, sent_at__lte=now - timedelta(days=delay))
    return (
        Invitation.objects.filter(due)
        .filter(
            status=Invitation.Status.SENT,
            responded_at__isnull=True,
            reminded_at__isnull=True,
            customer__isnull=False,
            customer__unsubscribed_at__isnull=True,
        )
        .filter(Q(survey__closes_at__isnull=True) | Q(survey__closes_at__gt=now))
    )


def invitation_remind(*, invitation_id: int, connection=None) -> bool:
    """Send the one reminder. The claim (reminded_at) is kept even on failure: never two reminders."""
    now = timezone.now()
    claimed = Invitation.objects.filter(
        pk=invitation_id, reminded_at__isnull=True, responded_at__isnull=True, status=Invitation.Status.SENT
    ).update(reminded_at=now)
    if claimed != 1:
        return False
    invitation = Invitation.objects.select_related("survey", "customer").get(pk=invitation_id)
    message = invitation_message(invitation=invitation, reminder=True)
    message.connection = connection
    try:
        message.send()
    except Exception as exc:
        error = classify_smtp_error(exc)
        if not error.permanent:
            # Let the next run try again.
            Invitation.objects.filter(pk=invitation_id).update(reminded_at=None)
        logger.warning("reminder for invitation %s failed: %s", invitation_id, error)
        return False
    return True


def invitations_remind_due(*, limit: int = 1000) -> int:
    sent = 0
    connection = get_connection()
    try:
        for invitation_id in invitations_reminder_due().values_list("pk", flat=True)[:limit]:
            sent += invitation_remind(invitation_id=invitation_id, connection=connection)
    finally:
        connection.close()
    return sent


def customer_unsubscribe(*, invitation: Invitation) -> None:
    """Unsubscribe the invitation's customer from every survey; queued emails will not go out."""
    customers.customer_unsubscribe(customer_id=invitation.customer_id)
    Invitation.objects.filter(customer_id=invitation.customer_id, status=Invitation.Status.QUEUED).update(
        status=Invitation.Status.FAILED, error="unsubscribed"
    )


def invitations_delete(*, invitations: QuerySet[Invitation]) -> int:
    """Delete these invitations (admin). Their responses stay, unlinked (``Response.invitation`` is
    SET_NULL). Returns how many."""
    with transaction.atomic():
        doomed = list(invitations.select_for_update(of=("self",)).values_list("pk", "sent_at"))
        if not doomed:
            return 0
        Invitation.objects.filter(pk__in=[pk for pk, _sent in doomed]).delete()
        record_changes(invitations=[sent for _pk, sent in doomed])
    return len(doomed)


def invitations_erase_personal(*, customer_ids: list[int]) -> int:
    """The invitations of customers whose personal data is erased: kept (they count in the response
    rate), but never sent or reminded again, their links dead (a fresh random token nobody holds: the
    answer and unsubscribe pages say the link is not valid) and their send errors, which may quote
    the address, cleared. Returns how many."""
    invitations = list(Invitation.objects.filter(customer_id__in=customer_ids).only("pk", "status", "error"))
    for invitation in invitations:
        invitation.token = invitation_token()
        if invitation.status == Invitation.Status.QUEUED:
            # Queued ones were never sent: no figure counts them, so no change to record.
            invitation.status, invitation.error = Invitation.Status.FAILED, "personal data erased"
        else:
            invitation.error = ""
    Invitation.objects.bulk_update(invitations, ["token", "status", "error"], batch_size=500)
    return len(invitations)

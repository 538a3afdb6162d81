"""Closing the loop (shared/METRICS.md "Closing the loop"): alert rules that watch new answers, the cases
they (or people) open on a customer, and each case's timeline. Writes go through ``followup.services``."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Priority(models.TextChoices):
    LOW = "low", _("low")
    NORMAL = "normal", _("normal")
    HIGH = "high", _("high")


class AlertRule(models.Model):
    """A condition on a response and what to do when an answer meets it. Every condition set must hold."""

    name = models.CharField(_("name"), max_length=120)
    active = models.BooleanField(_("active"), default=True)
    nps_at_most = models.PositiveSmallIntegerField(_("NPS at most"), null=True, blank=True)
    csat_at_most = models.PositiveSmallIntegerField(_("CSAT at most"), null=True, blank=True)
    ces_at_most = models.PositiveSmallIntegerField(_("CES at most"), null=True, blank=True)
    keyword = models.CharField(
        _("keyword in the comment"), max_length=100, blank=True, help_text=_("Case-insensitive.")
    )
    survey = models.ForeignKey(
        "surveys.Survey", on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("survey")
    )
    segment = models.ForeignKey(
        "customers.Segment",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("segment"),
    )
    min_customer_value = models.DecimalField(
        _("minimum customer value"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="alert_rules",
        verbose_name=_("owner"),
        help_text=_("Gets the cases and emails, or only when the customer's account owner cannot (below)."),
    )
    # Customer.account_owner_email comes from the CRM; the rule's owner stays as the fallback, so a
    # firing always has someone to go to.
    to_account_owner = models.BooleanField(
        _("route to the customer's account owner"),
        default=False,
        help_text=_(
            "The case and the email go to the active user whose email is the customer's account owner in "
            "the CRM (customers.csv account_owner, HubSpot's company owner). When the customer has none, or no "
            "active user has that email, they go to the owner above. The case's timeline says which."
        ),
    )
    sla_hours = models.PositiveIntegerField(_("SLA (hours)"), default=48, validators=[MinValueValidator(1)])
    priority = models.CharField(_("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    open_case = models.BooleanField(_("open a case"), default=True)
    email_owner = models.BooleanField(_("email the owner"), default=False)
    post_webhook = models.BooleanField(_("post to a webhook"), default=False)
    webhook = models.ForeignKey(
        "webhooks.Webhook",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("webhook"),
        help_text=_("Where “post to a webhook” posts (Admin → Webhooks)."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("alert rule")
        verbose_name_plural = _("alert rules")
        constraints = [
            models.CheckConstraint(
                condition=Q(open_case=True) | Q(email_owner=True) | Q(post_webhook=True), name="alertrule_has_action"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class AlertEvaluation(models.Model):
    """A response the rules have looked at (whether any fired): the sweep's "already handled" mark."""

    response = models.OneToOneField("surveys.Response", on_delete=models.CASCADE, primary_key=True, related_name="+")
    evaluated_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"response {self.response_id}"


class AlertFiring(models.Model):
    """A rule that fired on a response; the unique constraint makes each pair fire at most once."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="firings")
    response = models.ForeignKey("surveys.Response", on_delete=models.CASCADE, related_name="+")
    fired_at = models.DateTimeField()
    case = models.ForeignKey("Case", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # Whom this firing went to: the rule's owner or the customer's account owner (AlertRule.to_account_owner).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    # The owner's email for this firing: sent alone, folded into an hourly summary, or not asked for.
    owner_email = models.CharField(max_length=10, blank=True, default="")
    owner_emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "response"], name="alertfiring_unique_rule_response")]
        indexes = [models.Index(fields=["fired_at"], name="alertfiring_fired")]

    def __str__(self) -> str:
        return f"{self.rule} · response {self.response_id}"


class Case(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("open")
        IN_PROGRESS = "in_progress", _("in progress")
        WAITING = "waiting", _("waiting")
        CLOSED = "closed", _("closed")

    class Outcome(models.TextChoices):
        CONTACTED = "contacted", _("contacted")
        NOT_REACHED = "not_reached", _("not reached")
        NO_ACTION = "no_action", _("no action")

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="cases", verbose_name=_("customer")
    )
    response = models.ForeignKey("surveys.Response", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    complaint = models.ForeignKey(
        "complaints.Complaint", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="cases",
        verbose_name=_("owner"),
        db_index=False,
    )
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.OPEN)
    priority = models.CharField(_("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    created_at = models.DateTimeField(_("opened"))
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    first_contact_at = models.DateTimeField(_("first contact"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=12, choices=Outcome.choices, blank=True, default="")
    opened_by_rule = models.ForeignKey(
        AlertRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="cases", db_index=False
    )
    opened_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        constraints = [
            models.CheckConstraint(
                condition=(Q(status="closed") & Q(closed_at__isnull=False) & ~Q(outcome=""))
                | (~Q(status="closed") & Q(closed_at__isnull=True) & Q(outcome="")),
                name="case_closed_has_outcome",
            ),
            # A rule opens at most one case per response, even if two sweeps overlapped.
            models.UniqueConstraint(
                fields=["opened_by_rule", "response"],
                condition=Q(opened_by_rule__isnull=False, response__isnull=False),
                name="case_unique_rule_response",
            ),
        ]
        indexes = [
            # The Cases page's lists (mine / overdue / all) sorted by due time; closed cases last.
            models.Index(fields=["owner", "status", "due_at"], name="case_owner_status_due"),
            models.Index(fields=["status", "due_at"], name="case_status_due"),
            # "All" sorted by due time, the first page read from the index.
            models.Index(fields=["due_at", "id"], name="case_due"),
            models.Index(fields=["customer", "created_at"], name="case_customer_created"),
            models.Index(fields=["response"], name="case_response"),
            models.Index(fields=["created_at"], name="case_created"),
            models.Index(fields=["closed_at"], name="case_closed"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.customer}"


class CaseNote(models.Model):
    """One entry of a case's timeline."""

    class Kind(models.TextChoices):
        OPENED = "opened", _("opened")
        NOTE = "note", _("note")
        STATUS = "status", _("status change")
        ASSIGNED = "assigned", _("assigned")
        EMAIL_QUEUED = "email_queued", _("email queued")
        EMAIL = "email", _("email sent")
        EMAIL_BLOCKED = "email_blocked", _("email not sent")
        CLOSED = "closed", _("closed")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="notes")
    kind = models.CharField(max_length=15, choices=Kind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    text = models.TextField(blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("case note")
        verbose_name_plural = _("case notes")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.created_at:%Y-%m-%d %H:%M}"


class CaseEmail(models.Model):
    """A follow-up email to the customer, queued from the case page and sent by a worker. A worker claims
    it (pending -> sending) before sending, so it goes out at most once however often its task runs; a
    mail server error puts it back to pending for a later attempt, up to a cap."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")
        REFUSED = "refused", _("refused")  # the customer may no longer be emailed

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="emails")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    message = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    # When a pending email is next due: a lost task is queued again once this is well past.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("case email")
        verbose_name_plural = _("case emails")
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="caseemail_status_next")]

    def __str__(self) -> str:
        return f"case {self.case_id} · {self.get_status_display()}"

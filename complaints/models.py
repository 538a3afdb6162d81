"""Complaints and inquiries (shared/METRICS.md, "Complaints, inquiries and operational incidents"): what
customers tell the company about a problem (a complaint, an incident) or ask it (an inquiry, not an
incident), with a category from an admin-editable list, a channel, and when it was received and resolved.
Written only through ``complaints.services``."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class ComplaintCategory(models.Model):
    name = models.CharField(_("name"), max_length=80, unique=True)
    name_es = models.CharField(_("name (Spanish)"), max_length=80, blank=True)
    active = models.BooleanField(_("active"), default=True, help_text=_("Only active categories can be chosen."))
    ordering = models.PositiveSmallIntegerField(_("ordering"), default=0)

    class Meta:
        ordering = ["ordering", "name"]
        verbose_name = _("complaint category")
        verbose_name_plural = _("complaint categories")

    def __str__(self) -> str:
        return self.label()

    def label(self, language: str | None = None) -> str:
        """The name in ``language`` (the active one by default): Spanish when given, else English."""
        language = (language or get_language() or "en").split("-")[0]
        return self.name_es if language == "es" and self.name_es else self.name


class Complaint(models.Model):
    class Kind(models.TextChoices):
        COMPLAINT = "complaint", _("complaint")
        INQUIRY = "inquiry", _("inquiry")

    class Channel(models.TextChoices):
        PHONE = "phone", _("phone")
        EMAIL = "email", _("email")
        WEB = "web", _("web")
        IN_PERSON = "in_person", _("in person")
        SOCIAL = "social", _("social media")
        OTHER = "other", _("other")

    class Source(models.TextChoices):
        FORM = "form", _("form")
        ADMIN = "admin", _("admin")
        API = "api", _("API")
        IMPORT = "import", _("import")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.COMPLAINT)
    # The first column of complaint_customer_received, which serves its lookups and cascades.
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="complaints",
        db_index=False,
    )
    # The customer's segment when it was logged: a segment filter counts the complaints of the segment then.
    segment = models.ForeignKey("customers.Segment", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    received_at = models.DateTimeField(_("received"))
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    category = models.ForeignKey(
        ComplaintCategory, on_delete=models.PROTECT, related_name="complaints", verbose_name=_("category")
    )
    summary = models.TextField(_("summary"), blank=True)
    # When the summary was last changed after it was logged: the comment analysis reads the text again.
    summary_edited_at = models.DateTimeField(null=True, blank=True, editable=False)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    # Where it came from and its id there: a helpdesk's ticket id, an import file's id column. Unique per
    # source, so a replayed push or a re-run import never stores a complaint twice.
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    external_id = models.CharField(_("external id"), max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("complaint or inquiry")
        verbose_name_plural = _("complaints and inquiries")
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~models.Q(external_id=""),
                name="complaint_unique_source_external_id",
            ),
            models.CheckConstraint(
                condition=models.Q(resolved_at__isnull=True) | models.Q(resolved_at__gte=models.F("received_at")),
                name="complaint_resolved_after_received",
            ),
        ]
        indexes = [
            # The few edited summaries, for the comment analysis's sweep.
            models.Index(
                fields=["summary_edited_at"],
                condition=models.Q(summary_edited_at__isnull=False),
                name="complaint_summary_edited",
            ),
            # The period's complaints per kind, category and channel come from the index alone.
            models.Index(
                fields=["received_at"], include=["kind", "category", "channel", "segment"], name="complaint_received"
            ),
            models.Index(fields=["resolved_at"], include=["received_at", "kind", "segment"], name="complaint_resolved"),
            # A customer's complaints before a moment: lost after an incident, incidents and satisfaction.
            models.Index(fields=["customer", "kind", "received_at"], name="complaint_customer_received"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.received_at:%Y-%m-%d} {self.category}"


class IdempotencyKey(models.Model):
    """A POST's ``Idempotency-Key`` and what it was answered: the same key with the same body gets the
    same answer again, with another body a 409. Keys are per user (one helpdesk's keys never meet
    another's)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_unique_user_key")]

    def __str__(self) -> str:
        return self.key

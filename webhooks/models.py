"""Outbound webhooks: where to POST, and the log of every delivery (one row per caller's key)."""

from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.secrets import secret_decrypt


class Webhook(models.Model):
    """A receiver. Writes go through webhooks.services (webhook_create, webhook_update, ...)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    url = models.URLField(_("URL"), max_length=2000)
    # The signing secret encrypted with settings.SECRETS_KEYS (core.secrets); read it through `secret`.
    # Shown once, when created or rotated.
    secret_encrypted = models.TextField(editable=False)
    active = models.BooleanField(_("active"), default=True)
    disabled_at = models.DateTimeField(_("disabled at"), null=True, blank=True)
    disabled_reason = models.CharField(_("why it was disabled"), max_length=500, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def secret(self) -> str:
        """The signing secret; raises core.secrets.SecretError when no configured key decrypts it."""
        return secret_decrypt(self.secret_encrypted)


class WebhookDelivery(models.Model):
    """One event for one webhook. (webhook, key) is unique: a caller's key is delivered at most once."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        DELIVERING = "delivering", _("delivering")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("failed")
        GONE = "gone", _("gone (the receiver answered 410)")

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    key = models.CharField(_("key"), max_length=200)
    event = models.CharField(_("event"), max_length=100)
    text = models.TextField(_("text"), blank=True, default="")
    body = models.JSONField(_("data"), encoder=DjangoJSONEncoder)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    # Pending: not attempted before this time.
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    # Pending: when a task for it was last queued (or is due, for a retry queued with a countdown); the
    # sweep queues it again only once this is older than WEBHOOK_STALE_SECONDS (the task was lost).
    queued_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Delivering: when the worker claimed it; older than WEBHOOK_STALE_SECONDS means the worker died.
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_status_code = models.PositiveSmallIntegerField(_("last HTTP status"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True, default="")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["webhook", "key"], name="webhooks_delivery_unique_key"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "delivering", "delivered", "failed", "gone"]),
                name="webhooks_delivery_status_valid",
            ),
        ]
        indexes = [
            # The sweep: due pending deliveries, and deliveries whose worker died. Partial, so they stay
            # as small as the work in flight however long the log grows.
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="webhooks_delivery_due"),
            models.Index(fields=["claimed_at"], condition=Q(status="delivering"), name="webhooks_delivery_claimed"),
            # The delivery log in admin, newest first, by status or by webhook.
            models.Index(fields=["status", "-id"], name="webhooks_delivery_status"),
            models.Index(fields=["webhook", "-id"], name="webhooks_delivery_webhook"),
        ]

    def __str__(self) -> str:
        return f"{self.event} #{self.pk}"

"""Who wants a digest and how often, and each digest owed to a user for a period (sent at most once)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Frequency(models.TextChoices):
    OFF = "off", _("no digest")
    WEEKLY = "weekly", _("weekly (Monday, for the week before)")
    MONTHLY = "monthly", _("monthly (the 1st, for the month before)")


class DigestSubscription(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="digest")
    frequency = models.CharField(_("digest"), max_length=7, choices=Frequency.choices, default=Frequency.OFF)
    language = models.CharField(_("language of the digest"), max_length=2, choices=settings.LANGUAGES)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("digest subscription")
        verbose_name_plural = _("digest subscriptions")

    def __str__(self) -> str:
        return f"{self.user} {self.frequency}"


class DigestDelivery(models.Model):
    """One digest owed to one user for one period. The unique constraint makes it owed once; the status
    moves pending -> sending (claimed by one worker) -> sent, so a digest is never sent twice."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    frequency = models.CharField(max_length=7, choices=Frequency.choices)
    period_start = models.DateField()
    period_end = models.DateField()
    status = models.CharField(max_length=7, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("digest delivery")
        verbose_name_plural = _("digest deliveries")
        constraints = [
            models.UniqueConstraint(fields=["user", "frequency", "period_start"], name="digest_once_per_period"),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="digest_status_created")]

    def __str__(self) -> str:
        return f"{self.user} {self.frequency} {self.period_start}"

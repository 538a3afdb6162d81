"""API tokens shared by the JSON APIs, and the change log the read model drains (outbox)."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """Only the SHA-256 of a token is stored; the raw token is shown once, when created."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=8, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "cxmetrics_apitoken"
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, *, user, name: str) -> tuple[ApiToken, str]:
        raw = "cxm_" + secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, key_hash=hash_token(raw), prefix=raw[:8])
        return token, raw


class Change(models.Model):
    """One thing the figures are computed from changed (``core.outbox.record_changes``): written by the
    writer in its own transaction, deleted by the read model's refresh once its rollups hold it. Until
    then the read model reads that day (or customer) from the raw rows."""

    class Kind(models.TextChoices):
        RESPONSES = "responses", _("responses of a day")
        INVITATIONS = "invitations", _("invitations sent on a day")
        EVENTS = "events", _("customer events of a day")
        CUSTOMERS = "customers", _("a customer")
        COMPLAINTS = "complaints", _("complaints received on a day")

    kind = models.CharField(max_length=12, choices=Kind.choices)
    day = models.DateField(null=True, blank=True)
    customer_id = models.BigIntegerField(null=True, blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("pending change")
        verbose_name_plural = _("pending changes")

    def __str__(self) -> str:
        return f"{self.kind} {self.day or self.customer_id}"


class Cursor(models.Model):
    """How far one consumer has followed another app's table (``core.sweep``). ``settled`` is the highest
    primary key below which every row has been seen; rows above it are looked at again on each sweep (the
    consumer skips those it already handled), so a row whose transaction committed after a higher key
    was seen is still taken."""

    name = models.CharField(max_length=60, primary_key=True)
    settled = models.BigIntegerField(default=0)
    mark = models.BigIntegerField(default=0)
    marked_at = models.DateTimeField()

    class Meta:
        verbose_name = _("consumer cursor")
        verbose_name_plural = _("consumer cursors")

    def __str__(self) -> str:
        return f"{self.name} @ {self.settled}"

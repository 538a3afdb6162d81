"""CRM connections and what their syncs leave behind: runs, quarantined records, processed files.
The customers and events they feed live in ``customers``."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.secrets import secret_decrypt, secret_encrypt


class MatchOn(models.TextChoices):
    OWN_ID = "", _("its own ids only")
    CONNECTION = "connection", _("the CRM id of another connection")
    EMAIL = "email", _("the email address")


class Connection(models.Model):
    class Kind(models.TextChoices):
        HUBSPOT = "hubspot", "HubSpot"
        CSV = "csv", _("CSV files")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=100, unique=True)
    settings = models.JSONField(_("settings"), default=dict, blank=True)
    # The CRM token encrypted with settings.SECRETS_KEYS (core.secrets); read and set it through `token`.
    # Write-only in admin: never displayed back, never logged.
    secret_token = models.TextField(_("secret token"), blank=True, default="")
    enabled = models.BooleanField(_("enabled"), default=True)
    sync_interval_minutes = models.PositiveIntegerField(_("sync interval (minutes)"), default=60)
    checkpoint = models.JSONField(_("checkpoint"), default=dict, blank=True)
    # How a customer id this connection has not seen yet is matched to a stored customer, so that two
    # connections (a CRM and an ERP) feed one customer; set through crm_sync.services.connection_matching_set.
    match_on = models.CharField(
        _("match unknown customers on"), max_length=20, choices=MatchOn.choices, default=MatchOn.OWN_ID, blank=True
    )
    match_connection = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("connection whose CRM ids to match"),
        help_text=_("With \"the CRM id of another connection\": the connection whose ids this one uses."),
    )  # fmt: skip
    last_synced_at = models.DateTimeField(_("last synced"), null=True, blank=True)
    next_sync_at = models.DateTimeField(_("next sync"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("CRM connection")
        verbose_name_plural = _("CRM connections")

    def __str__(self) -> str:
        return self.name

    @property
    def token(self) -> str:
        """The decrypted token, "" when none is set; raises core.secrets.SecretError when the configured
        keys cannot decrypt it."""
        return secret_decrypt(self.secret_token) if self.secret_token else ""

    @token.setter
    def token(self, value: str) -> None:
        self.secret_token = secret_encrypt(value) if value else ""


class SyncRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")
        # Queued while another run of the connection was active and alive: nothing was read.
        SKIPPED = "skipped", _("skipped")

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="runs")
    full = models.BooleanField(default=False)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Moved forward with every committed page and every few seconds while a page is worked on (a thread
    # of the run): a "running" row whose heartbeat is older than CRM_SYNC_DEAD_AFTER_SECONDS was left
    # by a dead worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    pages = models.PositiveIntegerField(default=0)
    records = models.PositiveIntegerField(default=0)
    events_created = models.PositiveIntegerField(default=0)
    quarantined = models.PositiveIntegerField(default=0)
    # Events for customers the site does not know, held (customers.HeldEvent) rather than applied.
    held = models.PositiveIntegerField(_("held (unknown customer)"), default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("sync run")
        verbose_name_plural = _("sync runs")
        constraints = [
            # At most one running sync per connection, enforced by the database.
            models.UniqueConstraint(
                fields=["connection"], condition=Q(status="running"), name="syncrun_one_running_per_connection"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.connection} {self.started_at:%Y-%m-%d %H:%M} {self.status}"


class QuarantinedRecord(models.Model):
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="quarantined_records")
    run = models.ForeignKey(SyncRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    source = models.CharField(_("source"), max_length=200, help_text=_("File and line, or the CRM record id."))
    payload = models.TextField(_("raw payload"))
    reason = models.TextField(_("reason"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("quarantined record")
        verbose_name_plural = _("quarantined records")

    def __str__(self) -> str:
        return f"{self.source}: {self.reason[:60]}"


class ProcessedFile(models.Model):
    """A CSV file already applied, remembered by checksum so it is never applied twice."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="processed_files")
    checksum = models.CharField(max_length=64)
    name = models.CharField(max_length=255)
    kind = models.CharField(max_length=20)
    rows = models.PositiveIntegerField(default=0)
    processed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "checksum"], name="processedfile_unique_checksum"),
        ]

    def __str__(self) -> str:
        return self.name

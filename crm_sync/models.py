"""The customer base and its event log, the source of the customer-base metrics
(shared/METRICS.md). Customers are what surveys invite and responses join to."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Audience(models.TextChoices):
    B2B = "b2b", "B2B"
    B2C = "b2c", "B2C"


class Segment(models.Model):
    """A value segment. A higher rank is a more valuable segment, so a move up the ranks is an upgrade."""

    name = models.CharField(_("name"), max_length=80, unique=True)
    rank = models.PositiveSmallIntegerField(_("rank"), unique=True, help_text=_("Higher is more valuable."))
    description = models.CharField(_("description"), max_length=200, blank=True)

    class Meta:
        ordering = ["-rank"]
        verbose_name = _("value segment")
        verbose_name_plural = _("value segments")

    def __str__(self) -> str:
        return self.name


class Connection(models.Model):
    class Kind(models.TextChoices):
        HUBSPOT = "hubspot", "HubSpot"
        CSV = "csv", _("CSV files")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=100, unique=True)
    settings = models.JSONField(_("settings"), default=dict, blank=True)
    # Write-only in admin: never displayed back, never logged.
    secret_token = models.TextField(_("secret token"), blank=True, default="")
    enabled = models.BooleanField(_("enabled"), default=True)
    sync_interval_minutes = models.PositiveIntegerField(_("sync interval (minutes)"), default=60)
    checkpoint = models.JSONField(_("checkpoint"), default=dict, blank=True)
    last_synced_at = models.DateTimeField(_("last synced"), null=True, blank=True)
    next_sync_at = models.DateTimeField(_("next sync"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("CRM connection")
        verbose_name_plural = _("CRM connections")

    def __str__(self) -> str:
        return self.name


class Customer(models.Model):
    class Status(models.TextChoices):
        PROSPECT = "prospect", _("prospect")  # e.g. a referred party not yet acquired
        ACTIVE = "active", _("active")
        LOST = "lost", _("lost")

    connection = models.ForeignKey(Connection, on_delete=models.PROTECT, related_name="customers")
    external_id = models.CharField(_("external id"), max_length=100)
    name = models.CharField(_("name"), max_length=200, blank=True)
    email = models.EmailField(_("email"), blank=True)
    language = models.CharField(_("language"), max_length=8, default="en")
    country = models.CharField(_("country"), max_length=2, blank=True)
    audience = models.CharField(_("audience"), max_length=3, choices=Audience.choices, default=Audience.B2B)
    value = models.DecimalField(_("value (annual revenue)"), max_digits=14, decimal_places=2, default=0)
    segment = models.ForeignKey(
        Segment, on_delete=models.SET_NULL, null=True, blank=True, related_name="customers"
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    acquired_at = models.DateTimeField(_("acquired"), null=True, blank=True)
    lost_at = models.DateTimeField(_("lost"), null=True, blank=True)
    lost_reason = models.CharField(_("lost reason"), max_length=200, blank=True)
    referred_by = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="referrals"
    )
    unsubscribed_at = models.DateTimeField(_("unsubscribed"), null=True, blank=True)
    # When the CRM last changed this customer (or the latest event applied): an older snapshot or
    # an out-of-order history row never overwrites a newer state.
    state_as_of = models.DateTimeField(_("CRM state as of"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        constraints = [
            models.UniqueConstraint(fields=["connection", "external_id"], name="customer_unique_external_id"),
        ]
        indexes = [
            models.Index(fields=["status", "segment"], name="customer_status_segment"),
            models.Index(fields=["email"], name="customer_email"),
            models.Index(fields=["acquired_at"], name="customer_acquired"),
            models.Index(fields=["lost_at"], name="customer_lost"),
        ]

    def __str__(self) -> str:
        return self.name or self.external_id


class Event(models.Model):
    class Type(models.TextChoices):
        NEW = "new", _("new customer")
        LOST = "lost", _("lost customer")
        REFERRAL = "referral", _("referral")
        SEGMENT_MOVE = "segment_move", _("segment move")

    connection = models.ForeignKey(Connection, on_delete=models.PROTECT, related_name="events")
    # Unique per connection: a replayed sync or import never stores an event twice.
    source_key = models.CharField(_("source key"), max_length=200)
    type = models.CharField(_("type"), max_length=20, choices=Type.choices)
    occurred_at = models.DateTimeField(_("occurred"))
    # For a referral this is the referred party (who may become a customer later).
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="events")
    value = models.DecimalField(_("value at the time"), max_digits=14, decimal_places=2, null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    # The segment of the customer (for a referral: of the referrer) when the event happened.
    segment = models.ForeignKey(Segment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    from_segment = models.ForeignKey(
        Segment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    to_segment = models.ForeignKey(Segment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    referrer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="referral_events"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("customer event")
        verbose_name_plural = _("customer events")
        constraints = [
            models.UniqueConstraint(fields=["connection", "source_key"], name="event_unique_source_key"),
            models.CheckConstraint(
                condition=~Q(type="referral") | Q(referrer__isnull=False), name="event_referral_has_referrer"
            ),
        ]
        indexes = [
            models.Index(fields=["type", "occurred_at"], name="event_type_occurred"),
            models.Index(fields=["customer", "type", "occurred_at"], name="event_customer_type_occurred"),
            models.Index(fields=["referrer", "occurred_at"], name="event_referrer_occurred"),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.customer_id} {self.occurred_at:%Y-%m-%d}"


class SyncRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="runs")
    full = models.BooleanField(default=False)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Moved forward with every committed page: a "running" row whose heartbeat is older than the task
    # time limit was left by a dead worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    pages = models.PositiveIntegerField(default=0)
    records = models.PositiveIntegerField(default=0)
    events_created = models.PositiveIntegerField(default=0)
    quarantined = models.PositiveIntegerField(default=0)
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

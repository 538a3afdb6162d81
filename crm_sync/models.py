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

    # No index of its own: customer_unique_external_id (connection, external_id) serves every lookup by
    # connection, and each index is one more write per customer a sync stores.
    connection = models.ForeignKey(Connection, on_delete=models.PROTECT, related_name="customers", db_index=False)
    external_id = models.CharField(_("external id"), max_length=100)
    name = models.CharField(_("name"), max_length=200, blank=True)
    email = models.EmailField(_("email"), blank=True)
    language = models.CharField(_("language"), max_length=8, default="en")
    country = models.CharField(_("country"), max_length=2, blank=True)
    audience = models.CharField(_("audience"), max_length=3, choices=Audience.choices, default=Audience.B2B)
    value = models.DecimalField(_("value (annual revenue)"), max_digits=14, decimal_places=2, default=0)
    segment = models.ForeignKey(Segment, on_delete=models.SET_NULL, null=True, blank=True, related_name="customers")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    acquired_at = models.DateTimeField(_("acquired"), null=True, blank=True)
    lost_at = models.DateTimeField(_("lost"), null=True, blank=True)
    lost_reason = models.CharField(_("lost reason"), max_length=200, blank=True)
    referred_by = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="referrals")
    unsubscribed_at = models.DateTimeField(_("unsubscribed"), null=True, blank=True)
    # When the CRM last changed this customer (or the latest event applied): an older snapshot or
    # an out-of-order history row never overwrites a newer state.
    state_as_of = models.DateTimeField(_("CRM state as of"), null=True, blank=True, editable=False)
    # The customer's latest NPS answer (by submitted_at, then response id) and when it was given, kept
    # current by the survey services (crm_sync.rollups has the rules), so "the current NPS category"
    # of 100 000 customers is a column, not a subquery per customer. Rebuilt by customers_nps_rebuild.
    last_nps = models.SmallIntegerField(_("latest NPS answer"), null=True, blank=True, editable=False)
    last_nps_at = models.DateTimeField(_("latest NPS answer at"), null=True, blank=True, editable=False)
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
            # The customer base at a moment (acquired before it, not lost before it) as an index-only
            # scan on PostgreSQL: the value is included for "value of the customers at start".
            models.Index(
                fields=["acquired_at", "lost_at"],
                include=["value"],
                condition=~Q(status="prospect"),
                name="customer_base_at",
            ),
            # Revenue at risk "now": the detractors by the date of their answer, with what the metric reads
            # (an index-only scan on PostgreSQL).
            models.Index(
                fields=["last_nps_at"],
                include=["last_nps", "value", "acquired_at", "lost_at", "status"],
                condition=Q(last_nps__lte=6),
                name="customer_detractor_answer",
            ),
            # The few customers whose latest answer is stamped after "now" (read by the subquery).
            models.Index(fields=["last_nps_at"], name="customer_last_nps_at"),
        ]

    def __str__(self) -> str:
        return self.name or self.external_id


class Event(models.Model):
    class Type(models.TextChoices):
        NEW = "new", _("new customer")
        LOST = "lost", _("lost customer")
        REFERRAL = "referral", _("referral")
        SEGMENT_MOVE = "segment_move", _("segment move")

    # The foreign keys below without an index of their own are the first column of an index in Meta
    # (event_unique_source_key, event_customer_type_occurred, event_referrer_occurred), which serves
    # their lookups and cascades; a second index would only cost a write per event.
    connection = models.ForeignKey(Connection, on_delete=models.PROTECT, related_name="events", db_index=False)
    # Unique per connection: a replayed sync or import never stores an event twice.
    source_key = models.CharField(_("source key"), max_length=200)
    type = models.CharField(_("type"), max_length=20, choices=Type.choices)
    occurred_at = models.DateTimeField(_("occurred"))
    # For a referral this is the referred party (who may become a customer later).
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="events", db_index=False)
    value = models.DecimalField(_("value at the time"), max_digits=14, decimal_places=2, null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    # The segment of the customer (for a referral: of the referrer) when the event happened.
    segment = models.ForeignKey(Segment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    from_segment = models.ForeignKey(Segment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    to_segment = models.ForeignKey(Segment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    referrer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="referral_events", db_index=False
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
            # The customer included: the events of a type in a period (the lost customers of a churn
            # figure) come from the index alone, not from thousands of scattered table pages.
            models.Index(fields=["type", "occurred_at"], include=["customer"], name="event_type_occurred"),
            models.Index(fields=["customer", "type", "occurred_at"], name="event_customer_type_occurred"),
            models.Index(fields=["referrer", "occurred_at"], name="event_referrer_occurred"),
            # The rolled-up days hold the sum of the events' own values; the few events without one are
            # valued at their customer's current value, read live through this index (crm_sync.rollups).
            models.Index(fields=["type", "occurred_at"], condition=Q(value__isnull=True), name="event_no_value"),
            # A customer's segment at a moment (customers.segment_at): the last move before it and the first
            # after it, one index-only probe each.
            models.Index(
                fields=["customer", "occurred_at", "id"],
                include=["from_segment", "to_segment"],
                condition=Q(type="segment_move"),
                name="event_customer_moves",
            ),
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


class EventDaily(models.Model):
    """Daily rollup of the event log (issue 6): the events of one type that occurred on ``day`` (the local
    date of ``occurred_at`` in settings.TIME_ZONE) with the same segment, move and reason, counted, and
    the sum of their own values. Events without a value are counted in ``value_missing``; the read path
    values them at their customer's current value from the raw rows, as the raw metric does.

    A cache, never the truth: ``dashboards.metrics.customers`` reads it only for clean days
    (``<= EventRollupState.rolled_up_through`` and not in EventDirtyDay) and aggregates the raw events of
    every other day, so a figure equals the raw computation whether or not the worker ran."""

    day = models.DateField()
    type = models.CharField(max_length=20, choices=Event.Type.choices)
    # SET_NULL like Event's, so deleting a segment keeps the rollups equal to the raw rows.
    segment = models.ForeignKey(Segment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    from_segment = models.ForeignKey(Segment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    to_segment = models.ForeignKey(Segment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    reason = models.CharField(max_length=200, blank=True)
    count = models.PositiveIntegerField(default=0)
    value_sum = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    value_missing = models.PositiveIntegerField(default=0)
    # Lost events only (0 for the other types): what the customer's own answers said in the 90 days
    # before the loss, 2 × (a detractor answer) + (an answer signalling an incident), the grouping of
    # "lost after a detractor answer or an incident" (crm_sync.rollups.lost_flags).
    flags = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("daily event rollup")
        verbose_name_plural = _("daily event rollups")
        constraints = [
            # NULL segments are distinct here (SQLite has no NULLS NOT DISTINCT, and a segment deleted by
            # SET_NULL may meet an existing NULL row), so the constraint alone does not make a key unique:
            # one writer at a time is guaranteed by the EventRollupState row lock every rollup write holds.
            models.UniqueConstraint(
                fields=["day", "type", "segment", "from_segment", "to_segment", "reason", "flags"],
                name="eventdaily_unique",
            ),
        ]
        indexes = [models.Index(fields=["type", "day"], name="eventdaily_type_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.type} {self.count}"


class EventRollupState(models.Model):
    """The single row (pk=1) saying which days EventDaily covers. Every rollup write locks it first."""

    SINGLETON = 1

    rolled_up_through = models.DateField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("event rollup state")
        verbose_name_plural = _("event rollup state")

    def __str__(self) -> str:
        return f"rolled up through {self.rolled_up_through}"


class EventDirtyDay(models.Model):
    """A day whose events changed after (or while) it was rolled up: read raw until a refresh."""

    day = models.DateField(unique=True)
    marked_at = models.DateTimeField()

    class Meta:
        verbose_name = _("dirty event rollup day")
        verbose_name_plural = _("dirty event rollup days")

    def __str__(self) -> str:
        return str(self.day)

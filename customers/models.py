"""The customer base and its event log, the source of the customer-base metrics (shared/METRICS.md).
Customers are what surveys invite and responses join to. The CRM connectors (``crm_sync``) feed them
through ``customers.services``; every other write goes through those services too."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F
from django.utils.translation import gettext_lazy as _


class Audience(models.TextChoices):
    B2B = "b2b", "B2B"
    B2C = "b2c", "B2C"


class Segment(models.Model):
    """A value segment. A higher rank is a more valuable segment, so a move up the ranks is an upgrade."""

    name = models.CharField(_("name"), max_length=80, unique=True)
    rank = models.PositiveSmallIntegerField(_("rank"), unique=True, help_text=_("Higher is more valuable."))
    description = models.CharField(_("description"), max_length=200, blank=True)
    # False for a segment a sync or an import created from a name it met: ranked by its customers' mean
    # value until someone confirms the ranks (customers.services.segments_ranks_confirm).
    ranks_confirmed = models.BooleanField(_("rank confirmed"), default=True)

    class Meta:
        db_table = "crm_sync_segment"
        ordering = ["-rank"]
        verbose_name = _("value segment")
        verbose_name_plural = _("value segments")

    def __str__(self) -> str:
        return self.name


class Customer(models.Model):
    class Status(models.TextChoices):
        PROSPECT = "prospect", _("prospect")  # e.g. a referred party not yet acquired
        ACTIVE = "active", _("active")
        LOST = "lost", _("lost")

    # No index of its own: customer_unique_external_id (connection, external_id) serves every lookup by
    # connection, and each index is one more write per customer a sync stores.
    connection = models.ForeignKey(
        "crm_sync.Connection", on_delete=models.PROTECT, related_name="customers", db_index=False
    )
    external_id = models.CharField(_("external id"), max_length=100)
    name = models.CharField(_("name"), max_length=200, blank=True)
    email = models.EmailField(_("email"), blank=True)
    # The person to greet at a company (the CRM's contact); a B2C customer is greeted by their own name.
    contact_name = models.CharField(_("contact person"), max_length=200, blank=True, db_default="")
    # The CRM's account owner (a colleague's email, not the customer's): alert rules can route to them.
    account_owner_email = models.EmailField(_("account owner (email)"), blank=True, db_default="")
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
    # Set by customers_erase: the personal data is gone and the suppression list keeps the CRM from
    # bringing it back; the row stays for the figures it counts in.
    erased_at = models.DateTimeField(_("personal data erased"), null=True, blank=True, editable=False)
    # When the CRM last changed this customer (or the latest event applied): an older snapshot or
    # an out-of-order history row never overwrites a newer state.
    state_as_of = models.DateTimeField(_("CRM state as of"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "crm_sync_customer"
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        constraints = [
            models.UniqueConstraint(fields=["connection", "external_id"], name="customer_unique_external_id"),
        ]
        indexes = [
            models.Index(fields=["status", "segment"], name="customer_status_segment"),
            models.Index(fields=["email"], name="customer_email"),
            # Lists sorted by customer value (the Cases page) read the customers in this order and stop
            # after a page, instead of joining and sorting every row.
            models.Index(F("value").desc(), F("id").desc(), name="customer_value"),
        ]

    def __str__(self) -> str:
        return self.name or self.external_id


class CustomerExternalId(models.Model):
    """The id a customer has in a connection other than the one it was first stored from
    (Customer.connection and external_id): an ERP's number for a company the CRM brought in. The connection
    matched it on the other connection's CRM id or on the email (Connection.match_on); from then on the
    id is looked up here, so both connections feed one customer."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="external_ids")
    # No index of its own: the unique (connection, external_id) serves every lookup by connection.
    connection = models.ForeignKey("crm_sync.Connection", on_delete=models.PROTECT, related_name="+", db_index=False)
    external_id = models.CharField(_("external id"), max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("external id in another connection")
        verbose_name_plural = _("external ids in other connections")
        constraints = [
            models.UniqueConstraint(fields=["connection", "external_id"], name="customerexternalid_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.connection_id}:{self.external_id}"


class Event(models.Model):
    class Type(models.TextChoices):
        NEW = "new", _("new customer")
        LOST = "lost", _("lost customer")
        REFERRAL = "referral", _("referral")
        SEGMENT_MOVE = "segment_move", _("segment move")
        # Operational events (core.definitions.OPERATIONAL_EVENT_TYPES): logged beside the customer-base
        # events and shown on the customer's page; no customer-base figure counts them, and none of
        # them changes the customer's state.
        RETURN = "return", _("return")
        CLAIM = "claim", _("claim")
        INVOICE_CORRECTION = "invoice_correction", _("invoice correction")
        SERVICE_CHANGE = "service_change", _("service change")
        SUPPORT_CONTACT = "support_contact", _("support contact")

    # The foreign keys below without an index of their own are the first column of an index in Meta,
    # which serves their lookups and cascades; a second index would only cost a write per event.
    connection = models.ForeignKey(
        "crm_sync.Connection", on_delete=models.PROTECT, related_name="events", db_index=False
    )
    # Unique per connection: a replayed sync or import never stores an event twice.
    source_key = models.CharField(_("source key"), max_length=200)
    type = models.CharField(_("type"), max_length=20, choices=Type.choices)
    occurred_at = models.DateTimeField(_("occurred"))
    # For a referral this is the referred party (who may become a customer later).
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="events", db_index=False)
    # The value at the time; the services fill it in from the customer's value when the source has none.
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
        db_table = "crm_sync_event"
        verbose_name = _("customer event")
        verbose_name_plural = _("customer events")
        constraints = [
            models.UniqueConstraint(fields=["connection", "source_key"], name="event_unique_source_key"),
        ]
        indexes = [
            # The customer included: the events of a type in a period (the lost customers of a churn
            # figure) come from the index alone.
            models.Index(fields=["type", "occurred_at"], include=["customer"], name="event_type_occurred"),
            models.Index(fields=["customer", "type", "occurred_at"], name="event_customer_type_occurred"),
            models.Index(fields=["referrer", "occurred_at"], name="event_referrer_occurred"),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.customer_id} {self.occurred_at:%Y-%m-%d}"


class EventCorrection(models.Model):
    """Who corrected an event's reason or value, when and why (``customers.services.event_correct``)."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="corrections")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    corrected_at = models.DateTimeField(auto_now_add=True)
    why = models.TextField(_("why"))
    before = models.JSONField(_("before"))
    after = models.JSONField(_("after"))

    class Meta:
        ordering = ["-corrected_at"]
        verbose_name = _("event correction")
        verbose_name_plural = _("event corrections")

    def __str__(self) -> str:
        return f"{self.event} {self.corrected_at:%Y-%m-%d %H:%M}"


class Suppression(models.Model):
    """A CRM id or an email address whose subject had their personal data erased: no sync, import or
    invitation may store or use it again. Only a keyed hash is kept (``customers.suppression``), so the
    list names nobody: an email cannot be found by hashing guesses without the key."""

    class Kind(models.TextChoices):
        CRM_ID = "crm_id", _("CRM id")
        EMAIL = "email", _("email")

    class Reason(models.TextChoices):
        REQUEST = "request", _("erased at the subject's request")
        DELETED = "deleted", _("customer deleted in admin")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    # HMAC-SHA256 (hex) of the normalised value; a CRM id's includes its connection.
    digest = models.CharField(_("keyed hash"), max_length=64, unique=True)
    # Which key made the digest: entries made with an earlier key no longer match (see deployment docs).
    key_id = models.CharField(_("key id"), max_length=16)
    connection = models.ForeignKey(
        "crm_sync.Connection", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=10, choices=Reason.choices)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    # When a sync, an import or an invitation last met this entry, and how many times (per page or run).
    last_blocked_at = models.DateTimeField(_("last blocked"), null=True, blank=True)
    times_blocked = models.PositiveIntegerField(_("times blocked"), default=0)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("suppression list entry")
        verbose_name_plural = _("suppression list")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.digest[:12]}…"


class HeldEvent(models.Model):
    """An event (not a ``new`` one) for a customer the site does not know, quarantined with its reason
    instead of creating a customer that was never acquired (a lost customer from an ERP file whose
    customer numbers the CRM does not use). Applied, and deleted in the same transaction, once the
    customer becomes known in its connection (customers.services.held_events_apply): never stored
    twice, never lost."""

    connection = models.ForeignKey("crm_sync.Connection", on_delete=models.CASCADE, related_name="+", db_index=False)
    event_id = models.CharField(_("event id"), max_length=200)
    customer_external_id = models.CharField(_("customer's external id"), max_length=100)
    type = models.CharField(_("type"), max_length=20)
    occurred_at = models.DateTimeField(_("occurred"))
    source = models.CharField(_("source"), max_length=200, help_text=_("File and line, or the CRM record id."))
    # The normalised record (customers.records.EventRecord) as JSON: what is applied later.
    record = models.JSONField(_("source row"))
    reason = models.TextField(_("reason"))
    created_at = models.DateTimeField(_("held since"), auto_now_add=True)

    class Meta:
        ordering = ["occurred_at", "pk"]
        verbose_name = _("event for an unknown customer")
        verbose_name_plural = _("events for unknown customers")
        constraints = [
            models.UniqueConstraint(fields=["connection", "event_id"], name="heldevent_unique_event"),
        ]
        indexes = [models.Index(fields=["connection", "customer_external_id"], name="heldevent_customer")]

    def __str__(self) -> str:
        return f"{self.source}: {self.type} {self.customer_external_id}"

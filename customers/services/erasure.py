"""Erasing a customer's personal data at their request, so that it stays erased.

What goes: the name, the email, the CRM id (replaced by ``erased-<pk>``), the lost reason typed on the
customer, the comments and free-text answers of their responses, the links of their invitations, the
quarantined records and held events that mention them, their ids in other connections, and the CRM id inside their events' source keys. What stays:
the row with its segment, status, value, dates, audience, country and language, the events, the
scores and the invitations, so every figure they count in is unchanged. Their CRM id (per
connection) and email go on the suppression list as keyed hashes, which every sync, import and
invitation consults: the CRM cannot bring them back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import CharField, Q, QuerySet, Value
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils import timezone

from core.outbox import record_changes
from customers.models import Customer, CustomerExternalId, Event, HeldEvent, Suppression
from customers.privacy import Subject, erase_everywhere
from customers.suppression import crm_id_digest, email_digest, key_id

ERASED_ID_PREFIX = "erased-"


@dataclass
class ErasureResult:
    customers: int = 0
    already_erased: int = 0
    suppressed: int = 0
    elsewhere: dict[str, int] = field(default_factory=dict)  # rows erased by the other apps, by kind

    @property
    def responses(self) -> int:
        return self.elsewhere.get("responses", 0)

    @property
    def invitations(self) -> int:
        return self.elsewhere.get("invitations", 0)

    @property
    def quarantined_records(self) -> int:
        return self.elsewhere.get("quarantined_records", 0)


def customers_erase(*, customers: QuerySet[Customer], reason: str = Suppression.Reason.REQUEST) -> ErasureResult:
    """Erase the personal data of these customers in one transaction (see the module). Erasing an
    erased customer again changes nothing. ``reason`` (Suppression.Reason) is kept on their
    suppression entries."""
    if reason not in Suppression.Reason.values:
        raise ValueError(f"Unknown erasure reason {reason!r}.")
    result = ErasureResult()
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            customers.select_for_update()
            .order_by("pk")
            .values_list("pk", "connection_id", "external_id", "email", "erased_at")
        )
        result.already_erased = sum(1 for *_, erased_at in rows if erased_at)
        rows = [row[:4] for row in rows if not row[4]]
        if not rows:
            return result
        ids = [pk for pk, *_ in rows]
        # Their ids in other connections (CustomerExternalId) are CRM ids of theirs too: suppressed and
        # gone, with the events held under them.
        other_ids = [
            (pk, connection_id, external_id, "")
            for pk, connection_id, external_id in CustomerExternalId.objects.filter(customer_id__in=ids).values_list(
                "customer_id", "connection_id", "external_id"
            )
        ]
        result.suppressed = _suppress(rows + other_ids, reason=reason)
        CustomerExternalId.objects.filter(customer_id__in=ids).delete()
        _held_events_erase(rows + other_ids)
        _source_keys_rewrite(rows)
        Customer.objects.filter(pk__in=ids).update(
            name="",
            email="",
            contact_name="",
            lost_reason="",
            external_id=Concat(Value(ERASED_ID_PREFIX), Cast("pk", CharField())),
            unsubscribed_at=Coalesce("unsubscribed_at", Value(now)),
            erased_at=now,
            updated_at=now,
        )
        result.customers = len(ids)
        # Each app that holds their personal data erases its own rows (customers.privacy), under each of
        # their CRM ids.
        result.elsewhere = erase_everywhere([Subject(*row) for row in rows + other_ids])
        # Their scores, events and invitations count as before; only what the customer read model
        # holds of them (their record) changed.
        record_changes(customers=ids)
    return result


def _held_events_erase(rows: list[tuple[int, int, str, str]]) -> None:
    """Delete the held events (HeldEvent) under the subject's ids or with their email: they hold what
    the source row said about them, and an erased subject's event is never applied."""
    query = Q(pk__in=[])
    for _pk, connection_id, external_id, email in rows:
        if external_id:
            query |= Q(connection_id=connection_id, customer_external_id=external_id)
        if email:
            query |= Q(record__customer_email=email)
    HeldEvent.objects.filter(query).delete()


def _suppress(rows: list[tuple[int, int, str, str]], *, reason: str) -> int:
    current = key_id()
    entries = [
        Suppression(kind=Suppression.Kind.CRM_ID, digest=crm_id_digest(connection_id, external_id),
                    connection_id=connection_id, reason=reason, key_id=current)
        for _pk, connection_id, external_id, _email in rows
        if external_id and not external_id.startswith(ERASED_ID_PREFIX)
    ] + [
        Suppression(kind=Suppression.Kind.EMAIL, digest=email_digest(email), reason=reason, key_id=current)
        for _pk, _connection_id, _external_id, email in rows
        if email
    ]  # fmt: skip
    # An entry may exist already (the same email on two customers, a subject erased before).
    Suppression.objects.bulk_create(entries, ignore_conflicts=True, batch_size=1000)
    return len({e.digest for e in entries})


def _source_keys_rewrite(rows: list[tuple[int, int, str, str]]) -> None:
    """Drop the CRM id from the source keys derived from it (``hubspot:<id>:new``, a referral's
    ``…:referral:<referrer id>``). Safe for replays: the erased subject's own records are skipped,
    and a referral to them is never derived again (their id is cleared from incoming references).
    An events file's keys (``event:<event id>``) carry no customer id and stay."""
    erased_ids = {(connection_id, external_id) for _pk, connection_id, external_id, _email in rows if external_id}
    ids = [pk for pk, *_ in rows]
    events = Event.objects.filter(Q(customer_id__in=ids) | Q(referrer_id__in=ids)).exclude(
        source_key__startswith="event:"
    )
    changed = []
    for event in events.only("pk", "connection_id", "source_key"):
        key = f":{event.source_key}:"
        if any(c == event.connection_id and f":{e}:" in key for c, e in erased_ids):
            event.source_key = f"erased:{event.pk}"
            changed.append(event)
    Event.objects.bulk_update(changed, ["source_key"], batch_size=1000)

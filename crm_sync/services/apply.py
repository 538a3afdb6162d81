"""Turning a page of normalised records into customers and events, in bulk.

A page costs a fixed number of queries whatever its size: one to load the page's customers, one
upsert, one to read the ids back, one to find the events already stored, one insert. A customer whose
state did not change is not written at all, so a replay changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db.models import Max
from django.utils import timezone

from crm_sync.connectors.base import CustomerRecord, EventRecord, RejectedRecord
from crm_sync.models import Connection, Customer, Event, Segment
from crm_sync.rollups import local_day
from crm_sync.services.derive import (
    PROSPECT,
    CustomerState,
    EventSpec,
    apply_event_record,
    derive_customer_changes,
)

log = logging.getLogger(__name__)

BATCH_SIZE = 500
STATE_FIELDS = (
    "name", "email", "language", "country", "audience", "value", "segment", "status", "acquired_at",
    "lost_at", "lost_reason", "state_as_of",
)  # fmt: skip


@dataclass
class ApplyResult:
    customers_created: int = 0
    customers_updated: int = 0
    events_created: int = 0
    rejected: list[RejectedRecord] = field(default_factory=list)
    # The local days of the events inserted: the caller marks them dirty for the event rollups in the
    # same transaction (crm_sync.rollups.events_mark_dirty; _pages_apply does).
    event_days: set[date] = field(default_factory=set)


class SegmentCache:
    """Segments by name (case-insensitive). A name the CRM uses that is not configured yet is created
    above the highest rank, with a warning: the customer is kept, and an admin sets the rank."""

    def __init__(self) -> None:
        self._by_name = {s.name.lower(): s for s in Segment.objects.all()}
        self._by_id = {s.pk: s for s in self._by_name.values()}

    def id_for(self, name: str) -> int | None:
        if not name:
            return None
        segment = self._by_name.get(name.lower())
        if segment is None:
            top = Segment.objects.aggregate(top=Max("rank"))["top"] or 0
            segment, created = Segment.objects.get_or_create(name=name[:80], defaults={"rank": top + 1})
            if created:
                log.warning("Created the value segment %r with rank %d: set its rank in admin", name, top + 1)
            self._by_name[name.lower()] = segment
            self._by_id[segment.pk] = segment
        return segment.pk

    def name_for(self, segment_id: int | None) -> str:
        segment = self._by_id.get(segment_id) if segment_id else None
        return segment.name if segment else ""


def _states_load(connection: Connection, ids: set[str], segments: SegmentCache) -> dict[str, CustomerState]:
    rows = Customer.objects.filter(connection=connection, external_id__in=ids).values(
        "external_id", "referred_by__external_id", "segment_id", *[f for f in STATE_FIELDS if f != "segment"]
    )
    states = {}
    for row in rows:
        segment_name = segments.name_for(row.pop("segment_id"))
        referred_by = row.pop("referred_by__external_id") or ""
        states[row["external_id"]] = CustomerState(**row, segment=segment_name, referred_by=referred_by)
    return states


def crm_records_apply(
    *,
    connection: Connection,
    records: list[CustomerRecord | EventRecord],
    now: datetime | None = None,
    segments: SegmentCache | None = None,
) -> ApplyResult:
    """Upsert the customers of one page and store the events their changes imply.

    Call it inside a transaction together with the checkpoint that covers the page, and mark
    ``result.event_days`` dirty for the event rollups in that transaction (``events_mark_dirty``), as
    ``crm_sync.services.runs`` does.
    """
    now = now or timezone.now()
    segments = segments or SegmentCache()
    result = ApplyResult()
    ids: set[str] = set()
    for record in records:
        if isinstance(record, CustomerRecord):
            ids.add(record.external_id)
            if record.referred_by:
                ids.add(record.referred_by)
        else:
            ids.add(record.customer_id)
            if record.referrer_id:
                ids.add(record.referrer_id)
    stored = _states_load(connection, ids, segments)
    states: dict[str, CustomerState] = dict(stored)
    applied_keys = _stored_keys(connection, [f"event:{r.event_id}" for r in records if isinstance(r, EventRecord)])

    specs: list[EventSpec] = []
    for record in records:
        try:
            if isinstance(record, CustomerRecord):
                state, new_specs = derive_customer_changes(
                    states.get(record.external_id), record, prefix=connection.kind, now=now
                )
                states[record.external_id] = state
                specs.extend(new_specs)
            else:
                key = f"event:{record.event_id}"
                if key in applied_keys:
                    continue  # applied before: replaying it must not move the state again
                referrer = states.get(record.referrer_id) if record.referrer_id else None
                state, spec = apply_event_record(states.get(record.customer_id), record, referrer=referrer)
                states[record.customer_id] = state
                applied_keys.add(key)
                specs.append(spec)
        except (ValueError, TypeError) as exc:
            result.rejected.append(RejectedRecord(source=record.source, payload=repr(record)[:20_000], reason=str(exc)))
    changed = [s for ext, s in states.items() if s.differs_from(stored.get(ext))]
    result.customers_created = sum(1 for s in changed if s.external_id not in stored)
    result.customers_updated = len(changed) - result.customers_created
    _customers_upsert(connection, changed, segments)

    # A referrer the source has not sent (yet) is stored as a prospect until its own record arrives.
    # Inserted only if absent: a placeholder must never overwrite a customer outside this page.
    new_links = [s for s in changed if s.referred_by and s.referred_by != getattr(stored.get(s.external_id), "referred_by", "")]
    referrers = {spec.referrer for spec in specs if spec.referrer} | {s.referred_by for s in new_links}
    placeholders = referrers - states.keys()
    Customer.objects.bulk_create(
        [Customer(connection=connection, external_id=ext, status=PROSPECT) for ext in sorted(placeholders)],
        batch_size=BATCH_SIZE,
        ignore_conflicts=True,
    )
    pks = dict(
        Customer.objects.filter(connection=connection, external_id__in=[*states, *placeholders])
        .values_list("external_id", "pk")
    ) if changed or specs else {}  # fmt: skip
    Customer.objects.bulk_update(
        [Customer(pk=pks[s.external_id], referred_by_id=pks[s.referred_by]) for s in new_links],
        ["referred_by"],
        batch_size=BATCH_SIZE,
    )
    result.events_created, result.event_days = _events_insert(connection, specs, pks, states, segments)
    return result


def _stored_keys(connection: Connection, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    return set(Event.objects.filter(connection=connection, source_key__in=keys).values_list("source_key", flat=True))


def _customers_upsert(connection: Connection, states: list[CustomerState], segments: SegmentCache) -> None:
    if not states:
        return
    now = timezone.now()
    default_audience = "b2c" if (connection.settings or {}).get("object_type") == "contacts" else "b2b"
    objects = [
        Customer(
            connection=connection,
            external_id=s.external_id,
            name=s.name[:200],
            email=s.email,
            language=s.language or "en",
            country=s.country,
            audience=s.audience or default_audience,
            value=s.value if s.value is not None else 0,
            segment_id=segments.id_for(s.segment),
            status=s.status,
            acquired_at=s.acquired_at,
            lost_at=s.lost_at,
            lost_reason=s.lost_reason[:200],
            state_as_of=s.state_as_of,
            updated_at=now,
        )
        for s in states
    ]
    Customer.objects.bulk_create(
        objects,
        batch_size=BATCH_SIZE,
        update_conflicts=True,
        unique_fields=["connection", "external_id"],
        update_fields=[
            "name", "email", "language", "country", "audience", "value", "segment", "status", "acquired_at",
            "lost_at", "lost_reason", "state_as_of", "updated_at",
        ],
    )  # fmt: skip


def _events_insert(
    connection: Connection,
    specs: list[EventSpec],
    pks: dict[str, int],
    states: dict[str, CustomerState],
    segments: SegmentCache,
) -> tuple[int, set[date]]:
    if not specs:
        return 0, set()
    unique: dict[str, EventSpec] = {}
    for spec in specs:
        unique.setdefault(spec.source_key, spec)
    stored = _stored_keys(connection, list(unique))
    events = []
    for spec in unique.values():
        if spec.source_key in stored:
            continue
        segment = spec.segment
        if spec.type == "referral" and not segment:
            segment = states[spec.referrer].segment if spec.referrer in states else ""
        events.append(
            Event(
                connection=connection,
                source_key=spec.source_key[:200],
                type=spec.type,
                occurred_at=spec.occurred_at,
                customer_id=pks[spec.customer],
                value=spec.value,
                reason=spec.reason[:200],
                segment_id=segments.id_for(segment),
                from_segment_id=segments.id_for(spec.from_segment),
                to_segment_id=segments.id_for(spec.to_segment),
                referrer_id=pks.get(spec.referrer) if spec.referrer else None,
            )
        )
    # ignore_conflicts as a second line of defence; the lookup above makes the count exact.
    Event.objects.bulk_create(events, batch_size=BATCH_SIZE, ignore_conflicts=True)
    return len(events), {local_day(e.occurred_at) for e in events}

"""Turning a page of normalised CRM records into customers and events, in bulk.

A page costs a fixed number of queries whatever its size: the segments, the page's customers, the
events already stored under the page's keys, one upsert of the changed customers (which returns their
ids), one insert of the missing referrers, one update of the new referral links, one insert of the new
events. A customer whose state did not change is not written at all, so a replay changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime

from django.db.models import Max
from django.utils import timezone

from core.days import event_bounds, implausible_moment
from core.inputs import contains_nul, shown_nul
from core.outbox import record_changes
from customers.models import Customer, Event, Segment
from customers.records import CustomerRecord, EventRecord, RejectedRecord
from customers.services.derive import PROSPECT, CustomerState, EventSpec, apply_event_record, derive_customer_changes
from customers.suppression import crm_id_digest, email_digest, suppressed_digests

log = logging.getLogger(__name__)

STATE_FIELDS = (
    "name",
    "email",
    "language",
    "country",
    "audience",
    "value",
    "status",
    "acquired_at",
    "lost_at",
    "lost_reason",
    "state_as_of",
)


@dataclass
class ApplyResult:
    customers_created: int = 0
    customers_updated: int = 0
    events_created: int = 0
    rejected: list[RejectedRecord] = field(default_factory=list)
    # Records of subjects on the suppression list (their data erased at their request): not applied,
    # and not quarantined either, which would store their personal data again.
    suppressed: int = 0


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


def _states_load(
    connection, ids: set[str], segments: SegmentCache
) -> tuple[dict[str, CustomerState], dict[str, int], set[str]]:
    """The stored state of these customers, their ids, and which of them are erased."""
    rows = Customer.objects.filter(connection=connection, external_id__in=ids).values_list(
        "pk", "external_id", "erased_at", "referred_by__external_id", "segment_id", *STATE_FIELDS
    )
    states, pks, erased = {}, {}, set()
    for pk, external_id, erased_at, referred_by, segment_id, *values in rows:
        if erased_at:
            # Only a CRM id that happens to read "erased-<pk>" can reach an erased row: never update it.
            erased.add(external_id)
        states[external_id] = CustomerState(
            external_id=external_id,
            segment=segments.name_for(segment_id),
            referred_by=referred_by or "",
            **dict(zip(STATE_FIELDS, values, strict=True)),
        )
        pks[external_id] = pk
    return states, pks, erased


def _suppressed_removed(connection, records: list[CustomerRecord | EventRecord]) -> tuple[list, int]:
    """The records without those of suppressed subjects (by CRM id or email), and how many went; a
    reference to a suppressed subject (referred by, referrer) is cleared, so that no placeholder or
    referral brings them back. One query for the whole page."""
    digests: dict[tuple[str, str], str | None] = {}

    def digest(kind: str, value: str) -> str | None:
        if (kind, value) not in digests:
            digests[kind, value] = crm_id_digest(connection.pk, value) if kind == "id" else email_digest(value)
        return digests[kind, value]

    parts = []
    for record in records:
        if isinstance(record, EventRecord):
            own = (digest("id", record.customer_id), digest("email", record.customer_email))
            parts.append((record, own, "referrer_id", digest("id", record.referrer_id)))
        else:
            own = (digest("id", record.external_id), digest("email", record.email))
            parts.append((record, own, "referred_by", digest("id", record.referred_by)))
    found = suppressed_digests(digests.values())
    if not found:
        return records, 0
    kept = []
    for record, own, reference, reference_digest in parts:
        if found.intersection(own):
            continue
        kept.append(replace(record, **{reference: ""}) if reference_digest in found else record)
    return kept, len(records) - len(kept)


CUSTOMER_MOMENTS = ("customer_since", "lost_at", "referred_at", "created_at", "modified_at")


def record_problem(
    record: CustomerRecord | EventRecord, *, bounds: tuple[datetime, datetime] | None = None
) -> str | None:
    """Why a record cannot be right, whichever source sent it, or None: a NUL character (PostgreSQL
    cannot store one), a time before EARLIEST_DAY or after tomorrow (a year-1 date would stretch every
    day-by-day rebuild over two thousand years), or a negative value."""
    texts = [v for v in vars(record).values() if isinstance(v, str)]
    if isinstance(record, EventRecord):
        moments = [("occurred_at", record.occurred_at)]
    else:
        moments = [(name, getattr(record, name)) for name in CUSTOMER_MOMENTS]
        moments += [("segment history", entry.at) for entry in record.segment_history]
        texts += [entry.value for entry in record.segment_history]
    if contains_nul(texts):
        return "a value contains a NUL character"
    bounds = bounds or event_bounds()
    for name, moment in moments:
        try:
            problem = implausible_moment(moment, name=name, bounds=bounds) if moment is not None else None
        except TypeError as exc:  # a naive time: a connector's mistake, quarantined like the rest
            return f"{name}: {exc}"
        if problem:
            return problem
    if record.value is not None and record.value < 0:
        return f"value {record.value} is negative"
    return None


def crm_records_apply(
    *,
    connection,
    records: list[CustomerRecord | EventRecord],
    now: datetime | None = None,
    segments: SegmentCache | None = None,
) -> ApplyResult:
    """Upsert the customers of one page and store the events their changes imply; call it inside a
    transaction together with the checkpoint that covers the page (``connection``: a CRM connection)."""
    now = now or timezone.now()
    segments = segments or SegmentCache()
    result = ApplyResult()
    # Erased people first: their records are dropped before anything could quarantine their data again
    # (the check compares keyed hashes, so no raw value reaches the query).
    records, result.suppressed = _suppressed_removed(connection, records)
    plausible = []
    bounds = event_bounds()
    for record in records:
        problem = record_problem(record, bounds=bounds)
        if problem:  # refused before any of its values reaches a query
            result.rejected.append(_rejected(record, problem))
        else:
            plausible.append(record)
    records = plausible
    ids: set[str] = set()
    for record in records:
        if isinstance(record, EventRecord):
            ids.update(i for i in (record.customer_id, record.referrer_id) if i)
        else:
            ids.update(i for i in (record.external_id, record.referred_by) if i)
    stored, pks, erased = _states_load(connection, ids, segments)
    if erased:
        records, skipped = _erased_removed(records, erased)
        result.suppressed += skipped
    states: dict[str, CustomerState] = dict(stored)
    applied_keys = _stored_keys(connection, [f"event:{r.event_id}" for r in records if isinstance(r, EventRecord)])

    specs: list[EventSpec] = []
    for record in records:
        try:
            if isinstance(record, EventRecord):
                key = f"event:{record.event_id}"
                if key in applied_keys:
                    continue  # applied before: replaying it must not move the state again
                referrer = states.get(record.referrer_id) if record.referrer_id else None
                state, spec = apply_event_record(states.get(record.customer_id), record, referrer=referrer)
                states[record.customer_id] = state
                applied_keys.add(key)
                specs.append(spec)
            else:
                state, new_specs = derive_customer_changes(
                    states.get(record.external_id), record, prefix=connection.kind, now=now
                )
                states[record.external_id] = state
                specs.extend(new_specs)
        except (ValueError, TypeError) as exc:
            result.rejected.append(_rejected(record, str(exc)))
    changed = [s for ext, s in states.items() if s.differs_from(stored.get(ext))]
    result.customers_created = sum(1 for s in changed if s.external_id not in stored)
    result.customers_updated = len(changed) - result.customers_created
    pks.update(_customers_upsert(connection, changed, segments))

    # A referrer the source has not sent (yet) is stored as a prospect until its own record arrives.
    # Inserted only if absent: a placeholder must never overwrite a customer outside this page.
    new_links = [
        s for s in changed if s.referred_by and s.referred_by != getattr(stored.get(s.external_id), "referred_by", "")
    ]
    referrers = {spec.referrer for spec in specs if spec.referrer} | {s.referred_by for s in new_links}
    pks.update(_placeholders_insert(connection, referrers - states.keys()))
    Customer.objects.bulk_update(
        [Customer(pk=pks[s.external_id], referred_by_id=pks[s.referred_by]) for s in new_links], ["referred_by"]
    )
    events = _events_insert(connection, specs, pks, states, segments)
    result.events_created = len(events)
    record_changes(
        events=[e.occurred_at for e in events],
        customers=[pks[s.external_id] for s in changed] + [e.customer_id for e in events],
    )
    return result


def _rejected(record: CustomerRecord | EventRecord, reason: str) -> RejectedRecord:
    # repr() writes a NUL as \x00, which the quarantine can store.
    return RejectedRecord(source=shown_nul(record.source), payload=repr(record)[:20_000], reason=reason)


def _erased_removed(records: list, erased: set[str]) -> tuple[list, int]:
    kept = []
    for record in records:
        own, reference = (
            (record.customer_id, "referrer_id")
            if isinstance(record, EventRecord)
            else (record.external_id, "referred_by")
        )
        if own in erased:
            continue
        kept.append(replace(record, **{reference: ""}) if getattr(record, reference) in erased else record)
    return kept, len(records) - len(kept)


def _stored_keys(connection, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    return set(Event.objects.filter(connection=connection, source_key__in=keys).values_list("source_key", flat=True))


def _customers_upsert(connection, states: list[CustomerState], segments: SegmentCache) -> dict[str, int]:
    """Insert or update these customers; returns their ids by external id."""
    default_audience = "b2c" if (connection.settings or {}).get("object_type") == "contacts" else "b2b"
    customers = [
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
        )
        for s in states
    ]
    Customer.objects.bulk_create(
        customers,
        update_conflicts=True,
        unique_fields=["connection", "external_id"],
        update_fields=[*STATE_FIELDS, "segment", "updated_at"],
    )
    return {c.external_id: c.pk for c in customers}


def _placeholders_insert(connection, external_ids: set[str]) -> dict[str, int]:
    """Prospects for referrers not stored yet; returns their ids. A customer stored meanwhile (by another
    writer) is left as it is and its id read."""
    if not external_ids:
        return {}
    Customer.objects.bulk_create(
        [Customer(connection=connection, external_id=ext, status=PROSPECT) for ext in sorted(external_ids)],
        ignore_conflicts=True,
    )
    rows = Customer.objects.filter(connection=connection, external_id__in=external_ids)
    return dict(rows.values_list("external_id", "pk"))


def _events_insert(
    connection, specs: list[EventSpec], pks: dict[str, int], states: dict[str, CustomerState], segments: SegmentCache
) -> list[Event]:
    """Insert the events not stored yet and return them. The unique source key decides: one sync of a
    connection runs at a time (SyncRun), so the keys read before the insert are the ones stored."""
    unique: dict[str, EventSpec] = {}
    for spec in specs:
        unique.setdefault(spec.source_key[:200], spec)
    stored = _stored_keys(connection, list(unique))
    events = []
    for key, spec in unique.items():
        if key in stored:
            continue
        segment = spec.segment
        if spec.type == Event.Type.REFERRAL and not segment:
            segment = states[spec.referrer].segment if spec.referrer in states else ""
        value = spec.value
        if value is None and spec.type in (Event.Type.NEW, Event.Type.LOST):
            value = states[spec.customer].value  # the customer's value when it happened
        events.append(
            Event(
                connection=connection,
                source_key=key,
                type=spec.type,
                occurred_at=spec.occurred_at,
                customer_id=pks[spec.customer],
                value=value,
                reason=spec.reason[:200],
                segment_id=segments.id_for(segment),
                from_segment_id=segments.id_for(spec.from_segment),
                to_segment_id=segments.id_for(spec.to_segment),
                referrer_id=pks.get(spec.referrer) if spec.referrer else None,
            )
        )
    Event.objects.bulk_create(events, ignore_conflicts=True)
    return events

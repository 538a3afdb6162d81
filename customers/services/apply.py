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
from decimal import Decimal

from django.db.models import Max
from django.utils import timezone

from core.days import event_bounds, implausible_moment
from core.inputs import contains_nul, shown_nul
from core.outbox import record_changes
from customers.models import Customer, CustomerExternalId, Event, HeldEvent, Segment
from customers.records import CustomerRecord, EventRecord, RejectedRecord, iso
from customers.services.derive import PROSPECT, CustomerState, EventSpec, apply_event_record, derive_customer_changes
from customers.suppression import crm_id_digest, email_digest, suppressed_digests

log = logging.getLogger(__name__)

STATE_FIELDS = (
    "name",
    "email",
    "contact_name",
    "account_owner_email",
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
    # Events for customers the site does not know, held with their reason (HeldEvent) rather than
    # creating a customer that was never acquired.
    held: int = 0
    # Customers of this connection matched to a customer stored from another connection (Connection.match_on).
    matched: int = 0


# Events that may name a customer the site does not know yet: a `new` one acquires it, and a referral's
# referred party is stored as a prospect until it becomes a customer. Any other event for an unknown
# customer is held (HeldEvent).
INTRODUCING_TYPES = ("new", "referral")


class SegmentCache:
    """Segments by name (case-insensitive). A name the CRM uses that is not configured yet is created
    with its rank unconfirmed (``created`` lists them): the customer is kept, the run ranks the new
    segments by their customers' mean value (``segments_rank_by_value``), and an admin confirms."""

    def __init__(self) -> None:
        self._by_name = {s.name.lower(): s for s in Segment.objects.all()}
        self._by_id = {s.pk: s for s in self._by_name.values()}
        self.created: list[str] = []

    def id_for(self, name: str) -> int | None:
        if not name:
            return None
        segment = self._by_name.get(name.lower())
        if segment is None:
            top = Segment.objects.aggregate(top=Max("rank"))["top"] or 0
            segment, created = Segment.objects.get_or_create(
                name=name[:80], defaults={"rank": top + 1, "ranks_confirmed": False}
            )
            if created:
                self.created.append(segment.name)
                log.warning("Created the value segment %r: confirm its rank in admin", name)
            self._by_name[name.lower()] = segment
            self._by_id[segment.pk] = segment
        return segment.pk

    def name_for(self, segment_id: int | None) -> str:
        segment = self._by_id.get(segment_id) if segment_id else None
        return segment.name if segment else ""


@dataclass
class KnownCustomers:
    """The stored customers a page's ids name in its connection: their state in source terms, their ids,
    the key they were stored under (Customer.connection and external_id, which the upsert updates), the
    ids matched to another connection's customer just now (to be stored as CustomerExternalId), and the
    erased ones."""

    states: dict[str, CustomerState] = field(default_factory=dict)
    pks: dict[str, int] = field(default_factory=dict)
    homes: dict[str, tuple[int, str]] = field(default_factory=dict)
    matched: set[str] = field(default_factory=set)
    erased: set[str] = field(default_factory=set)


def customers_resolve(connection, ids: set[str], emails: dict[str, str]) -> tuple[dict[str, int], set[str]]:
    """The stored customer of each id of ``connection`` that names one: by the customer's own key, then
    by an id stored for this connection (CustomerExternalId), then by the connection's matching rule
    (``match_on``: the CRM id of ``match_connection``, or the email given in ``emails``, {id: email}).
    Returns {id: customer pk} and the ids found by the matching rule. A fixed number of queries."""
    found = dict(Customer.objects.filter(connection=connection, external_id__in=ids).values_list("external_id", "pk"))
    more, matched = other_keys_resolve(connection, ids - found.keys(), emails)
    return found | more, matched


def other_keys_resolve(connection, rest: set[str], emails: dict[str, str]) -> tuple[dict[str, int], set[str]]:
    """customers_resolve for the ids that are no customer's own key in the connection."""
    found: dict[str, int] = {}
    if rest:
        found.update(
            CustomerExternalId.objects.filter(connection=connection, external_id__in=rest).values_list(
                "external_id", "customer_id"
            )
        )
        rest -= found.keys()
    matched: dict[str, int] = {}
    match_on = getattr(connection, "match_on", "")
    usable = Customer.objects.filter(erased_at__isnull=True).exclude(connection=connection)
    if rest and match_on == "connection" and connection.match_connection_id:
        other = connection.match_connection_id
        matched.update(usable.filter(connection_id=other, external_id__in=rest).values_list("external_id", "pk"))
        more = rest - matched.keys()
        if more:
            matched.update(
                CustomerExternalId.objects.filter(
                    connection_id=other, external_id__in=more, customer__erased_at__isnull=True
                ).values_list("external_id", "customer_id")
            )
    elif rest and match_on == "email":
        wanted = {emails[i]: i for i in sorted(rest) if emails.get(i)}
        if wanted:
            # The customer stored first wins when two share an address.
            rows = usable.filter(email__in=wanted).order_by("-created_at", "-pk").values_list("email", "pk")
            for email, pk in rows:
                matched[wanted[email]] = pk
    # An id matched to a customer that already has an id in this connection would give it two.
    taken = set(
        CustomerExternalId.objects.filter(connection=connection, customer_id__in=matched.values()).values_list(
            "customer_id", flat=True
        )
    ) if matched else set()  # fmt: skip
    matched = {i: pk for i, pk in matched.items() if pk not in taken}
    found.update(matched)
    return found, set(matched)


def _states_load(connection, ids: set[str], emails: dict[str, str], segments: SegmentCache) -> KnownCustomers:
    """The stored state of these customers (in this connection's ids), however they are keyed."""
    known = KnownCustomers()
    if not ids:
        return known
    columns = ("pk", "connection_id", "external_id", "erased_at", "referred_by__external_id", "segment_id")
    rows = list(
        Customer.objects.filter(connection=connection, external_id__in=ids).values_list(*columns, *STATE_FIELDS)
    )
    by_pk = {row[0]: row[2] for row in rows}
    # Ids that are no customer's own key here: another connection's customer, by a stored or matched id.
    others, known.matched = other_keys_resolve(connection, ids - set(by_pk.values()), emails)
    if others:
        by_pk.update({pk: ext for ext, pk in others.items()})
        rows += Customer.objects.filter(pk__in=others.values()).values_list(*columns, *STATE_FIELDS)
    for pk, home_connection, home_id, erased_at, referred_by, segment_id, *values in rows:
        external_id = by_pk[pk]
        if erased_at:
            # Only a CRM id that happens to read "erased-<pk>" can reach an erased row: never update it.
            known.erased.add(external_id)
        known.states[external_id] = CustomerState(
            external_id=external_id,
            segment=segments.name_for(segment_id),
            referred_by=referred_by or "",
            **dict(zip(STATE_FIELDS, values, strict=True)),
        )
        known.pks[external_id] = pk
        known.homes[external_id] = (home_connection, home_id)
    return known


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
        moments += [(kind, at) for kind, at in record.operational]
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
    emails: dict[str, str] = {}  # for matching on the email (Connection.match_on)
    introduced: set[str] = set()  # ids this page itself may create: a snapshot, a `new`, a referred party
    for record in records:
        if isinstance(record, EventRecord):
            ids.update(i for i in (record.customer_id, record.referrer_id) if i)
            if record.customer_email:
                emails.setdefault(record.customer_id, record.customer_email)
            if record.type in INTRODUCING_TYPES:
                introduced.add(record.customer_id)
        else:
            ids.update(i for i in (record.external_id, record.referred_by) if i)
            if record.email:
                emails.setdefault(record.external_id, record.email)
            introduced.add(record.external_id)
    known = _states_load(connection, ids, emails, segments)
    stored, pks = known.states, known.pks
    if known.erased:
        records, skipped = _erased_removed(records, known.erased)
        result.suppressed += skipped
    states: dict[str, CustomerState] = dict(stored)
    applied_keys = _stored_keys(connection, [f"event:{r.event_id}" for r in records if isinstance(r, EventRecord)])

    specs: list[EventSpec] = []
    held: list[EventRecord] = []
    for record in records:
        try:
            if isinstance(record, EventRecord):
                key = f"event:{record.event_id}"
                if key in applied_keys:
                    continue  # applied before: replaying it must not move the state again
                if record.customer_id not in stored and record.customer_id not in introduced:
                    held.append(record)  # the customer is unknown: never invent one from a loss
                    continue
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
    result.held = _held_store(connection, held)
    changed = [s for ext, s in states.items() if s.differs_from(stored.get(ext))]
    result.customers_created = sum(1 for s in changed if s.external_id not in stored)
    result.customers_updated = len(changed) - result.customers_created
    pks.update(_customers_upsert(connection, changed, segments, homes=known.homes))
    result.matched = _external_ids_store(connection, {ext: pks[ext] for ext in known.matched})

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


def _customers_upsert(
    connection, states: list[CustomerState], segments: SegmentCache, *, homes: dict[str, tuple[int, str]]
) -> dict[str, int]:
    """Insert or update these customers; returns their ids by external id. A customer stored under
    another key (``homes``: matched to another connection's customer) is updated under that key."""
    default_audience = "b2c" if (connection.settings or {}).get("object_type") == "contacts" else "b2b"
    customers = [
        Customer(
            connection_id=homes[s.external_id][0] if s.external_id in homes else connection.pk,
            external_id=homes[s.external_id][1] if s.external_id in homes else s.external_id,
            name=s.name[:200],
            email=s.email,
            contact_name=s.contact_name[:200],
            account_owner_email=s.account_owner_email,
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
    return {s.external_id: c.pk for s, c in zip(states, customers, strict=True)}


def _external_ids_store(connection, matched: dict[str, int]) -> int:
    """Remember the ids just matched to another connection's customer, so that the next page finds them
    by their id (unique per connection: a replay stores nothing twice). Returns how many."""
    if not matched:
        return 0
    CustomerExternalId.objects.bulk_create(
        [CustomerExternalId(connection=connection, external_id=ext, customer_id=pk) for ext, pk in matched.items()],
        ignore_conflicts=True,
    )
    for ext, pk in matched.items():
        log.info("%s: customer id %r matched to customer %s", connection, ext, pk)
    return len(matched)


def held_reason(connection, record: EventRecord) -> str:
    how = {
        "connection": f"nor as a CRM id of the connection it matches ({getattr(connection.match_connection, 'name', '?')})",
        "email": "nor by its email address" if record.customer_email else "and the row gives no email to match on",
    }.get(getattr(connection, "match_on", ""), "and the connection matches no other connection's customers")
    return (
        f"Customer {record.customer_id!r} is not known in {connection} ({how}): a {record.type} event would "
        "create a customer that was never acquired. Held until the customer is known, then applied."
    )


def _record_json(record: EventRecord) -> dict:
    return {
        name: (iso(value) if isinstance(value, datetime) else str(value) if isinstance(value, Decimal) else value)
        for name, value in vars(record).items()
    }


def record_from_json(data: dict) -> EventRecord:
    values = dict(data)
    values["occurred_at"] = datetime.fromisoformat(values["occurred_at"].replace("Z", "+00:00"))
    if values.get("value") is not None:
        values["value"] = Decimal(values["value"])
    return EventRecord(**values)


def _held_store(connection, records: list[EventRecord]) -> int:
    """Hold these events (unique per connection and event id: a replayed file holds nothing twice)."""
    if not records:
        return 0
    HeldEvent.objects.bulk_create(
        [
            HeldEvent(
                connection=connection,
                event_id=r.event_id[:200],
                customer_external_id=r.customer_id[:100],
                type=r.type,
                occurred_at=r.occurred_at,
                source=r.source[:200],
                record=_record_json(r),
                reason=held_reason(connection, r),
            )
            for r in records
        ],
        ignore_conflicts=True,
    )
    return len(records)


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

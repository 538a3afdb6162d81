"""Turning a page of normalised records into customers and events, in bulk.

A page costs a fixed number of queries whatever its size: one to load the page's customers (and, for
an event history, one to find the events already applied), one upsert of the changed customers that
returns their ids, one insert of the missing referrers, one update of the new referral links, one
insert of the events that skips those already stored and returns the ones it inserted. A customer
whose state did not change is not written at all, so a replay changes nothing.

The writes are plain multi-row ``INSERT … ON CONFLICT`` statements (PostgreSQL and SQLite ≥ 3.35 both
have ``ON CONFLICT`` and ``RETURNING``) instead of ``bulk_create``: building 200 model instances and
compiling them is most of a page's time otherwise, and ``RETURNING`` saves the queries that read ids
and stored keys back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db import connection as db
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
from cxmetrics.bulk import array_literal, one_of

log = logging.getLogger(__name__)

BATCH_SIZE = 500  # rows per statement on SQLite (fewer: its statements take at most 999 parameters)
PG_BATCH_SIZE = 5000  # rows per statement on PostgreSQL (a page is at most 1 000)
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


def _states_load(
    connection: Connection, ids: set[str], segments: SegmentCache
) -> tuple[dict[str, CustomerState], dict[str, int]]:
    """The stored state of these customers, and their ids."""
    names = [f for f in STATE_FIELDS if f != "segment"]
    rows = Customer.objects.filter(one_of("external_id", ids), connection=connection).values_list(
        "pk", "external_id", "referred_by__external_id", "segment_id", *names
    )
    states, pks = {}, {}
    for pk, external_id, referred_by, segment_id, *values in rows:
        states[external_id] = CustomerState(
            external_id=external_id, segment=segments.name_for(segment_id), referred_by=referred_by or "",
            **dict(zip(names, values, strict=True)),
        )  # fmt: skip
        pks[external_id] = pk
    return states, pks


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
    stored, pks = _states_load(connection, ids, segments)
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
    pks.update(_customers_upsert(connection, changed, segments))

    # A referrer the source has not sent (yet) is stored as a prospect until its own record arrives.
    # Inserted only if absent: a placeholder must never overwrite a customer outside this page.
    new_links = [
        s for s in changed if s.referred_by and s.referred_by != getattr(stored.get(s.external_id), "referred_by", "")
    ]
    referrers = {spec.referrer for spec in specs if spec.referrer} | {s.referred_by for s in new_links}
    placeholders = referrers - states.keys()
    pks.update(_placeholders_insert(connection, placeholders))
    _links_update([(pks[s.external_id], pks[s.referred_by]) for s in new_links])
    result.events_created, result.event_days = _events_insert(connection, specs, pks, states, segments)
    return result


def _stored_keys(connection: Connection, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    stored = Event.objects.filter(one_of("source_key", keys), connection=connection)
    return set(stored.values_list("source_key", flat=True))


def _batches(rows: list[tuple], columns: int) -> list[list[tuple]]:
    limit = db.features.max_query_params
    size = min(BATCH_SIZE, limit // columns) if limit else BATCH_SIZE
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def _insert(
    model,
    columns: tuple[str, ...],
    rows: list[tuple],
    *,
    conflict: tuple[str, ...],
    update: tuple[str, ...] = (),
    returning: tuple[str, ...] = (),
) -> list[tuple]:
    """``INSERT … ON CONFLICT (conflict) DO UPDATE SET update (or DO NOTHING) RETURNING returning``;
    returns the rows returned (none for a row whose conflict was left alone). Values must be adapted
    already (``_datetime_adapter`` for datetimes).

    On PostgreSQL the rows go as one array per column (``SELECT * FROM unnest(…)``), each a single text
    literal: parsing and planning stay as cheap for 1 000 rows as for one, where a VALUES list of
    16 000 parameters costs more than inserting them. SQLite gets a VALUES list per batch.
    """
    if not rows:
        return []
    q = db.ops.quote_name
    head = f"INSERT INTO {q(model._meta.db_table)} ({', '.join(map(q, columns))}) "
    tail = f" ON CONFLICT ({', '.join(map(q, conflict))}) "
    tail += "DO UPDATE SET " + ", ".join(f"{q(c)} = EXCLUDED.{q(c)}" for c in update) if update else "DO NOTHING"
    if returning:
        tail += f" RETURNING {', '.join(map(q, returning))}"
    returned: list[tuple] = []
    with db.cursor() as cursor:
        if db.vendor == "postgresql":
            fields = {f.column: f for f in model._meta.concrete_fields}
            arrays = ", ".join(f"%s::{fields[c].db_type(db)}[]" for c in columns)
            sql = f"{head}SELECT * FROM unnest({arrays}){tail}"
            for start in range(0, len(rows), PG_BATCH_SIZE):
                batch = rows[start : start + PG_BATCH_SIZE]
                cursor.execute(sql, [array_literal(column) for column in zip(*batch, strict=True)])
                if returning:
                    returned.extend(cursor.fetchall())
            return returned
        row_sql = f"({', '.join(['%s'] * len(columns))})"
        for batch in _batches(rows, len(columns)):
            cursor.execute(f"{head}VALUES {', '.join([row_sql] * len(batch))}{tail}", [v for row in batch for v in row])
            if returning:
                returned.extend(cursor.fetchall())
    return returned


def _datetime_adapter():
    """A datetime as the backend takes it, as the ORM would send it: psycopg2 takes an aware datetime
    as it is; SQLite stores naive UTC text."""
    if db.vendor == "postgresql":
        return lambda value: value
    return db.ops.adapt_datetimefield_value


CUSTOMER_COLUMNS = (
    "connection_id", "external_id", "name", "email", "language", "country", "audience", "value", "segment_id",
    "status", "acquired_at", "lost_at", "lost_reason", "state_as_of", "created_at", "updated_at",
)  # fmt: skip
# On conflict (a stored customer): every column but the key and created_at.
CUSTOMER_UPDATE = CUSTOMER_COLUMNS[2:-2] + ("updated_at",)


def _customers_upsert(connection: Connection, states: list[CustomerState], segments: SegmentCache) -> dict[str, int]:
    """Insert or update these customers; returns their ids by external id."""
    if not states:
        return {}
    _dt = _datetime_adapter()
    stamp = _dt(timezone.now())
    default_audience = "b2c" if (connection.settings or {}).get("object_type") == "contacts" else "b2b"
    rows = [
        (
            connection.pk,
            s.external_id,
            s.name[:200],
            s.email,
            s.language or "en",
            s.country,
            s.audience or default_audience,
            s.value if s.value is not None else 0,
            segments.id_for(s.segment),
            s.status,
            _dt(s.acquired_at),
            _dt(s.lost_at),
            s.lost_reason[:200],
            _dt(s.state_as_of),
            stamp,
            stamp,
        )  # fmt: skip
        for s in states
    ]
    returned = _insert(
        Customer, CUSTOMER_COLUMNS, rows, conflict=("connection_id", "external_id"), update=CUSTOMER_UPDATE,
        returning=("external_id", "id"),
    )  # fmt: skip
    return dict(returned)


PLACEHOLDER_COLUMNS = (
    "connection_id", "external_id", "name", "email", "language", "country", "audience", "value", "status",
    "lost_reason", "created_at", "updated_at",
)  # fmt: skip


def _placeholders_insert(connection: Connection, external_ids: set[str]) -> dict[str, int]:
    """Prospects for referrers not stored yet; returns their ids. A customer stored meanwhile (by
    another writer) is left as it is and its id read."""
    if not external_ids:
        return {}
    stamp = _datetime_adapter()(timezone.now())
    defaults = {f.name: f.get_default() for f in Customer._meta.concrete_fields}
    rows = [
        (connection.pk, ext, "", "", defaults["language"], "", defaults["audience"], defaults["value"], PROSPECT, "",
         stamp, stamp)
        for ext in sorted(external_ids)
    ]  # fmt: skip
    pks = dict(_insert(Customer, PLACEHOLDER_COLUMNS, rows, conflict=("connection_id", "external_id"),
                       returning=("external_id", "id")))  # fmt: skip
    missing = external_ids - pks.keys()
    if missing:
        pks.update(
            Customer.objects.filter(one_of("external_id", missing), connection=connection).values_list(
                "external_id", "pk"
            )
        )
    return pks


def _links_update(links: list[tuple[int, int]]) -> None:
    """Set referred_by of (customer id, referrer id) pairs: one statement per batch."""
    if not links:
        return
    table, q = Customer._meta.db_table, db.ops.quote_name
    with db.cursor() as cursor:
        for batch in _batches(links, 2):
            values = ", ".join(["(%s, %s)"] * len(batch))
            # A VALUES list's columns are column1, column2… on both databases (SQLite has no v(a, b) alias).
            cursor.execute(
                f"UPDATE {q(table)} SET {q('referred_by_id')} = v.column2 FROM (VALUES {values}) AS v "
                f"WHERE {q(table)}.{q('id')} = v.column1",
                [value for link in batch for value in link],
            )


EVENT_COLUMNS = (
    "connection_id", "source_key", "type", "occurred_at", "customer_id", "value", "reason", "segment_id",
    "from_segment_id", "to_segment_id", "referrer_id", "created_at",
)  # fmt: skip


def _events_insert(
    connection: Connection,
    specs: list[EventSpec],
    pks: dict[str, int],
    states: dict[str, CustomerState],
    segments: SegmentCache,
) -> tuple[int, set[date]]:
    """Insert the events not stored yet; returns how many were inserted and their local days. The
    unique source key decides (ON CONFLICT DO NOTHING), and RETURNING names the rows inserted, so the
    count is exact even if another writer stored some of them meanwhile."""
    if not specs:
        return 0, set()
    unique: dict[str, EventSpec] = {}
    for spec in specs:
        unique.setdefault(spec.source_key[:200], spec)
    _dt = _datetime_adapter()
    stamp = _dt(timezone.now())
    rows = []
    for key, spec in unique.items():
        segment = spec.segment
        if spec.type == "referral" and not segment:
            segment = states[spec.referrer].segment if spec.referrer in states else ""
        rows.append((
            connection.pk, key, spec.type, _dt(spec.occurred_at), pks[spec.customer], spec.value, spec.reason[:200],
            segments.id_for(segment), segments.id_for(spec.from_segment), segments.id_for(spec.to_segment),
            pks.get(spec.referrer) if spec.referrer else None, stamp,
        ))  # fmt: skip
    inserted = _insert(Event, EVENT_COLUMNS, rows, conflict=("connection_id", "source_key"), returning=("source_key",))
    return len(inserted), {local_day(unique[key].occurred_at) for (key,) in inserted}

"""The event derivation rules, as pure functions of (stored state, incoming record).

Nothing here touches the database, so each rule is tested with hand-written CRM histories.
Source keys are deterministic (built from the object id, the rule and the event time), so a replayed
sync or import can never store an event twice.

Rules for a customer snapshot (HubSpot object or customers.csv row):
- new: the record is a customer (lifecycle stage customer, or lost) and was unknown or a prospect;
  also when a lost customer is a customer again (re-won). At: customer-since date, else the start of
  the latest "customer" stretch of the lifecycle history, else the record's modification time.
- lost: the lost flag is set and the customer was not lost. At: the lost date, else the time the
  flag was set (history), else the modification time. Carries the reason and the value.
- segment_move: the segment changed, for a customer (not a prospect). Every change in the segment
  history since the acquisition is a move, at the history's time; without history, one move from the
  stored segment to the new one at the modification time. On first sight only the history counts.
- operational (return, claim, ...): one per date the source gives for the type, for a customer (not a
  prospect), keyed by the type and the date.
- referral: referred-by is set (or changed). At: when it was set (history), else the record's
  creation, else the modification time. The referred party is the record's customer.
"""

from __future__ import annotations

from copy import copy
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from core.definitions import OPERATIONAL_EVENT_TYPES
from customers.records import CustomerRecord, EventRecord, HistoryEntry, iso

PROSPECT, ACTIVE, LOST = "prospect", "active", "lost"


@dataclass
class CustomerState:
    """What is stored about a customer, in source terms (segment by name, referrer by external id)."""

    external_id: str
    status: str = PROSPECT
    name: str = ""
    email: str = ""
    contact_name: str = ""
    account_owner_email: str = ""
    language: str = ""
    country: str = ""
    audience: str = ""
    value: Decimal | None = None
    segment: str = ""
    acquired_at: datetime | None = None
    lost_at: datetime | None = None
    lost_reason: str = ""
    referred_by: str = ""
    state_as_of: datetime | None = None

    def differs_from(self, other: CustomerState | None) -> bool:
        return other is None or self != other  # the dataclass __eq__ compares every field


@dataclass(frozen=True)
class EventSpec:
    source_key: str
    type: str
    occurred_at: datetime
    customer: str  # external id; for a referral the referred party
    value: Decimal | None = None
    reason: str = ""
    segment: str = ""  # resolved by the caller for a referral (the referrer's segment)
    from_segment: str = ""
    to_segment: str = ""
    referrer: str = ""


def segment_at(history: tuple[HistoryEntry, ...], at: datetime) -> str:
    value = ""
    for entry in history:
        if entry.at > at:
            break
        value = entry.value or value
    return value


def history_moves(history: tuple[HistoryEntry, ...], *, since: datetime | None) -> list[tuple[datetime, str, str]]:
    moves = []
    previous = ""
    for entry in history:
        if entry.value and previous and entry.value != previous and (since is None or entry.at >= since):
            moves.append((entry.at, previous, entry.value))
        previous = entry.value or previous
    return moves


def derive_customer_changes(
    current: CustomerState | None, record: CustomerRecord, *, prefix: str, now: datetime
) -> tuple[CustomerState, list[EventSpec]]:
    """The customer's new state and the events the change implies."""
    if current is not None and current.state_as_of and record.modified_at and record.modified_at < current.state_as_of:
        return current, []  # an older snapshot than the one applied: nothing to learn
    key = f"{prefix}:{record.external_id}"
    as_of = record.modified_at or now
    new = copy(current) if current is not None else CustomerState(external_id=record.external_id)
    for name in ("name", "email", "contact_name", "account_owner_email", "language", "country", "audience", "segment"):
        if getattr(record, name):
            setattr(new, name, getattr(record, name))
    if record.value is not None:
        new.value = record.value
    new.state_as_of = max(as_of, current.state_as_of) if current and current.state_as_of else as_of
    was = current.status if current is not None else None
    events: list[EventSpec] = []
    history = record.segment_history

    def segment_then(at: datetime) -> str:
        return segment_at(history, at) or new.segment

    first_acquisition = (record.is_customer or record.lost) and was in (None, PROSPECT)
    if first_acquisition:
        since = record.customer_since or as_of
        if record.lost and record.lost_at and record.lost_at < since:
            since = record.lost_at
        events.append(
            EventSpec(f"{key}:new", "new", since, record.external_id, value=new.value, segment=segment_then(since))
        )
        new.status, new.acquired_at = ACTIVE, since
    elif was == LOST and record.is_customer and not record.lost:
        since = record.customer_since
        if since is None or (current.lost_at and since <= current.lost_at):
            since = as_of
        events.append(
            EventSpec(f"{key}:new:{iso(since)}", "new", since, record.external_id, value=new.value,
                      segment=segment_then(since))
        )  # fmt: skip
        new.status, new.acquired_at, new.lost_at, new.lost_reason = ACTIVE, since, None, ""

    if record.lost and new.status == ACTIVE:
        lost_at = record.lost_at or as_of
        events.append(
            EventSpec(f"{key}:lost:{iso(lost_at)}", "lost", lost_at, record.external_id, value=new.value,
                      reason=record.lost_reason, segment=segment_then(lost_at))
        )  # fmt: skip
        new.status, new.lost_at, new.lost_reason = LOST, lost_at, record.lost_reason
    elif record.lost and new.status == LOST and record.lost_reason:
        new.lost_reason = record.lost_reason

    if new.status in (ACTIVE, LOST) and record.segment:
        changed = current is not None and bool(current.segment) and current.segment != record.segment
        if first_acquisition or changed:
            moves = history_moves(history, since=new.acquired_at)
            if changed and not moves:
                moves = [(as_of, current.segment, record.segment)]
            for at, from_segment, to_segment in moves:
                events.append(
                    EventSpec(f"{key}:segment_move:{iso(at)}", "segment_move", at, record.external_id,
                              value=new.value, segment=to_segment, from_segment=from_segment, to_segment=to_segment)
                )  # fmt: skip

    if new.status in (ACTIVE, LOST):
        # Logged as they are; the same date seen again on the next sync has the same key.
        for kind, at in record.operational:
            if kind in OPERATIONAL_EVENT_TYPES:
                events.append(
                    EventSpec(f"{key}:{kind}:{iso(at)}", kind, at, record.external_id, segment=segment_then(at))
                )

    if (
        record.referred_by
        and record.referred_by != record.external_id
        and (current is None or current.referred_by != record.referred_by)
    ):
        at = record.referred_at or record.created_at or as_of
        events.append(
            EventSpec(f"{key}:referral:{record.referred_by}", "referral", at, record.external_id,
                      referrer=record.referred_by)
        )  # fmt: skip
        new.referred_by = record.referred_by
    return new, events


def apply_event_record(
    current: CustomerState | None, record: EventRecord, *, referrer: CustomerState | None = None
) -> tuple[CustomerState, EventSpec]:
    """Apply one explicit event (events.csv) to the customer's state.

    The customer's current fields follow the latest event applied (state_as_of), so a history given
    out of order still leaves the right state; the acquisition date is the earliest `new`.
    """
    at = record.occurred_at
    new = copy(current) if current is not None else CustomerState(external_id=record.customer_id)
    if record.customer_name:
        new.name = record.customer_name
    if record.customer_email:
        new.email = record.customer_email
    latest = new.state_as_of is None or at >= new.state_as_of
    value = record.value if record.value is not None else new.value
    key = f"event:{record.event_id}"

    if record.type == "new":
        if latest:
            if new.status != ACTIVE or new.acquired_at is None:
                new.acquired_at = at  # first acquisition, or re-won after a loss
            new.status, new.lost_at, new.lost_reason = ACTIVE, None, ""
            new.segment = record.segment or new.segment
            new.value = value
            new.state_as_of = at
        else:
            if new.status == PROSPECT:
                new.status = ACTIVE
            if new.acquired_at is None or at < new.acquired_at:
                new.acquired_at = at
        spec = EventSpec(key, "new", at, record.customer_id, value=value, segment=record.segment or new.segment)
    elif record.type == "lost":
        if latest:
            if new.acquired_at is None:
                new.acquired_at = at
            new.status, new.lost_at, new.lost_reason = LOST, at, record.reason
            new.segment = record.segment or new.segment
            new.value = value
            new.state_as_of = at
        spec = EventSpec(key, "lost", at, record.customer_id, value=value, reason=record.reason,
                         segment=record.segment or new.segment)  # fmt: skip
    elif record.type == "segment_move":
        from_segment = record.from_segment or new.segment
        if latest:
            new.segment = record.to_segment
            new.value = value
            new.state_as_of = at
        spec = EventSpec(key, "segment_move", at, record.customer_id, value=value, segment=record.to_segment,
                         from_segment=from_segment, to_segment=record.to_segment)  # fmt: skip
    elif record.type in OPERATIONAL_EVENT_TYPES:
        # Logged only: a return or a support contact says nothing about the customer's status, segment
        # or value. Its value is the amount concerned, if the source gives one.
        spec = EventSpec(key, record.type, at, record.customer_id, value=record.value, reason=record.reason,
                         segment=record.segment or new.segment)  # fmt: skip
    else:  # referral: the customer is the referred party, who may not be a customer yet
        if not new.referred_by:
            new.referred_by = record.referrer_id
        segment = record.segment or (referrer.segment if referrer else "")
        spec = EventSpec(key, "referral", at, record.customer_id, value=record.value, segment=segment,
                         reason=record.reason, referrer=record.referrer_id)  # fmt: skip
    return new, spec

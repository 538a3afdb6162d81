"""Each event derivation rule, with hand-written CRM histories (no database)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from customers.records import CustomerRecord, EventRecord, HistoryEntry
from customers.services.derive import CustomerState, apply_event_record, derive_customer_changes

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2025, 1, day, hour, tzinfo=UTC)


def record(**fields) -> CustomerRecord:
    return CustomerRecord(**{"external_id": "42", "source": "test", **fields})


def derive(current, rec):
    return derive_customer_changes(current, rec, prefix="hubspot", now=NOW)


def summary(events) -> list[tuple]:
    return [(e.type, e.source_key, e.occurred_at) for e in events]


# new


def test_becoming_a_customer_is_a_new_event_at_the_customer_since_date():
    state, events = derive(None, record(is_customer=True, customer_since=at(3), modified_at=at(9), segment="Gold",
                                        value=Decimal("500")))  # fmt: skip
    assert summary(events) == [("new", "hubspot:42:new", at(3))]
    assert (events[0].segment, events[0].value) == ("Gold", Decimal("500"))
    assert (state.status, state.acquired_at, state.state_as_of) == ("active", at(3), at(9))


def test_a_prospect_that_becomes_a_customer_is_new_and_a_prospect_alone_is_not():
    prospect, events = derive(None, record(is_customer=False, modified_at=at(1)))
    assert events == [] and prospect.status == "prospect"
    state, events = derive(prospect, record(is_customer=True, modified_at=at(5)))
    assert summary(events) == [("new", "hubspot:42:new", at(5))]  # no date known: the modification time


def test_an_active_customer_seen_again_yields_nothing():
    state, _ = derive(None, record(is_customer=True, customer_since=at(3), modified_at=at(4), segment="Gold"))
    again, events = derive(state, record(is_customer=True, customer_since=at(3), modified_at=at(4), segment="Gold"))
    assert events == [] and not again.differs_from(state)


def test_a_lost_customer_who_is_won_back_is_new_again_with_a_distinct_key():
    lost = CustomerState("42", status="lost", acquired_at=at(1), lost_at=at(5), lost_reason="price", state_as_of=at(5))
    state, events = derive(lost, record(is_customer=True, customer_since=at(8), modified_at=at(9)))
    assert summary(events) == [("new", "hubspot:42:new:2025-01-08T00:00:00Z", at(8))]
    assert (state.status, state.acquired_at, state.lost_at, state.lost_reason) == ("active", at(8), None, "")


# lost


def test_the_lost_flag_is_a_lost_event_with_reason_and_value_at_the_lost_date():
    active = CustomerState("42", status="active", acquired_at=at(1), value=Decimal("900"), segment="Gold",
                           state_as_of=at(1))  # fmt: skip
    state, events = derive(active, record(is_customer=True, lost=True, lost_at=at(6), lost_reason="price",
                                          modified_at=at(7)))  # fmt: skip
    assert summary(events) == [("lost", "hubspot:42:lost:2025-01-06T00:00:00Z", at(6))]
    assert (events[0].reason, events[0].value, events[0].segment) == ("price", Decimal("900"), "Gold")
    assert (state.status, state.lost_at, state.lost_reason) == ("lost", at(6), "price")


def test_a_customer_first_seen_already_lost_gets_new_then_lost():
    _, events = derive(None, record(is_customer=False, lost=True, customer_since=at(2), lost_at=at(4),
                                    modified_at=at(5)))  # fmt: skip
    assert [(e.type, e.occurred_at) for e in events] == [("new", at(2)), ("lost", at(4))]


def test_a_lost_customer_seen_again_is_not_lost_twice():
    lost = CustomerState("42", status="lost", acquired_at=at(1), lost_at=at(5), lost_reason="price", state_as_of=at(5))
    _, events = derive(lost, record(is_customer=True, lost=True, lost_at=at(5), lost_reason="price", modified_at=at(6)))
    assert events == []


# segment_move


def test_a_segment_change_without_history_is_one_move_at_the_modification_time():
    active = CustomerState("42", status="active", acquired_at=at(1), segment="Silver", state_as_of=at(1))
    state, events = derive(active, record(is_customer=True, segment="Gold", modified_at=at(7)))
    assert summary(events) == [("segment_move", "hubspot:42:segment_move:2025-01-07T00:00:00Z", at(7))]
    assert (events[0].from_segment, events[0].to_segment, events[0].segment) == ("Silver", "Gold", "Gold")
    assert state.segment == "Gold"


def test_every_change_in_the_segment_history_is_a_move_at_its_own_time():
    history = (HistoryEntry(at(1), "Bronze"), HistoryEntry(at(3), "Silver"), HistoryEntry(at(4), "Silver"),
               HistoryEntry(at(6), "Gold"))  # fmt: skip
    active = CustomerState("42", status="active", acquired_at=at(1), segment="Bronze", state_as_of=at(2))
    _, events = derive(active, record(is_customer=True, segment="Gold", segment_history=history, modified_at=at(7)))
    assert [(e.occurred_at, e.from_segment, e.to_segment) for e in events] == [
        (at(3), "Bronze", "Silver"),
        (at(6), "Silver", "Gold"),
    ]


def test_first_sight_uses_only_history_moves_after_the_acquisition():
    history = (HistoryEntry(at(1), "Bronze"), HistoryEntry(at(2), "Silver"), HistoryEntry(at(6), "Gold"))
    _, events = derive(None, record(is_customer=True, customer_since=at(4), segment="Gold", segment_history=history,
                                    modified_at=at(7)))  # fmt: skip
    assert [(e.type, e.occurred_at) for e in events] == [("new", at(4)), ("segment_move", at(6))]
    assert events[0].segment == "Silver"  # the segment when acquired, from the history


def test_prospects_do_not_move_segments():
    prospect = CustomerState("42", status="prospect", segment="Bronze")
    _, events = derive(prospect, record(is_customer=False, segment="Gold", modified_at=at(7)))
    assert events == []


# referral


def test_referred_by_set_is_a_referral_at_the_time_it_was_set():
    _, events = derive(None, record(is_customer=False, referred_by="7", referred_at=at(2), created_at=at(1),
                                    modified_at=at(3)))  # fmt: skip
    assert summary(events) == [("referral", "hubspot:42:referral:7", at(2))]
    assert (events[0].customer, events[0].referrer) == ("42", "7")


def test_a_referral_is_derived_once_and_again_only_if_the_referrer_changes():
    state, _ = derive(None, record(referred_by="7", created_at=at(1), modified_at=at(3)))
    assert state.referred_by == "7"
    _, events = derive(state, record(referred_by="7", created_at=at(1), modified_at=at(4)))
    assert events == []
    _, events = derive(state, record(referred_by="8", created_at=at(1), modified_at=at(5)))
    assert summary(events) == [("referral", "hubspot:42:referral:8", at(1))]


def test_an_older_snapshot_than_the_stored_state_changes_nothing():
    active = CustomerState("42", status="active", acquired_at=at(1), segment="Gold", state_as_of=at(9))
    state, events = derive(active, record(is_customer=True, lost=True, segment="Bronze", modified_at=at(5)))
    assert events == [] and state is active


# events.csv rows


def event(**fields) -> EventRecord:
    return EventRecord(**{"event_id": "e1", "type": "new", "occurred_at": at(1), "customer_id": "42", "source": "t",
                          **fields})  # fmt: skip


def test_history_rows_applied_out_of_order_leave_the_latest_state():
    state, lost = apply_event_record(None, event(event_id="e2", type="lost", occurred_at=at(9), reason="price"))
    state, new = apply_event_record(state, event(event_id="e1", type="new", occurred_at=at(2), segment="Gold"))
    assert (state.status, state.acquired_at, state.lost_at, state.lost_reason) == ("lost", at(2), at(9), "price")
    assert (lost.source_key, new.source_key) == ("event:e2", "event:e1")


def test_a_referral_row_for_an_unknown_party_makes_a_prospect_with_the_referrers_segment():
    referrer = CustomerState("7", status="active", segment="Gold")
    state, spec = apply_event_record(None, event(type="referral", referrer_id="7", customer_name="Newco"),
                                     referrer=referrer)  # fmt: skip
    assert (state.status, state.name, state.referred_by) == ("prospect", "Newco", "7")
    assert (spec.type, spec.referrer, spec.segment) == ("referral", "7", "Gold")


def test_a_segment_move_row_without_from_uses_the_current_segment():
    current = CustomerState("42", status="active", segment="Silver", state_as_of=at(1))
    state, spec = apply_event_record(current, event(type="segment_move", occurred_at=at(4), to_segment="Gold"))
    assert (spec.from_segment, spec.to_segment, state.segment) == ("Silver", "Gold", "Gold")

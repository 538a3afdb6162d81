"""What a CRM connector hands to ``customers.services.crm_records_apply``: normalised records, and the
records that could not be normalised."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import NamedTuple


def iso(value: datetime) -> str:
    """A stable text form of an instant, used inside source keys."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ").replace(".000000Z", "Z")


class HistoryEntry(NamedTuple):
    """One value of a property's history (a NamedTuple, not a frozen dataclass: a sync builds several
    per record, and a tuple is several times cheaper to make)."""

    at: datetime
    value: str


@dataclass
class CustomerRecord:
    """A customer as the source sees it now (a snapshot). Events are derived by comparing it with
    what is stored: customers.services.derive."""

    external_id: str
    source: str  # "hubspot:companies:123" or "customers.csv:12", for quarantine and logs
    name: str = ""
    email: str = ""
    contact_name: str = ""
    account_owner_email: str = ""
    language: str = ""
    country: str = ""
    audience: str = ""
    value: Decimal | None = None
    segment: str = ""
    is_customer: bool = False
    customer_since: datetime | None = None
    lost: bool = False
    lost_at: datetime | None = None
    lost_reason: str = ""
    referred_by: str = ""
    referred_at: datetime | None = None
    created_at: datetime | None = None
    modified_at: datetime | None = None
    # The segment property's history, oldest first; empty when the source keeps none.
    segment_history: tuple[HistoryEntry, ...] = ()
    # Operational events the source records on the customer (a HubSpot date property per type, each
    # value in its history one event): (type, when), a type of core.definitions.OPERATIONAL_EVENT_TYPES.
    operational: tuple[tuple[str, datetime], ...] = ()


@dataclass
class EventRecord:
    """An event given explicitly by the source (events.csv)."""

    event_id: str
    type: str
    occurred_at: datetime
    customer_id: str
    source: str
    customer_name: str = ""
    customer_email: str = ""
    segment: str = ""
    value: Decimal | None = None
    reason: str = ""
    referrer_id: str = ""
    from_segment: str = ""
    to_segment: str = ""


@dataclass
class RejectedRecord:
    """A record that could not be normalised: it is quarantined and the run goes on."""

    source: str
    payload: str
    reason: str

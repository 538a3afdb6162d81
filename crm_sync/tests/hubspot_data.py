"""A generated HubSpot company base with a known history, and the events it must yield.

Company i (id str(i + 1)) is created at T0 + i minutes and becomes a customer an hour later, in
segment Bronze/Silver/Gold by i % 3. Some move segment two days later, some are lost five days later
(with a reason, half with a lost-date property, half known only from the flag's history), some were
referred by the previous company, some never become customers, and a few carry a malformed value.

``expected_events`` is computed from these rules directly, not by the code under test.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache

from crm_sync.tests.fake_hubspot import iso_ms, to_ms

T0 = datetime(2024, 1, 1, tzinfo=UTC)
MODIFIED_BASE = datetime(2025, 6, 1, tzinfo=UTC)
SEGMENTS = ["Bronze", "Silver", "Gold"]
REASONS = ["price", "service", "moved away"]

PROPERTIES = {
    "name": "name",
    "country": "country",
    "value": "annualrevenue",
    "segment": "cx_segment",
    "lifecycle_stage": "lifecyclestage",
    "customer_since": "hs_lifecyclestage_customer_date",
    "lost_flag": "cx_lost",
    "lost_date": "cx_lost_date",
    "lost_reason": "cx_lost_reason",
    "referred_by": "cx_referred_by",
}


@dataclass(frozen=True)
class Company:
    index: int

    @property
    def id(self) -> str:
        return str(self.index + 1)

    @property
    def created(self) -> datetime:
        return T0 + timedelta(minutes=self.index)

    @property
    def is_customer(self) -> bool:
        return self.index % 40 != 39

    @property
    def customer_at(self) -> datetime:
        return self.created + timedelta(hours=1)

    @property
    def segment(self) -> str:
        return SEGMENTS[self.index % 3]

    @property
    def moved_to(self) -> str | None:
        return SEGMENTS[(self.index + 1) % 3] if self.index % 10 == 3 and self.is_customer else None

    @property
    def moved_at(self) -> datetime:
        return self.customer_at + timedelta(days=2)

    @property
    def lost(self) -> bool:
        return self.index % 25 == 7 and self.is_customer

    @property
    def lost_at(self) -> datetime:
        exact = self.customer_at + timedelta(days=5)
        if self.index % 2:  # a lost-date property: HubSpot date properties are midnight UTC
            return datetime(exact.year, exact.month, exact.day, tzinfo=UTC)
        return exact

    @property
    def referred_by(self) -> str | None:
        return str(self.index) if self.index % 50 == 11 else None

    @property
    def malformed(self) -> bool:
        return self.index % 997 == 500

    @property
    def value(self) -> Decimal:
        return Decimal(1000 + (self.index % 500) * 100)

    @property
    def modified_ms(self) -> int:
        return to_ms(MODIFIED_BASE) + self.index * 7 % 100_003 * 10

    def hubspot(self) -> dict:
        props = {
            "name": f"Company {self.index}",
            "country": ["DE", "Spain", "us", None][self.index % 4],
            "annualrevenue": "lots" if self.malformed else (None if self.index % 13 == 0 else f"{self.value}"),
            "cx_segment": self.moved_to or self.segment,
            "lifecyclestage": "customer" if self.is_customer else "lead",
            "hs_lifecyclestage_customer_date": str(to_ms(self.customer_at))
            if self.is_customer and self.index % 7 == 0
            else None,
            "cx_lost": "true" if self.lost else ("false" if self.index % 2 else None),
            "cx_lost_date": self.lost_at.strftime("%Y-%m-%d") if self.lost and self.index % 2 else "",
            "cx_lost_reason": REASONS[self.index % 3] if self.lost else None,
            "cx_referred_by": self.referred_by,
            "hs_lastmodifieddate": iso_ms(self.modified_ms),
        }
        stages = [(self.created, "lead")] + ([(self.customer_at, "customer")] if self.is_customer else [])
        segments = [(self.created, self.segment)] + ([(self.moved_at, self.moved_to)] if self.moved_to else [])
        history = {
            "lifecyclestage": stages,
            "cx_segment": segments,
            "cx_lost": [(self.lost_at + timedelta(minutes=5), "true")] if self.lost else [],
            "cx_referred_by": [(self.created + timedelta(minutes=30), self.referred_by)] if self.referred_by else [],
        }
        return {"id": self.id, "properties": props, "history": history, "createdAt": self.created}

    def expected_events(self) -> list[tuple]:
        if self.malformed:
            return []
        events = []
        if self.is_customer:
            value = None if self.index % 13 == 0 else self.value
            events.append(("new", self.id, self.customer_at, self.segment, value))
            if self.moved_to:
                events.append(("segment_move", self.id, self.moved_at, self.segment, self.moved_to))
            if self.lost:
                lost_at = self.lost_at if self.index % 2 else self.lost_at + timedelta(minutes=5)
                events.append(("lost", self.id, lost_at, REASONS[self.index % 3], value))
        if self.referred_by:
            events.append(("referral", self.id, self.created + timedelta(minutes=30), self.referred_by))
        return events


@lru_cache(maxsize=1024)
def _rendered(index: int) -> dict:
    """A company is read twice in a row (search, then batch read for its history): rendered once. The
    callers only read the dict."""
    return Company(index).hubspot()


class CompanyDataset:
    """A store for FakeHubSpot that renders companies on demand (100 000 cost little memory)."""

    modified_property = "hs_lastmodifieddate"

    def __init__(self, size: int) -> None:
        self.size = size
        self.overrides: dict[str, dict] = {}

    def ids(self) -> list[str]:
        return [str(i + 1) for i in range(self.size)]

    def modified_ms(self, object_id: str) -> int:
        if object_id in self.overrides:
            return int(datetime.fromisoformat(self.overrides[object_id]["properties"]["hs_lastmodifieddate"])
                       .timestamp() * 1000)  # fmt: skip
        return Company(int(object_id) - 1).modified_ms

    def get(self, object_id: str) -> dict | None:
        if object_id in self.overrides:
            return self.overrides[object_id]
        index = int(object_id) - 1
        return _rendered(index) if 0 <= index < self.size else None

    def expected_events(self) -> list[tuple]:
        return [event for i in range(self.size) for event in Company(i).expected_events()]

    def malformed_ids(self) -> list[str]:
        return [Company(i).id for i in range(self.size) if Company(i).malformed]


def connection_settings(base_url: str, **extra) -> dict:
    return {
        "object_type": "companies",
        "base_url": base_url,
        "page_size": 100,
        "backoff_seconds": 0.01,
        "properties": PROPERTIES,
        **extra,
    }

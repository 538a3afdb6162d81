"""One interface for every CRM source, and one error type.

A connector reads its source page by page and yields normalised records; it never writes customers
or events (crm_sync.services does that). A page carries the checkpoint that becomes true once the
page is committed, so the service can store both in one transaction.
"""

from __future__ import annotations

import abc
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from crm_sync.models import Connection


class ConnectorError(Exception):
    """A source could not be read. ``retryable`` says whether trying again later can help.

    The message is shown to admins and logged: it never contains a secret token.
    """

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


class HistoryEntry(NamedTuple):
    """One value of a property's history (a NamedTuple, not a frozen dataclass: a sync builds several
    per record, and a tuple is several times cheaper to make)."""

    at: datetime
    value: str


@dataclass
class CustomerRecord:
    """A customer as the source sees it now (a snapshot). Events are derived by comparing it with
    what is stored: crm_sync.services.derive."""

    external_id: str
    source: str  # "hubspot:companies:123" or "customers.csv:12", for quarantine and logs
    name: str = ""
    email: str = ""
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


@dataclass(frozen=True)
class CompletedFile:
    checksum: str
    name: str
    kind: str
    rows: int


@dataclass
class Page:
    records: list[CustomerRecord | EventRecord] = field(default_factory=list)
    rejected: list[RejectedRecord] = field(default_factory=list)
    # Stored in the transaction that commits this page; None leaves the checkpoint as it is.
    checkpoint: dict | None = None
    # The file this page finishes, remembered in the same transaction.
    completed_file: CompletedFile | None = None


class Connector(abc.ABC):
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    @abc.abstractmethod
    def pages(self, *, checkpoint: dict, full: bool) -> Iterator[Page]:
        """Yield pages of normalised records from ``checkpoint`` (or everything when ``full``)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass


_DONE = object()


def prefetched(pages: Iterator[Page], *, name: str = "crm-prefetch") -> Iterator[Page]:
    """Read the next page in a thread while the caller writes the current one.

    A CRM answers in hundreds of milliseconds and the database writes take as long: overlapping the two
    roughly halves a sync. At most two pages are in memory beyond the one being written. Order is
    kept, so each checkpoint is still committed after the data it covers. The producer must not use
    the database (connections are per thread).
    """
    handoff: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            for page in pages:
                while not stop.is_set():
                    try:
                        handoff.put(page, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            item: object = _DONE
        except BaseException as exc:  # handed to the consumer, raised there
            item = exc
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = handoff.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=30)

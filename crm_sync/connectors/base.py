"""One interface for every CRM source, and one error type.

A connector reads its source page by page and yields normalised records; it never writes customers
or events (customers.services does that). A page carries the checkpoint that becomes true once the
page is committed, so the service can store both in one transaction.
"""

from __future__ import annotations

import abc
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from customers.records import CustomerRecord, EventRecord, RejectedRecord

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

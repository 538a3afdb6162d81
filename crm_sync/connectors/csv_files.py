"""CSV files: the connector for CRMs and ERPs without an API, and the embedded default.

Two kinds of file, told apart by name (customers*.csv, events*.csv) or chosen on upload:

- customers.csv, a snapshot: customer_id, name, email, language, country, audience, value, segment,
  status (active / lost / prospect), acquired_at, lost_at, lost_reason, referred_by, referred_at,
  updated_at. Changes between snapshots become events, exactly as with HubSpot.
- events.csv, a history: event_id, type, occurred_at, customer_id, customer_name, customer_email,
  segment, value, reason, referrer_id, from_segment, to_segment.

Files are UTF-8 (with or without BOM) or Windows-1252. A file is remembered by checksum (the
service stores it with the file's last page) and never applied twice. A malformed row is rejected
with its line number and the rest of the file is applied.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from django.conf import settings

from crm_sync.connectors.base import (
    CompletedFile,
    Connector,
    ConnectorError,
    Page,
)
from crm_sync.connectors.parsing import (
    clean_country,
    clean_email,
    clean_language,
    parse_datetime,
    parse_decimal,
    text,
)
from customers.records import CustomerRecord, EventRecord, RejectedRecord

EVENT_COLUMNS = (
    "event_id", "type", "occurred_at", "customer_id", "customer_name", "customer_email", "segment", "value",
    "reason", "referrer_id", "from_segment", "to_segment",
)  # fmt: skip
EVENT_REQUIRED = ("event_id", "type", "occurred_at", "customer_id")
CUSTOMER_COLUMNS = (
    "customer_id", "name", "email", "language", "country", "audience", "value", "segment", "status",
    "acquired_at", "lost_at", "lost_reason", "referred_by", "referred_at", "updated_at",
)  # fmt: skip
CUSTOMER_REQUIRED = ("customer_id",)
EVENT_TYPES = {"new", "lost", "referral", "segment_move"}
KINDS = ("customers", "events")
PAGE_SIZE = 1000
_CHUNK = 1 << 20


def file_fingerprint(stream: BinaryIO) -> tuple[str, str]:
    """The SHA-256 of the file and its encoding (utf-8-sig, or cp1252 when it is not valid UTF-8),
    read in chunks so a large file is never held in memory."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    stream.seek(0)
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
        if utf8:
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                utf8 = False
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    stream.seek(0)
    return digest.hexdigest(), "utf-8-sig" if utf8 else "cp1252"


def kind_from_name(name: str) -> str | None:
    stem = Path(name).name.lower()
    return next((kind for kind in KINDS if stem.startswith(kind) and stem.endswith(".csv")), None)


def file_pages(
    *, stream: BinaryIO, name: str, kind: str, checksum: str, encoding: str, page_size: int = PAGE_SIZE
) -> Iterator[Page]:
    """Pages of records from one CSV file; the last page carries CompletedFile."""
    if kind not in KINDS:
        raise ConnectorError(f"{name}: unknown file kind {kind!r}", retryable=False)
    stream.seek(0)
    wrapper = io.TextIOWrapper(stream, encoding=encoding, newline="", errors="replace")
    try:
        reader = csv.reader(wrapper)
        try:
            header = [h.strip().lower() for h in next(reader)]
        except StopIteration:
            header = []
        required = EVENT_REQUIRED if kind == "events" else CUSTOMER_REQUIRED
        missing = [column for column in required if column not in header]
        if missing:
            raise ConnectorError(
                f"{name} is not a {kind}.csv file: it has no {', '.join(missing)} column", retryable=False
            )
        parse = _event_from_row if kind == "events" else _customer_from_row
        page = Page()
        rows = 0
        for values in _rows(reader):
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            rows += 1
            source = f"{name}:{line}"
            try:
                if len(values) != len(header):
                    raise ValueError(f"expected {len(header)} columns, found {len(values)}")
                page.records.append(parse(dict(zip(header, values, strict=True)), source))
            except ValueError as exc:
                page.rejected.append(RejectedRecord(source=source, payload=_csv_line(values), reason=str(exc)))
            if len(page.records) + len(page.rejected) >= page_size:
                yield page
                page = Page()
        page.completed_file = CompletedFile(checksum=checksum, name=name[:255], kind=kind, rows=rows)
        yield page
    finally:
        wrapper.detach()


def _rows(reader) -> Iterator[list[str]]:
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # A broken quote makes the reader give up on the row: reject it and go on.
            yield ["\x00csv-error", str(exc)]


def _csv_line(values: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(values)
    return out.getvalue().rstrip("\r\n")


def _event_from_row(row: dict[str, str], source: str) -> EventRecord:
    if "\x00csv-error" in row.values():
        raise ValueError("the line is not valid CSV")
    event_id = text(row.get("event_id"), max_length=150)
    if not event_id:
        raise ValueError("event_id is empty")
    kind = text(row.get("type")).lower()
    if kind not in EVENT_TYPES:
        raise ValueError(
            f"type {text(row.get('type'), max_length=30)!r} is not one of {', '.join(sorted(EVENT_TYPES))}"
        )
    occurred_at = parse_datetime(row.get("occurred_at"), field="occurred_at")
    if occurred_at is None:
        raise ValueError("occurred_at is empty")
    customer_id = text(row.get("customer_id"), max_length=100)
    if not customer_id:
        raise ValueError("customer_id is empty")
    record = EventRecord(
        event_id=event_id,
        type=kind,
        occurred_at=occurred_at,
        customer_id=customer_id,
        source=source,
        customer_name=text(row.get("customer_name"), max_length=200),
        customer_email=clean_email(row.get("customer_email")),
        segment=text(row.get("segment"), max_length=80),
        value=parse_decimal(row.get("value")),
        reason=text(row.get("reason"), max_length=200),
        referrer_id=text(row.get("referrer_id"), max_length=100),
        from_segment=text(row.get("from_segment"), max_length=80),
        to_segment=text(row.get("to_segment"), max_length=80),
    )
    if kind == "referral":
        if not record.referrer_id:
            raise ValueError("a referral needs referrer_id")
        if record.referrer_id == customer_id:
            raise ValueError("referrer_id is the referred customer")
    if kind == "segment_move" and not record.to_segment:
        raise ValueError("a segment_move needs to_segment")
    return record


def _customer_from_row(row: dict[str, str], source: str) -> CustomerRecord:
    if "\x00csv-error" in row.values():
        raise ValueError("the line is not valid CSV")
    customer_id = text(row.get("customer_id"), max_length=100)
    if not customer_id:
        raise ValueError("customer_id is empty")
    status = text(row.get("status")).lower() or "active"
    if status not in {"active", "lost", "prospect"}:
        raise ValueError(f"status {text(row.get('status'), max_length=30)!r} is not active, lost or prospect")
    audience = text(row.get("audience")).lower()
    if audience not in {"", "b2b", "b2c"}:
        raise ValueError(f"audience {text(row.get('audience'), max_length=30)!r} is not B2B or B2C")
    return CustomerRecord(
        external_id=customer_id,
        source=source,
        name=text(row.get("name"), max_length=200),
        email=clean_email(row.get("email")),
        language=clean_language(row.get("language")),
        country=clean_country(row.get("country")),
        audience=audience,
        value=parse_decimal(row.get("value")),
        segment=text(row.get("segment"), max_length=80),
        is_customer=status in {"active", "lost"},
        customer_since=parse_datetime(row.get("acquired_at"), field="acquired_at"),
        lost=status == "lost",
        lost_at=parse_datetime(row.get("lost_at"), field="lost_at"),
        lost_reason=text(row.get("lost_reason"), max_length=200),
        referred_by=text(row.get("referred_by"), max_length=100),
        referred_at=parse_datetime(row.get("referred_at"), field="referred_at"),
        modified_at=parse_datetime(row.get("updated_at"), field="updated_at"),
    )


class CsvFilesConnector(Connector):
    """Reads the new files of a folder (Connection.settings["folder"], default CRM_SYNC_CSV_DIR or
    var/crm_import), in name order."""

    def folder(self) -> Path:
        configured = (self.connection.settings or {}).get("folder")
        default = getattr(settings, "CRM_SYNC_CSV_DIR", None) or Path(settings.VAR_DIR) / "crm_import"
        return Path(configured or default)

    def pages(self, *, checkpoint: dict, full: bool) -> Iterator[Page]:
        from crm_sync.models import ProcessedFile

        folder = self.folder()
        if not folder.is_dir():
            raise ConnectorError(f"The import folder {folder} does not exist", retryable=False)
        # Customers before events, so an event history can refer to customers of the same drop.
        paths = sorted(
            (p for p in folder.iterdir() if p.is_file() and kind_from_name(p.name)),
            key=lambda p: (KINDS.index(kind_from_name(p.name)), p.name),
        )
        for path in paths:
            with path.open("rb") as stream:
                checksum, encoding = file_fingerprint(stream)
                if ProcessedFile.objects.filter(connection=self.connection, checksum=checksum).exists():
                    continue
                yield from file_pages(
                    stream=stream, name=path.name, kind=kind_from_name(path.name), checksum=checksum, encoding=encoding
                )

"""CSV files: the connector for CRMs and ERPs without an API, and the embedded default.

Two kinds of file, told apart by name (customers*.csv, events*.csv) or chosen on upload:

- customers.csv, a snapshot: customer_id, name, email, language, country, audience, value, segment,
  status (active / lost / prospect), acquired_at, lost_at, lost_reason, referred_by, referred_at,
  updated_at. Changes between snapshots become events, exactly as with HubSpot.
- events.csv, a history: event_id, type, occurred_at, customer_id, customer_name, customer_email,
  segment, value, reason, referrer_id, from_segment, to_segment. A type is new, lost, referral,
  segment_move or an operational event (return, claim, invoice_correction, service_change,
  support_contact), whose value is the amount concerned (of the return, the correction...), if any.

Files are UTF-8 (with or without BOM) or Windows-1252. A file is remembered by checksum (the
service stores it with the file's last page) and never applied twice. A malformed row is rejected
with its line number and the rest of the file is applied.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import itertools
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from django.conf import settings

from core.csvfiles import (
    DateFormatError,
    MappingError,
    cells_blanked,
    csv_delimiter,
    csv_records,
    header_mapped,
    slashed_date_order,
    slashed_iso,
)
from core.definitions import OPERATIONAL_EVENT_TYPES
from core.inputs import NUL, shown_nul
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
from customers.models import Customer, Event, Segment
from customers.records import CustomerRecord, EventRecord, RejectedRecord

EVENT_COLUMNS = (
    "event_id", "type", "occurred_at", "customer_id", "customer_name", "customer_email", "segment", "value",
    "reason", "referrer_id", "from_segment", "to_segment",
)  # fmt: skip
EVENT_REQUIRED = ("event_id", "type", "occurred_at", "customer_id")
CUSTOMER_COLUMNS = (
    "customer_id", "name", "email", "contact_name", "account_owner", "language", "country", "audience", "value",
    "segment", "status", "acquired_at", "lost_at", "lost_reason", "referred_by", "referred_at", "updated_at",
)  # fmt: skip
CUSTOMER_REQUIRED = ("customer_id",)
DATE_COLUMNS = ("occurred_at", "acquired_at", "lost_at", "referred_at", "updated_at")
# The customer-base events and the operational ones (returns, claims, ...): the same log, the same columns.
EVENT_TYPES = {"new", "lost", "referral", "segment_move", *OPERATIONAL_EVENT_TYPES}
KINDS = ("customers", "events")
# The longest value of each column that the field it is stored in can hold: a longer one is refused
# rather than cut, since two ids cut to the same prefix would become one customer or one event.
EVENT_KEY_PREFIX = "event:"  # an event's source key is the prefix and its event_id
_MAX = {
    "customer_id": Customer._meta.get_field("external_id").max_length,
    "referrer_id": Customer._meta.get_field("external_id").max_length,
    "referred_by": Customer._meta.get_field("external_id").max_length,
    "event_id": Event._meta.get_field("source_key").max_length - len(EVENT_KEY_PREFIX),
    "name": Customer._meta.get_field("name").max_length,
    "customer_name": Customer._meta.get_field("name").max_length,
    "segment": Segment._meta.get_field("name").max_length,
    "from_segment": Segment._meta.get_field("name").max_length,
    "to_segment": Segment._meta.get_field("name").max_length,
    "reason": Event._meta.get_field("reason").max_length,
    "lost_reason": Customer._meta.get_field("lost_reason").max_length,
}
PAGE_SIZE = 1000
_CHUNK = 1 << 20
# A date written dd/mm/yyyy or mm/dd/yyyy (or with dots or dashes) anywhere in the file's bytes: only then
# is the file read twice, to tell the order of each date column from the whole column.
_SLASHED_BYTES = re.compile(rb"(?<!\d)\d{1,2}[/.-]\d{1,2}[/.-]\d{4}(?!\d)")


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
    *,
    stream: BinaryIO,
    name: str,
    kind: str,
    checksum: str,
    encoding: str,
    page_size: int = PAGE_SIZE,
    mapping: dict[str, str] | None = None,
    empty: frozenset[str] = frozenset(),
    date_format: str | None = None,
) -> Iterator[Page]:
    """Pages of records from one CSV file; the last page carries CompletedFile. ``mapping`` renames the
    file's columns to ours ({file column: our column}), ``empty`` are cell values that mean no value (casefolded),
    ``date_format`` is the strptime format of the date columns when they are not ISO 8601."""
    if kind not in KINDS:
        raise ConnectorError(f"{name}: unknown file kind {kind!r}", retryable=False)
    name = shown_nul(name)
    # Read before the text wrapper buffers the stream: it leaves the stream at the start.
    slashed = not date_format and _has_slashed_date(stream)
    stream.seek(0)
    wrapper = io.TextIOWrapper(stream, encoding=encoding, newline="", errors="replace")
    try:
        # The delimiter is told from the header line, as for response imports.
        first = wrapper.readline()
        reader = csv.reader(itertools.chain([first], wrapper), delimiter=csv_delimiter(first))
        try:
            header = next(reader)
        except StopIteration:
            header = []
        if any(NUL in column for column in header):
            raise ConnectorError(f"{name}: a column name contains a NUL character", retryable=False)
        try:
            header = header_mapped(
                header, mapping=mapping or {}, targets=EVENT_COLUMNS if kind == "events" else CUSTOMER_COLUMNS
            )
        except MappingError as exc:
            raise ConnectorError(f"{name}: {exc}", retryable=False) from None
        header = [h.strip().lower() for h in header]
        required = EVENT_REQUIRED if kind == "events" else CUSTOMER_REQUIRED
        missing = [column for column in required if column not in header]
        if missing:
            raise ConnectorError(
                f"{name} is not a {kind}.csv file: it has no {', '.join(missing)} column", retryable=False
            )
        orders: dict[str, str] = {}
        if slashed:
            # The order of day and month is told from each whole column, never guessed row by row.
            delimiter = csv_delimiter(first)
            try:
                orders = _date_orders(reader, header, empty)
            except DateFormatError as exc:
                raise ConnectorError(f"{name}: {exc}", retryable=False) from None
            wrapper.seek(0)
            reader = csv.reader(wrapper, delimiter=delimiter)
            next(reader, None)
        parse = _event_from_row if kind == "events" else _customer_from_row
        first_seen: dict[str, int] = {}  # event_id -> the line it was first applied from
        page = Page()
        rows = 0
        for values in csv_records(reader):
            line = reader.line_num
            if isinstance(values, list) and not any(v.strip() for v in values):
                continue
            rows += 1
            source = f"{name}:{line}"
            try:
                if isinstance(values, csv.Error):
                    values = []  # nothing of the line is kept: the reader gave up on it
                    raise ValueError("the line is not valid CSV")
                if len(values) != len(header):
                    raise ValueError(f"expected {len(header)} columns, found {len(values)}")
                row = dict(zip(header, cells_blanked(values, empty), strict=True))
                _check_cells(row)
                if date_format:
                    _dates_to_iso(row, date_format)
                for column, order in orders.items():
                    row[column] = slashed_iso(row[column], order) or row[column]
                record = parse(row, source)
                if isinstance(record, EventRecord):
                    seen = first_seen.setdefault(record.event_id, line)
                    if seen != line:
                        raise ValueError(f"duplicate event_id in this file, first seen on line {seen}")
                page.records.append(record)
            except ValueError as exc:
                page.rejected.append(RejectedRecord(source=source, payload=_csv_line(values), reason=str(exc)))
            if len(page.records) + len(page.rejected) >= page_size:
                yield page
                page = Page()
        page.completed_file = CompletedFile(checksum=checksum, name=name[:255], kind=kind, rows=rows)
        yield page
    finally:
        wrapper.detach()


def _has_slashed_date(stream: BinaryIO) -> bool:
    """Whether the file holds something written like 03/04/2026 (bytes: digits and separators are ASCII in
    both encodings read); the stream is left at the start."""
    stream.seek(0)
    tail = b""
    try:
        while chunk := stream.read(_CHUNK):
            if _SLASHED_BYTES.search(tail + chunk):
                return True
            tail = chunk[-16:]
        return False
    finally:
        stream.seek(0)


def _date_orders(reader, header: list[str], empty: frozenset[str]) -> dict[str, str]:
    """{date column: "dmy" or "mdy"} for the date columns written dd/mm/yyyy-like, from every row; the
    distinct dates (without their time) are enough to tell, and few. Raises DateFormatError."""
    columns = {column: header.index(column) for column in DATE_COLUMNS if column in header}
    seen: dict[str, dict[str, None]] = {column: {} for column in columns}
    for values in csv_records(reader):
        if isinstance(values, csv.Error) or len(values) != len(header):
            continue  # rejected with its line by the pass that applies the file
        values = cells_blanked(values, empty)
        for column, position in columns.items():
            value = values[position].strip()
            if value:
                seen[column].setdefault(value.split(" ", 1)[0].split("T", 1)[0], None)
    orders = {}
    for column, values in seen.items():
        order = slashed_date_order(values, column=column)
        if order:
            orders[column] = order
    return orders


def _check_cells(row: dict[str, str]) -> None:
    """Refuse a NUL character (PostgreSQL cannot store one) and a value longer than its column."""
    nul = [column for column, value in row.items() if NUL in value]
    if nul:
        raise ValueError("; ".join(f"{column} contains a NUL character" for column in nul))
    for column, limit in _MAX.items():
        length = len(row.get(column, "").strip())
        if length > limit:
            raise ValueError(f"{column} is longer than {limit} characters ({length})")


def _dates_to_iso(row: dict[str, str], date_format: str) -> None:
    for column in DATE_COLUMNS:
        value = row.get(column, "").strip()
        if value:
            try:
                row[column] = datetime.strptime(value, date_format).isoformat()  # noqa: DTZ007 (naive: site zone)
            except ValueError:
                raise ValueError(f"{column}: {value[:40]!r} does not match the date format {date_format!r}") from None


def _csv_line(values: list[str]) -> str:
    """The line as read, for the quarantine (a NUL written as \\x00, which it can store)."""
    out = io.StringIO()
    csv.writer(out).writerow(values)
    return shown_nul(out.getvalue().rstrip("\r\n"))


def _event_from_row(row: dict[str, str], source: str) -> EventRecord:
    event_id = text(row.get("event_id"))
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
    customer_id = text(row.get("customer_id"))
    if not customer_id:
        raise ValueError("customer_id is empty")
    record = EventRecord(
        event_id=event_id,
        type=kind,
        occurred_at=occurred_at,
        customer_id=customer_id,
        source=source,
        customer_name=text(row.get("customer_name")),
        customer_email=clean_email(row.get("customer_email")),
        segment=text(row.get("segment")),
        value=parse_decimal(row.get("value")),
        reason=text(row.get("reason")),
        referrer_id=text(row.get("referrer_id")),
        from_segment=text(row.get("from_segment")),
        to_segment=text(row.get("to_segment")),
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
    customer_id = text(row.get("customer_id"))
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
        name=text(row.get("name")),
        email=clean_email(row.get("email")),
        contact_name=text(row.get("contact_name"))[:200],
        account_owner_email=clean_email(row.get("account_owner")),
        language=clean_language(row.get("language")),
        country=clean_country(row.get("country")),
        audience=audience,
        value=parse_decimal(row.get("value")),
        segment=text(row.get("segment")),
        is_customer=status in {"active", "lost"},
        customer_since=parse_datetime(row.get("acquired_at"), field="acquired_at"),
        lost=status == "lost",
        lost_at=parse_datetime(row.get("lost_at"), field="lost_at"),
        lost_reason=text(row.get("lost_reason")),
        referred_by=text(row.get("referred_by")),
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

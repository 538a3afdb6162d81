"""``import_complaints FILE``: complaints and inquiries of the past from a CSV file.

Columns (a header line; names without case; other columns are ignored and listed):
``received_at`` (required; ISO 8601, or dd/mm/yyyy / mm/dd/yyyy told from the whole column, or
``--date-format``), ``channel`` (required: phone, email, web, in_person, social, other),
``category`` (required: a category's English or Spanish name), ``kind`` (complaint or inquiry; complaint
when blank), ``customer_id`` (the CRM id; blank for none), ``connection`` (the CRM connection, when more
than one holds the id), ``resolved_at``, ``summary``, ``id`` (the complaint's id in the file's system).

A row is stored once: by its ``id``, or without one by a fingerprint of its values, so importing the
same file again imports nothing new. Bad rows are listed with their line; unless ``skip_invalid`` any
bad row means nothing is imported.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from core.csvfiles import (
    DateFormatError,
    MappingError,
    cells_blanked,
    csv_delimiter,
    csv_records,
    empty_tokens,
    header_mapped,
    slashed_date_order,
    slashed_iso,
)
from core.days import event_bounds, implausible_moment
from customers.models import Customer

from ..models import Complaint, ComplaintCategory
from .complaints import EXTERNAL_ID_MAX, SUMMARY_MAX, ComplaintInvalid, complaint_create

COLUMNS = ("id", "kind", "customer_id", "connection", "received_at", "resolved_at", "channel", "category", "summary")
REQUIRED = ("received_at", "channel", "category")
CHUNK = 1000
NUL = "\x00"
# A channel as helpdesks write it: "In person", "in-person", "Social media".
CHANNEL_ALIASES = {"in person": "in_person", "in-person": "in_person", "social media": "social", "e-mail": "email"}


class ImportFileError(Exception):
    """The file as a whole cannot be imported (encoding, header, missing columns, ambiguous dates)."""


@dataclass
class ComplaintImportReport:
    rows: int = 0
    created: int = 0
    duplicates: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    imported: bool = False

    def lines(self) -> list[str]:
        out = [
            f"rows: {self.rows}, imported: {self.created}, already imported (skipped): {self.duplicates}, "
            f"bad rows: {len(self.errors)}"
        ]
        if self.ignored_columns:
            out.append(f"ignored columns: {', '.join(self.ignored_columns)}")
        out.extend(f"line {line}: {reason}" for line, reason in self.errors)
        if self.errors and not self.imported:
            out.append("nothing was imported (use --skip-invalid to import the good rows)")
        elif self.rows and not self.created and not self.errors:
            out.append("nothing new: every row was imported before")
        return out


@dataclass
class _Row:
    line: int
    external_id: str
    kind: str
    customer_id: str
    connection: str
    received_at: datetime
    resolved_at: datetime | None
    channel: str
    category: str
    summary: str


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _moment(value: str, name: str, *, date_format: str | None, order: str | None, bounds) -> tuple:
    value = value.strip()
    if not value:
        return None, None
    if date_format:
        try:
            parsed = datetime.strptime(value, date_format)  # noqa: DTZ007 (made aware below, or has %z)
        except ValueError:
            return None, f"{name} {value!r} does not match the date format {date_format!r}"
    else:
        iso = slashed_iso(value, order) if order else None
        try:
            parsed = datetime.fromisoformat(iso or value)
        except ValueError:
            return None, f"{name} {value!r} is not an ISO 8601 date or datetime"
    if timezone.is_naive(parsed):
        try:
            parsed = timezone.make_aware(parsed, timezone.get_default_timezone())
        except Exception:  # zoneinfo: a time skipped by a daylight-saving change
            return None, f"{name} {value!r} does not exist in the site time zone"
    problem = implausible_moment(parsed, name=name, bounds=bounds)
    return (None, problem) if problem else (parsed, None)


def _fingerprint(cells: dict[str, str]) -> str:
    """The id of a row without one: the same values give the same id, so a re-run finds it."""
    text = "\x1f".join(cells.get(name, "").strip() for name in COLUMNS if name != "id")
    return "row:" + hashlib.sha256(text.encode()).hexdigest()[:40]


def _read(text: str, *, mapping: dict[str, str], empty: frozenset[str], date_format: str | None):
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=csv_delimiter(text))
    try:
        header = next(reader)
    except StopIteration as exc:
        raise ImportFileError("The file is empty.") from exc
    except csv.Error as exc:
        raise ImportFileError(f"line 1: the header is not valid CSV ({exc}).") from exc
    if any(NUL in name for name in header):
        raise ImportFileError("line 1: a column name contains a NUL character.")
    try:
        header = header_mapped(header, mapping=mapping, targets=COLUMNS)
    except MappingError as exc:
        raise ImportFileError(str(exc)) from exc
    columns = [name.strip().lower() for name in header]
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise ImportFileError(
            f"The file has no {', '.join(missing)} column (its columns: {', '.join(c for c in columns if c)})."
        )
    index = {}
    for i, name in enumerate(columns):
        index.setdefault(name, i)
    ignored = [header[i].strip() for i, name in enumerate(columns) if name not in COLUMNS]
    records, previous_end = [], reader.line_num
    for record in csv_records(reader):
        records.append((previous_end + 1, cells_blanked(record, empty) if isinstance(record, list) else record))
        previous_end = reader.line_num
    orders = {}
    for name in ("received_at", "resolved_at"):
        if date_format or name not in index:
            continue
        at = index[name]
        try:
            orders[name] = slashed_date_order(
                (r[at] for _, r in records if isinstance(r, list) and at < len(r)), column=name
            )
        except DateFormatError as exc:
            raise ImportFileError(str(exc)) from exc
    return records, index, ignored, orders


def _parse(records, index, orders, *, date_format):
    categories = {}
    for category in ComplaintCategory.objects.all():
        for name in (category.name, category.name_es):
            if name:
                categories.setdefault(name.strip().casefold(), category)
    bounds = event_bounds()
    rows: list[_Row] = []
    errors: list[tuple[int, str]] = []
    first_line: dict[str, int] = {}
    count = 0
    for line, record in records:
        if isinstance(record, csv.Error):
            count += 1
            errors.append((line, f"the line is not valid CSV ({record})"))
            continue
        if not any(cell.strip() for cell in record):
            continue
        count += 1
        if any(NUL in cell for cell in record):
            errors.append((line, "a cell contains a NUL character"))
            continue
        cells = {name: (record[i] if i < len(record) else "").strip() for name, i in index.items() if name in COLUMNS}
        problems: list[str] = []
        received_at, problem = _moment(
            cells["received_at"], "received_at", date_format=date_format, order=orders.get("received_at"), bounds=bounds
        )
        if problem or received_at is None:
            problems.append(problem or "received_at is missing")
        resolved_at, problem = _moment(
            cells.get("resolved_at", ""),
            "resolved_at",
            date_format=date_format,
            order=orders.get("resolved_at"),
            bounds=bounds,
        )
        if problem:
            problems.append(problem)
        elif resolved_at and received_at and resolved_at < received_at:
            problems.append("resolved_at is before received_at")
        kind = (cells.get("kind") or Complaint.Kind.COMPLAINT).lower()
        if kind not in Complaint.Kind.values:
            problems.append(f"kind {cells['kind']!r} is not complaint or inquiry")
        raw_channel = cells["channel"].lower()
        channel = CHANNEL_ALIASES.get(raw_channel, raw_channel)
        if not channel:
            problems.append("channel is missing")
        elif channel not in Complaint.Channel.values:
            problems.append(f"channel {cells['channel']!r} is not one of {', '.join(Complaint.Channel.values)}")
        category = categories.get(cells["category"].casefold())
        if not cells["category"]:
            problems.append("category is missing")
        elif category is None:
            known = ", ".join(sorted({c.name for c in categories.values()}))
            problems.append(f"category {cells['category'][:80]!r} is not a category (known: {known})")
        if len(cells.get("summary", "")) > SUMMARY_MAX:
            problems.append(f"summary is longer than {SUMMARY_MAX} characters")
        external_id = cells.get("id", "")
        if len(external_id) > EXTERNAL_ID_MAX:
            problems.append(f"id is longer than {EXTERNAL_ID_MAX} characters")
        external_id = external_id or _fingerprint(cells)
        first = first_line.setdefault(external_id, line)
        if first != line:
            problems.append(f"the same complaint as line {first}" + ("" if cells.get("id") else " (every value alike)"))
        if problems:
            errors.append((line, "; ".join(problems)))
            continue
        rows.append(
            _Row(
                line,
                external_id,
                kind,
                cells.get("customer_id", ""),
                cells.get("connection", ""),
                received_at,
                resolved_at,
                channel,
                category.name,
                cells.get("summary", ""),
            )  # fmt: skip
        )
    return rows, errors, count, categories


def _customers(rows: list[_Row]) -> dict[str, list[tuple[str, Customer]]]:
    """CRM id -> [(connection name, customer)], in chunks of ids."""
    ids = sorted({r.customer_id for r in rows if r.customer_id})
    found: dict[str, list[tuple[str, Customer]]] = {}
    for i in range(0, len(ids), CHUNK):
        for customer in Customer.objects.filter(external_id__in=ids[i : i + CHUNK]).select_related("connection"):
            found.setdefault(customer.external_id, []).append((customer.connection.name, customer))
    return found


def complaints_import(
    *,
    data: bytes,
    mapping: dict[str, str] | None = None,
    empty: list[str] | tuple[str, ...] = (),
    date_format: str | None = None,
    skip_invalid: bool = False,
) -> ComplaintImportReport:
    text = _decode(data)
    records, index, ignored, orders = _read(
        text, mapping=mapping or {}, empty=empty_tokens(empty), date_format=date_format
    )
    rows, errors, count, categories = _parse(records, index, orders, date_format=date_format)
    report = ComplaintImportReport(rows=count, errors=errors, ignored_columns=ignored)
    by_crm_id = _customers(rows)
    good: list[tuple[_Row, Customer | None]] = []
    for row in rows:
        customer = None
        if row.customer_id:
            held = [
                (name, c)
                for name, c in by_crm_id.get(row.customer_id, [])
                if not row.connection or name == row.connection
            ]
            if not held:
                where = f" in connection {row.connection!r}" if row.connection else ""
                report.errors.append((row.line, f"no customer with CRM id {row.customer_id!r}{where}"))
                continue
            if len(held) > 1:
                names = ", ".join(name for name, _c in held)
                report.errors.append(
                    (
                        row.line,
                        f"CRM id {row.customer_id!r} is held by more than one connection ({names}): "
                        "add a connection column",
                    )  # fmt: skip
                )
                continue
            customer = held[0][1]
        good.append((row, customer))
    report.errors.sort()
    if report.errors and not skip_invalid:
        return report
    by_name = {c.name: c for c in categories.values()}
    existing = set()
    ids = [row.external_id for row, _c in good]
    for i in range(0, len(ids), CHUNK):
        existing |= set(
            Complaint.objects.filter(source=Complaint.Source.IMPORT, external_id__in=ids[i : i + CHUNK]).values_list(
                "external_id", flat=True
            )
        )
    with transaction.atomic():
        for row, customer in good:
            if row.external_id in existing:
                report.duplicates += 1
                continue
            try:
                _complaint, created = complaint_create(
                    kind=row.kind,
                    customer=customer,
                    received_at=row.received_at,
                    resolved_at=row.resolved_at,
                    channel=row.channel,
                    category=by_name[row.category],
                    summary=row.summary,
                    source=Complaint.Source.IMPORT,
                    external_id=row.external_id,
                )
            except ComplaintInvalid as exc:
                report.errors.append((row.line, str(exc)))
                continue
            report.created += created
            report.duplicates += not created
    report.imported = True
    return report

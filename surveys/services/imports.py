"""Importing responses exported from another survey tool (CSV).

All-or-nothing by default: every row is validated before anything is written. Customers, their segment
history and already-imported response ids are looked up with one query per chunk of ids, never per row,
and the rows are written in batches.
"""

from __future__ import annotations

import bisect
import csv
import difflib
import io
import re
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import slugify

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
from core.definitions import SCALES, SCORE_QUESTIONS
from core.inputs import NUL
from core.outbox import record_changes
from customers.models import Customer, Event
from customers.suppression import normalised_crm_id, suppressed_crm_ids
from surveys.models import AttributeScore, Channel, Language, Question, Response, Survey, SurveyType, Touchpoint
from surveys.services.import_presets import PRESETS, Preset

Kind = Question.Kind
SCORE_RANGES: dict[str, tuple[int, int]] = {question: SCALES[question] for question in SCORE_QUESTIONS}
ATTRIBUTE_RANGE = SCALES["attribute"]
ATTR_PREFIX = "attr:"
TEXT_COLUMNS = {"response_id", "customer_id", "submitted_at", "comment", "language"}
# The longest values the columns they are stored in can hold.
SLUG_MAX = Survey._meta.get_field("slug").max_length
RESPONSE_ID_MAX = Response._meta.get_field("external_id").max_length
CUSTOMER_ID_MAX = Customer._meta.get_field("external_id").max_length
ATTRIBUTE_MAX = min(
    AttributeScore._meta.get_field("attribute").max_length, Question._meta.get_field("attribute").max_length
)
CHUNK = 5000
# A comment's language is stored as given, whichever languages the survey pages are offered in: any
# two-letter ISO 639-1 code, with an optional region or script (pt-BR, zh-Hant) that is not kept.
LANGUAGE_TAG = re.compile(r"^([A-Za-z]{2})(?:[-_][A-Za-z0-9]{1,8})*$")
EPOCH_SECONDS = re.compile(r"^\d{9,10}$")
EPOCH_MILLISECONDS = re.compile(r"^\d{12,13}$")
BATCH = 2000


class ImportFileError(Exception):
    """The file as a whole cannot be imported (encoding, missing columns, unknown survey)."""


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    duplicates: int = 0
    anonymous: int = 0
    # Rows of customers whose data was erased at their request (suppression list): not imported at all,
    # not even anonymously, as their comment would come back with them.
    suppressed: int = 0
    unknown_customer_ids: list[str] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    survey: Survey | None = None
    survey_created: bool = False
    imported: bool = False

    def lines(self) -> list[str]:
        out = [
            f"rows: {self.rows}, imported: {self.created}, already imported (skipped): {self.duplicates}, "
            f"unknown customer ids (imported as anonymous): {self.anonymous}, bad rows: {len(self.errors)}"
        ]
        if self.suppressed:
            out[0] += f", skipped (the customer's data erased at their request): {self.suppressed}"
        if self.survey_created and self.survey:
            out.append(f"created survey {self.survey.slug!r}")
        if self.ignored_columns:
            out.append(f"ignored columns: {', '.join(self.ignored_columns)}")
        out.extend(f"line {line}: {reason}" for line, reason in self.errors)
        if self.errors and not self.imported:
            out.append("nothing was imported (use --skip-invalid to import the good rows)")
        return out


def decode_csv(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _parse_int(raw: str, low: int, high: int, name: str) -> tuple[int | None, str | None]:
    value = raw.strip()
    if not value:
        return None, None
    try:
        number = float(value.replace(",", "."))
    except ValueError:
        return None, f"{name} {value!r} is not a number"
    if not number.is_integer():
        return None, f"{name} {value!r} is not a whole number"
    if not low <= number <= high:
        return None, f"{name} {value} is out of range {low}-{high}"
    return int(number), None


def _parse_datetime(
    raw: str, tz, bounds: tuple[datetime, datetime], *, date_format: str | None = None, order: str | None = None
) -> tuple[datetime | None, str | None]:
    """ISO 8601; else, with ``date_format``, that strptime format only; else dd/mm/yyyy or mm/dd/yyyy as
    the whole column was found to be written (``order``), or Unix seconds/milliseconds (UTC)."""
    value = raw.strip()
    if not value:
        return None, "submitted_at is missing"
    if date_format:
        try:
            parsed = datetime.strptime(value, date_format)  # noqa: DTZ007 (made aware below, or has %z)
        except ValueError:
            return None, f"submitted_at {value!r} does not match the date format {date_format!r}"
    elif value.isdigit() and (EPOCH_SECONDS.match(value) or EPOCH_MILLISECONDS.match(value)):
        # Before ISO: 13 digits would also read as a basic ISO date ("1701011200000" as 1701-01-12).
        parsed = datetime.fromtimestamp(int(value) / (1000 if len(value) > 10 else 1), tz=UTC)
    else:
        iso = slashed_iso(value, order) if order else None
        try:
            parsed = datetime.fromisoformat(iso or value)
        except ValueError:
            return None, f"submitted_at {value!r} is not an ISO 8601 date or datetime"
    if timezone.is_naive(parsed):
        try:
            parsed = timezone.make_aware(parsed, tz)
        except Exception:  # zoneinfo: a time skipped by a daylight-saving change
            return None, f"submitted_at {value!r} does not exist in the site time zone"
    problem = implausible_moment(parsed, name="submitted_at", bounds=bounds)
    return (None, problem) if problem else (parsed, None)


@dataclass
class _Row:
    line: int
    response_id: str
    customer_id: str
    submitted_at: datetime
    scores: dict[str, int]
    attributes: dict[str, int]
    comment: str
    language: str


IMPORT_TARGETS = (*sorted(TEXT_COLUMNS), *SCORE_RANGES)


def _read_rows(
    text: str,
    default_language: str,
    *,
    mapping: dict[str, str] | None = None,
    preset: Preset | None = None,
    empty: frozenset[str] = frozenset(),
    date_format: str | None = None,
) -> tuple[list[_Row], list[tuple[int, str]], list[str], list[str], list[str], int]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=csv_delimiter(text))
    try:
        header = next(reader)
    except StopIteration as exc:
        raise ImportFileError("The file is empty.") from exc
    if any(NUL in name for name in header):
        raise ImportFileError("line 1: a column name contains a NUL character.")
    try:
        header = header_mapped(
            header,
            mapping=mapping or {},
            targets=IMPORT_TARGETS,
            prefixes=(ATTR_PREFIX,),
            preset=preset.pairs(header) if preset else (),
        )
    except MappingError as exc:
        raise ImportFileError(str(exc)) from exc
    for _ in range(preset.extra_header_rows if preset else 0):
        try:
            next(reader)  # a tool's second header row (question texts, ids), not a response
        except (StopIteration, csv.Error):
            break
    columns: list[str] = []
    for name in header:
        clean = name.strip()
        columns.append(
            ATTR_PREFIX + clean[len(ATTR_PREFIX) :].strip() if clean.lower().startswith(ATTR_PREFIX) else clean.lower()
        )
    score_columns = [c for c in columns if c in SCORE_RANGES]
    attr_columns = [c for c in columns if c.startswith(ATTR_PREFIX) and len(c) > len(ATTR_PREFIX)]
    for name in attr_columns:
        if len(name) - len(ATTR_PREFIX) > ATTRIBUTE_MAX:
            raise ImportFileError(
                f"line 1: the attribute name of column {name[:60]!r} is longer than {ATTRIBUTE_MAX} characters "
                f"({len(name) - len(ATTR_PREFIX)})."
            )
    ignored = [c for c in columns if c not in SCORE_RANGES and c not in TEXT_COLUMNS and c not in attr_columns]
    if "submitted_at" not in columns:
        raise ImportFileError("The file has no submitted_at column.")
    if not score_columns and not attr_columns:
        raise ImportFileError(
            "The file has no score column (nps, csat, ces, likelihood_switch, likelihood_repurchase, overall, trust, attr:…)."
        )
    index = {name: i for i, name in enumerate(columns)}
    tz = UTC if preset and preset.utc else timezone.get_default_timezone()
    bounds = event_bounds()
    records: list[tuple[int, list[str] | csv.Error]] = []
    previous_end = reader.line_num
    for record in csv_records(reader):
        # the line the record starts on (quoted fields may span lines)
        records.append((previous_end + 1, cells_blanked(record, empty) if isinstance(record, list) else record))
        previous_end = reader.line_num
    order = None
    if not date_format:
        # Day and month order is told from the whole column, never guessed row by row.
        at = index["submitted_at"]
        try:
            order = slashed_date_order(
                (r[at] for _, r in records if isinstance(r, list) and at < len(r)), column="submitted_at"
            )
        except DateFormatError as exc:
            raise ImportFileError(str(exc)) from exc
    rows: list[_Row] = []
    errors: list[tuple[int, str]] = []
    first_line: dict[str, int] = {}  # response_id -> the line it first appears on
    count = 0
    for line, record in records:
        if isinstance(record, csv.Error):
            count += 1
            errors.append((line, f"the line is not valid CSV ({record})"))
            continue
        if not any(cell.strip() for cell in record):
            continue
        count += 1
        if len(record) < len(columns):
            record = record + [""] * (len(columns) - len(record))

        def cell(name: str, record=record) -> str:
            position = index.get(name)
            return record[position] if position is not None else ""

        nul = [columns[i] if i < len(columns) else f"column {i + 1}" for i, v in enumerate(record) if NUL in v]
        if nul:
            errors.append((line, "; ".join(f"{name} contains a NUL character" for name in nul)))
            continue
        problems: list[str] = []
        submitted_at, problem = _parse_datetime(cell("submitted_at"), tz, bounds, date_format=date_format, order=order)
        if problem:
            problems.append(problem)
        for name, limit in (("response_id", RESPONSE_ID_MAX), ("customer_id", CUSTOMER_ID_MAX)):
            if len(cell(name).strip()) > limit:
                problems.append(f"{name} is longer than {limit} characters ({len(cell(name).strip())})")
        scores: dict[str, int] = {}
        for name in score_columns:
            value, problem = _parse_int(cell(name), *SCORE_RANGES[name], name)
            if problem:
                problems.append(problem)
            elif value is not None:
                scores[name] = value
        attributes: dict[str, int] = {}
        for name in attr_columns:
            value, problem = _parse_int(cell(name), *ATTRIBUTE_RANGE, name)
            if problem:
                problems.append(problem)
            elif value is not None:
                attributes[name[len(ATTR_PREFIX) :]] = value
        if not problems and not scores and not attributes:
            problems.append("no score in this row")
        language = default_language
        if cell("language").strip():
            tag = LANGUAGE_TAG.match(cell("language").strip())
            if tag:
                language = tag[1].lower()
            else:
                problems.append(
                    f"language {cell('language').strip()[:40]!r} is not a two-letter language code "
                    "(ISO 639-1, e.g. pt or pt-BR)"
                )
        response_id = cell("response_id").strip()
        if response_id:
            first = first_line.setdefault(response_id, line)
            if first != line:
                problems.append(f"duplicate response_id in this file (first on line {first})")
        if problems:
            errors.append((line, "; ".join(problems)))
            continue
        rows.append(
            _Row(
                line,
                cell("response_id").strip(),
                cell("customer_id").strip(),
                submitted_at,
                scores,
                attributes,
                cell("comment").strip(),
                language,
            )
        )
    return rows, errors, score_columns, attr_columns, ignored, count


def _chunks(values: list, size: int = CHUNK):
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _customers(external_ids: list[str]) -> dict[str, tuple[int, int | None]]:
    """external id → (pk, current segment)."""
    found: dict[str, tuple[int, int | None]] = {}
    for chunk in _chunks(external_ids):
        for external_id, pk, segment_id in (
            Customer.objects.filter(external_id__in=chunk, erased_at__isnull=True)
            .order_by("-pk")
            .values_list("external_id", "pk", "segment_id")
        ):
            found[external_id] = (pk, segment_id)
    return found


def _acquired_segments(customer_ids: list[int]) -> dict[int, int | None]:
    """The segment of each customer's first `new` event."""
    acquired: dict[int, int | None] = {}
    for chunk in _chunks(customer_ids):
        for customer_id, segment_id in (
            Event.objects.filter(customer_id__in=chunk, type=Event.Type.NEW)
            .order_by("customer_id", "occurred_at", "pk")
            .values_list("customer_id", "segment_id")
        ):
            acquired.setdefault(customer_id, segment_id)
    return acquired


_LAST_MOVE_SQL = """
SELECT m.id IS NOT NULL, m.{to_segment}
FROM unnest(%s::bigint[], %s::timestamptz[]) WITH ORDINALITY AS v(customer_id, moment, n)
LEFT JOIN LATERAL (
    SELECT e.id, e.{to_segment} FROM {event} e
    WHERE e.{customer} = v.customer_id AND e.{type} = %s AND e.{occurred_at} < v.moment
    ORDER BY e.{occurred_at} DESC, e.id DESC LIMIT 1
) m ON true
ORDER BY v.n
"""


def _last_moves(pairs: list[tuple[int, datetime]]) -> list[tuple[bool, int | None]]:
    """For each (customer, moment): whether the customer changed segment before the moment, and to which
    segment last. On PostgreSQL one probe per pair of the moves' (customer, occurred_at) index, one
    statement per chunk of pairs, rather than loading every move of the customers into Python (most of an
    import's time with a long CRM history); elsewhere the moves before the latest moment, bisected."""
    if not pairs:
        return []
    if connection.vendor == "postgresql":
        column = {f.name: connection.ops.quote_name(f.column) for f in Event._meta.concrete_fields}
        sql = _LAST_MOVE_SQL.format(
            event=connection.ops.quote_name(Event._meta.db_table),
            to_segment=column["to_segment"],
            customer=column["customer"],
            type=column["type"],
            occurred_at=column["occurred_at"],
        )
        found: list[tuple[bool, int | None]] = []
        with connection.cursor() as cursor:
            for chunk in _chunks(pairs, 20_000):
                cursor.execute(sql, [[c for c, _ in chunk], [t for _, t in chunk], Event.Type.SEGMENT_MOVE])
                found.extend((bool(moved), segment) for moved, segment in cursor.fetchall())
        return found
    latest = max(t for _, t in pairs)
    moves: dict[int, tuple[list, list]] = defaultdict(lambda: ([], []))
    for chunk in _chunks(sorted({c for c, _ in pairs})):
        for customer_id, occurred_at, to_segment_id in (
            Event.objects.filter(customer_id__in=chunk, type=Event.Type.SEGMENT_MOVE, occurred_at__lt=latest)
            .order_by("customer_id", "occurred_at", "pk")
            .values_list("customer_id", "occurred_at", "to_segment_id")
        ):
            times, segments = moves[customer_id]
            times.append(occurred_at)
            segments.append(to_segment_id)
    out: list[tuple[bool, int | None]] = []
    for customer_id, at in pairs:
        times, segments = moves.get(customer_id, ([], []))
        position = bisect.bisect_left(times, at)
        out.append((True, segments[position - 1]) if position else (False, None))
    return out


def segments_at(pairs: list[tuple[int, datetime, int | None]]) -> list[int | None]:
    """The segment of each (customer, moment, current segment): the latest segment move before the moment;
    else the segment of the customer's `new` event; else the current segment."""
    acquired = _acquired_segments(sorted({c for c, _, _ in pairs}))
    moved = _last_moves([(c, t) for c, t, _ in pairs])
    return [
        to_segment if has_moved else acquired.get(customer_id, current)
        for (customer_id, _at, current), (has_moved, to_segment) in zip(pairs, moved, strict=True)
    ]


def _existing_ids(survey: Survey | None, ids: list[str]) -> set[str]:
    if survey is None or survey.pk is None:
        return set()
    existing: set[str] = set()
    for chunk in _chunks(ids):
        existing.update(
            Response.objects.filter(external_id__in=chunk, survey=survey).values_list("external_id", flat=True)
        )
    return existing


KIND_OF_COLUMN = {
    "nps": Kind.NPS,
    "csat": Kind.CSAT,
    "ces": Kind.CES,
    "likelihood_switch": Kind.LIKELIHOOD_SWITCH,
    "likelihood_repurchase": Kind.LIKELIHOOD_REPURCHASE,
    "overall": Kind.OVERALL,
    "trust": Kind.TRUST,
}
COLUMN_QUESTION_TEXT = {
    "nps": "How likely are you to recommend us to a friend or colleague?",
    "csat": "How satisfied were you?",
    "ces": "The company made it easy for me to handle my issue.",
    "likelihood_switch": "How likely are you to switch to a competitor?",
    "likelihood_repurchase": "How likely are you to buy from us again?",
    "overall": "Overall, how would you rate your experience with us?",
    "trust": "How much do you trust us to do what is right for you?",
}


def _create_survey(
    slug: str, survey_type: str, score_columns: list[str], attr_columns: list[str], comment: bool
) -> Survey:
    survey = Survey.objects.create(
        name=slug.replace("-", " ").capitalize(),
        slug=slug,
        survey_type=survey_type,
        touchpoint=Touchpoint.RELATIONSHIP if survey_type == SurveyType.RELATIONAL else Touchpoint.PURCHASE,
        languages=["en"],
        title_en=slug.replace("-", " ").capitalize(),
    )
    questions = [
        Question(survey=survey, kind=KIND_OF_COLUMN[c], text_en=COLUMN_QUESTION_TEXT[c], required=False)
        for c in score_columns
    ]
    if comment:
        questions.append(
            Question(survey=survey, kind=Kind.TEXT, text_en="What is the main reason for your score?", required=False)
        )
    questions.extend(
        Question(
            survey=survey,
            kind=Kind.ATTRIBUTE,
            attribute=c[len(ATTR_PREFIX) :],
            text_en=f"How would you rate our {c[len(ATTR_PREFIX) :]}?",
            required=False,
        )
        for c in attr_columns
    )
    for order, question in enumerate(questions, start=1):
        question.order = order * 10
    Question.objects.bulk_create(questions)
    return survey


def _answer_keys(survey: Survey) -> dict[str, tuple[str, str]]:
    """Column name → (answers key, question text), matching the survey's questions like a live response."""
    keys: dict[str, tuple[str, str]] = {}
    for question in survey.questions.all():
        if question.kind == Kind.ATTRIBUTE:
            column = ATTR_PREFIX + question.attribute
        elif question.kind == Kind.TEXT:
            column = "comment"
        else:
            column = next((c for c, k in KIND_OF_COLUMN.items() if k == question.kind), "")
        if column and column not in keys:
            keys[column] = (str(question.pk), question.text_en)
    return keys


def responses_import(
    *,
    data: bytes,
    survey_slug: str,
    create_survey: bool = False,
    survey_type: str = SurveyType.RELATIONAL,
    skip_invalid: bool = False,
    mapping: dict[str, str] | None = None,
    file_format: str | None = None,
    empty: list[str] | tuple[str, ...] = (),
    date_format: str | None = None,
) -> ImportReport:
    """Import a CSV of responses. ``mapping`` renames file columns to ours ({file column: our column});
    ``file_format`` is a preset of another tool's export layout (PRESETS); ``empty`` are the values that
    mean no value besides the empty cell (e.g. NA); ``date_format`` is the strptime format of
    submitted_at when it is not ISO 8601 (without it, dd/mm/yyyy or mm/dd/yyyy is told from the column)."""
    report = ImportReport()
    preset = None
    if file_format:
        preset = PRESETS.get(file_format)
        if preset is None:
            raise ImportFileError(f"Unknown format {file_format!r} (one of: {', '.join(PRESETS)}).")
    survey = Survey.objects.filter(slug=survey_slug).first()
    if survey is None:
        if not create_survey:
            raise ImportFileError(f"No survey with slug {survey_slug!r} (use --create-survey to create it).")
        if slugify(survey_slug) != survey_slug:
            raise ImportFileError(f"{survey_slug!r} is not a valid slug.")
        if len(survey_slug) > SLUG_MAX:
            raise ImportFileError(f"A survey slug is at most {SLUG_MAX} characters ({len(survey_slug)}).")
        if survey_type not in SurveyType.values:
            raise ImportFileError(f"Unknown survey type {survey_type!r}.")
    default_language = survey.language_codes[0] if survey else Language.EN
    rows, report.errors, score_columns, attr_columns, report.ignored_columns, report.rows = _read_rows(
        decode_csv(data),
        default_language,
        mapping=mapping,
        preset=preset,
        empty=empty_tokens([*(preset.empty if preset else ()), *empty]),
        date_format=date_format or (preset.date_format if preset else None),
    )
    if report.errors and not skip_invalid:
        return report

    # Re-importing the same file creates nothing twice: skip ids already imported or repeated in the file.
    existing = _existing_ids(survey, list({r.response_id for r in rows if r.response_id}))
    unique_rows: list[_Row] = []
    seen: set[str] = set()
    for row in rows:
        if row.response_id and (row.response_id in existing or row.response_id in seen):
            report.duplicates += 1
            continue
        seen.add(row.response_id)
        unique_rows.append(row)

    suppressed = suppressed_crm_ids(external_ids={r.customer_id for r in unique_rows if r.customer_id})
    if suppressed:
        kept = [r for r in unique_rows if normalised_crm_id(r.customer_id) not in suppressed]
        report.suppressed = len(unique_rows) - len(kept)
        unique_rows = kept

    customers = _customers(list({r.customer_id for r in unique_rows if r.customer_id}))
    known = [r for r in unique_rows if r.customer_id in customers]
    snapshots = dict(
        zip(
            map(id, known),
            segments_at([(customers[r.customer_id][0], r.submitted_at, customers[r.customer_id][1]) for r in known]),
            strict=True,
        )
    )
    unknown = sorted({r.customer_id for r in unique_rows if r.customer_id and r.customer_id not in customers})
    report.unknown_customer_ids = unknown[:100]

    with transaction.atomic():
        if survey is None:
            survey = _create_survey(
                survey_slug, survey_type, score_columns, attr_columns, comment=any(r.comment for r in unique_rows)
            )
            report.survey_created = True
        keys = _answer_keys(survey)
        responses: list[Response] = []
        ratings: list[AttributeScore] = []
        for row in unique_rows:
            customer_pk = segment_id = None
            if row.customer_id in customers:
                customer_pk, segment_id = customers[row.customer_id][0], snapshots[id(row)]
            elif row.customer_id:
                report.anonymous += 1
            answers: dict[str, Any] = {}
            for column, value in [
                *row.scores.items(),
                *((ATTR_PREFIX + a, s) for a, s in row.attributes.items()),
                *((("comment", row.comment),) if row.comment else ()),
            ]:
                key, text = keys.get(column, (column, ""))
                answers[key] = {
                    "kind": KIND_OF_COLUMN.get(column, Kind.ATTRIBUTE if column.startswith(ATTR_PREFIX) else Kind.TEXT),
                    "text": text,
                    "value": value,
                }
            response = Response(
                survey=survey, survey_type=survey.survey_type, touchpoint=survey.touchpoint, audience=survey.audience,
                channel=Channel.IMPORT, customer_id=customer_pk, segment_id=segment_id, language=row.language,
                submitted_at=row.submitted_at, external_id=row.response_id, comment=row.comment, answers=answers,
                **row.scores,
            )  # fmt: skip
            responses.append(response)
            ratings += [
                AttributeScore(response=response, attribute=name, score=score, submitted_at=row.submitted_at,
                               survey=survey, segment_id=segment_id)
                for name, score in row.attributes.items()
            ]  # fmt: skip
        Response.objects.bulk_create(responses, batch_size=BATCH)
        AttributeScore.objects.bulk_create(ratings, batch_size=BATCH)
        record_changes(responses=[r.submitted_at for r in responses], customers=[r.customer_id for r in responses])
    report.created = len(responses)
    report.survey = survey
    report.imported = True
    return report


# The admin's mapping step: the uploaded file is kept under VAR_DIR between the preview and the import,
# named by a random token, and removed once imported.
PREVIEW_ROWS = 10
PREVIEW_ERRORS = 100
_TOKEN = re.compile(r"^[0-9a-f]{32}$")
# Names other tools and public data sets give our columns, for the admin's guess.
COLUMN_SYNONYMS: dict[str, tuple[str, ...]] = {
    "response_id": ("id", "response_id", "responseid", "review_id", "respondent_id", "record_id", "#"),
    "customer_id": ("customer", "customerid", "client_id", "user_id", "externalreference", "account_id"),
    "submitted_at": ("date", "created_at", "created", "timestamp", "submitted", "submit_date", "recordeddate",
                     "review_creation_date", "response_date", "end_date"),
    "comment": ("text", "message", "comments", "feedback", "reason", "review_comment_message", "verbatim"),
    "language": ("lang", "locale", "userlanguage", "language_code"),
    "nps": ("nps_score", "likelihood_to_recommend", "recommend", "ltr"),
    "csat": ("rating", "review_score", "satisfaction", "stars", "score", "csat_score"),
    "ces": ("effort", "customer_effort", "ces_score"),
}  # fmt: skip


def _normalised(name: str) -> str:
    return re.sub(r"[^0-9a-z#]+", "_", name.strip().casefold()).strip("_")


def format_detect(header: list[str]) -> str | None:
    """The preset whose tell-tale columns the header has, or None."""
    names = {h.strip().casefold() for h in header}
    tells = {
        "formbricks": {"formbricks id (internal)", "response id"},
        "qualtrics": {"responseid", "recordeddate"},
        "surveymonkey": {"respondent id", "collector id"},
        "typeform": {"#", "submit date (utc)"},
        "delighted": {"response id", "score"},
    }
    return next((name for name, columns in tells.items() if columns <= names), None)


def mapping_guess(header: list[str], preset: Preset | None = None) -> dict[str, str]:
    """File column → our column: the preset's columns first, then a column already named as ours, then a
    known synonym, then a close spelling; each of our columns taken once. Attribute columns are not
    guessed (their names are the file's to choose)."""
    guess: dict[str, str] = {}
    taken: set[str] = set()
    for source, target in preset.pairs(header) if preset else ():
        column = next((h for h in header if h.strip().casefold() == source.casefold()), None)
        if column is not None and column not in guess and target not in taken:
            guess[column], taken = target, taken | {target}
    synonyms = {synonym: target for target, names in COLUMN_SYNONYMS.items() for synonym in names}
    candidates = [*IMPORT_TARGETS, *synonyms]
    for column in header:
        if column in guess:
            continue
        name = _normalised(column)
        target = name if name in IMPORT_TARGETS else synonyms.get(name)
        if target is None and "recommend" in name:
            target = "nps"
        if target is None:
            close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.85)
            target = (close[0] if close[0] in IMPORT_TARGETS else synonyms[close[0]]) if close else None
        if target and target not in taken:
            guess[column], taken = target, taken | {target}
    return guess


@dataclass
class ImportPreview:
    columns: list[str]  # the file's header as written
    guessed: dict[str, str]  # file column -> our column
    file_format: str | None  # the preset given or detected
    rows: list[list[str]]  # the first PREVIEW_ROWS records as written
    lines: list[int]  # the line each of those records starts on
    errors: list[tuple[int, str]]  # the first PREVIEW_ERRORS errors of the whole file
    error_count: int = 0  # bad rows in the whole file
    rows_total: int = 0
    problem: str = ""  # why the file as a whole cannot be imported with this mapping


def responses_import_preview(
    *,
    data: bytes,
    survey_slug: str,
    mapping: dict[str, str] | None = None,
    file_format: str | None = None,
    empty: list[str] | tuple[str, ...] = (),
    date_format: str | None = None,
) -> ImportPreview:
    """What importing the file would do, without writing: its columns, the guessed mapping (when
    ``mapping`` is None), the first rows and their errors."""
    text = decode_csv(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=csv_delimiter(text))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        return ImportPreview([], {}, None, [], [], [], problem="The file is empty.")
    file_format = file_format or format_detect(header)
    preset = PRESETS.get(file_format or "")
    for _ in range(preset.extra_header_rows if preset else 0):
        next(reader, None)
    records: list[list[str]] = []
    lines: list[int] = []
    previous_end = reader.line_num
    for record in csv_records(reader):
        if len(records) == PREVIEW_ROWS:
            break
        if isinstance(record, list) and any(cell.strip() for cell in record):
            records.append(record)
            lines.append(previous_end + 1)
        previous_end = reader.line_num
    guessed = mapping_guess(header, preset) if mapping is None else mapping
    preview = ImportPreview(header, guessed, file_format, records, lines, [])
    survey = Survey.objects.filter(slug=survey_slug).first()
    try:
        _, errors, *_, count = _read_rows(
            text,
            survey.language_codes[0] if survey else Language.EN,
            mapping=guessed,
            preset=preset,
            empty=empty_tokens([*(preset.empty if preset else ()), *empty]),
            date_format=date_format or (preset.date_format if preset else None),
        )
    except ImportFileError as exc:
        preview.problem = str(exc)
        return preview
    preview.errors = errors[:PREVIEW_ERRORS]
    preview.error_count, preview.rows_total = len(errors), count
    return preview


def import_columns(*, data: bytes) -> list[str]:
    """The header of a CSV file as written (empty for an empty file)."""
    text = decode_csv(data)
    try:
        return next(csv.reader(io.StringIO(text, newline=""), delimiter=csv_delimiter(text)))
    except (StopIteration, csv.Error):
        return []


def _upload_path(token: str):
    if not _TOKEN.match(token or ""):
        raise ImportFileError("The uploaded file has expired: upload it again.")
    return settings.VAR_DIR / "imports" / f"{token}.csv"


def import_upload_store(*, data: bytes) -> str:
    """Keep an uploaded file between the admin's preview and import; its token."""
    token = secrets.token_hex(16)
    path = _upload_path(token)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return token


def import_upload_read(*, token: str) -> bytes:
    try:
        return _upload_path(token).read_bytes()
    except OSError as exc:
        raise ImportFileError("The uploaded file has expired: upload it again.") from exc


def import_upload_discard(*, token: str) -> None:
    _upload_path(token).unlink(missing_ok=True)

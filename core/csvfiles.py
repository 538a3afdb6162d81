"""What every CSV file the product reads has in common, whichever app reads it."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator


def csv_delimiter(text: str) -> str:
    """The delimiter of a CSV file, from its header line (the start of ``text``): a semicolon when the
    header has more semicolons than commas, as spreadsheets write CSV where the comma is the decimal
    separator; else a comma."""
    header = text.split("\n", 1)[0]
    return ";" if header.count(";") > header.count(",") else ","


# A column mapping, empty tokens and dates: what every import of another tool's export needs, whichever
# app reads the file.

# Values that mean "no value" in files written by common tools: R and pandas (NA, NaN), Excel (#N/A),
# SQL dumps (NULL), spreadsheets typed by hand (N/A, -). Opt-in (--empty), as "NA" is also a word.
EMPTY_TOKEN_PRESET = ("NA", "N/A", "#N/A", "NaN", "NULL", "null", "None", "-")


def csv_records(reader) -> Iterator[list[str] | csv.Error]:
    """The reader's records; a line it gives up on (a field over csv.field_size_limit(), a broken
    quote) is handed on as its error, and reading goes on with the next line."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield exc


class MappingError(ValueError):
    """A column mapping that cannot apply to the file (an unknown target, a missing source column)."""


def mapping_parse(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["review_score=csat", …]`` → ``{"review_score": "csat"}``. The last ``=`` splits, so a source
    column named after a question may itself contain one."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        source, sep, target = pair.rpartition("=")
        if not sep or not source.strip() or not target.strip():
            raise MappingError(f"--map {pair!r} is not of the form SOURCE=TARGET (e.g. review_score=csat).")
        mapping[source.strip()] = target.strip()
    return mapping


def _folded(name: str) -> str:
    return name.strip().casefold()


def header_mapped(
    header: list[str],
    *,
    mapping: dict[str, str],
    targets: tuple[str, ...] | list[str],
    prefixes: tuple[str, ...] = (),
    preset: tuple[tuple[str, str], ...] = (),
) -> list[str]:
    """The header with mapped columns renamed to their target (source names compared without case or
    surrounding spaces); other columns as they are. ``mapping`` comes from the user: every source must be
    in the file. ``preset`` pairs are a tool's known layout: a source missing from the file is skipped,
    the first source found for a target wins, and the user's mapping overrides them. A target is one of
    ``targets`` or starts with one of ``prefixes``."""
    valid = {_folded(t) for t in targets}
    for source, target in mapping.items():
        folded = _folded(target)
        if folded not in valid and not any(folded.startswith(p) and len(folded) > len(p) for p in prefixes):
            listed = ", ".join([*targets, *(f"{p}NAME" for p in prefixes)])
            raise MappingError(f"--map {source}={target}: {target!r} is not a column we import (one of: {listed}).")
    position = {}
    for i, name in enumerate(header):
        position.setdefault(_folded(name), i)
    renamed: dict[int, str] = {}
    for source, target in mapping.items():
        i = position.get(_folded(source))
        if i is None:
            shown = ", ".join(repr(h.strip()) for h in header[:40]) + (", …" if len(header) > 40 else "")
            raise MappingError(f"--map {source}={target}: the file has no column {source!r} (its columns: {shown}).")
        renamed[i] = target.strip()
    chosen = {_folded(t) for t in renamed.values()}
    for source, target in preset:
        i = position.get(_folded(source))
        if i is not None and i not in renamed and _folded(target) not in chosen:
            renamed[i] = target
            chosen.add(_folded(target))
    out = [renamed.get(i, name) for i, name in enumerate(header)]
    seen: dict[str, int] = {}
    for i, name in enumerate(out):
        first = seen.setdefault(_folded(name), i)
        if first != i and _folded(name) in chosen:
            raise MappingError(
                f"Both column {header[first].strip()!r} and column {header[i].strip()!r} would be read as "
                f"{name.strip()!r}: map only one of them."
            )
    return out


def cells_blanked(record: list[str], tokens: frozenset[str]) -> list[str]:
    """The record with every cell that is one of the empty ``tokens`` (casefolded, stripped) made empty."""
    if not tokens:
        return record
    return ["" if cell.strip().casefold() in tokens else cell for cell in record]


def empty_tokens(tokens: list[str] | tuple[str, ...] | None) -> frozenset[str]:
    return frozenset(t.strip().casefold() for t in tokens or () if t.strip())


class DateFormatError(ValueError):
    """The dates of a column cannot be read without a format (day and month order unknown)."""


_SLASHED = re.compile(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*$")


def slashed_date_order(values, *, column: str) -> str | None:
    """How the column's dd/mm/yyyy-like dates are written, told from the whole column: "dmy" when a first
    part is over 12 somewhere, "mdy" when a second part is; None when the column has no such date.
    Raises DateFormatError when both occur, or when every date reads both ways (03/04/2026): never a
    silent guess."""
    day_first = month_first = ambiguous = None
    any_slashed = False
    for value in values:
        match = _SLASHED.match(value)
        if not match:
            continue
        any_slashed = True
        first, second = int(match[1]), int(match[2])
        if first > 12:
            day_first = day_first or value.strip()
        elif second > 12:
            month_first = month_first or value.strip()
        elif first != second:
            ambiguous = ambiguous or value.strip()
    if day_first and month_first:
        raise DateFormatError(
            f"{column} has day-first dates ({day_first!r}) and month-first dates ({month_first!r}): "
            "give the format with --date-format."
        )
    if day_first:
        return "dmy"
    if month_first:
        return "mdy"
    if ambiguous:
        raise DateFormatError(
            f"{column}: every date like {ambiguous!r} reads both as day/month and as month/day; "
            "give the format with --date-format (e.g. %d/%m/%Y or %m/%d/%Y)."
        )
    return "dmy" if any_slashed else None  # only dates like 05/05/2026, the same either way


def slashed_iso(value: str, order: str) -> str | None:
    """A dd/mm/yyyy (order "dmy") or mm/dd/yyyy ("mdy") date, with an optional time, as ISO 8601; None
    when the value is not written so."""
    match = _SLASHED.match(value)
    if not match:
        return None
    day, month = (match[1], match[2]) if order == "dmy" else (match[2], match[1])
    iso = f"{match[3]}-{int(month):02d}-{int(day):02d}"
    if match[4]:
        iso += f" {int(match[4]):02d}:{match[5]}:{match[6] or '00'}"
    return iso


def csv_import_arguments(parser) -> None:
    """--map, --empty and --date-format, as every import command takes them."""
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="SOURCE=TARGET",
        help="read the file's column SOURCE as our column TARGET (repeatable), e.g. --map review_score=csat",
    )
    parser.add_argument(
        "--empty",
        action="append",
        default=[],
        metavar="TOKEN",
        help="a value that means no value, besides the empty cell (repeatable), e.g. --empty NA; "
        f"--empty common stands for {' '.join(EMPTY_TOKEN_PRESET)}",
    )
    parser.add_argument(
        "--date-format",
        metavar="FORMAT",
        help="strptime format of the dates when not ISO 8601, e.g. %%d/%%m/%%Y "
        "(without it dd/mm/yyyy or mm/dd/yyyy is told from the whole column)",
    )


def csv_import_options(options: dict) -> tuple[dict[str, str], list[str]]:
    """The mapping and empty tokens of a command's --map and --empty (MappingError for a bad --map)."""
    mapping = mapping_parse(options.get("map") or [])
    empty: list[str] = []
    for token in options.get("empty") or []:
        empty.extend(EMPTY_TOKEN_PRESET if token == "common" else [token])
    return mapping, empty

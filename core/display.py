"""How a figure is shown, for every place that shows one: the cards, the tables, chart labels and hover
text, and the CSV files. METRICS.md "Display": a figure is rounded half away from zero to the precision
shown, the same way everywhere; money carries the site's currency (``settings.CURRENCY``). The JSON API
carries unrounded values and does not come through here.

Babel supplies the symbols and patterns of each language (decimal comma, where the currency goes);
rounding is done here first, because Babel rounds half to even.
"""

from __future__ import annotations

import csv
import io
import numbers
import re
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
from babel import Locale
from babel.numbers import parse_pattern
from django.conf import settings
from django.utils import timezone
from django.utils.translation import get_language

MINUS = "\u2212"
# CLDR's minimum grouping digits: in Spanish a four-digit number has no thousands separator (1234, 12.345).
MIN_GROUPING_DIGITS = {"es": 2}
# Money in a CSV is to the cent; other fractional figures (rates, means, correlations) to four decimals.
CSV_MONEY_DECIMALS = 2
CSV_DECIMALS = 4
# A text cell that starts with one of these is read as a formula by spreadsheet programs.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def rounded(value: float | int | Decimal, decimals: int) -> Decimal:
    """``value`` rounded half away from zero to ``decimals`` places (2.45 → 2.5, −2.45 → −2.5).
    Floats go through their shortest repr, the number a person reads, not the binary approximation."""
    number = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    return number.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def is_zero(value: float | int | Decimal | None, decimals: int) -> bool:
    """True when ``value`` shows as zero at this precision (no "▲ +0.0")."""
    return value is not None and rounded(value, decimals) == 0


def _missing(value) -> bool:
    return value is None or (pd.api.types.is_scalar(value) and pd.isna(value))


def _language(language: str | None) -> str:
    return (language or get_language() or settings.LANGUAGE_CODE).split("-")[0]


def _apply(pattern_text: str, value: Decimal, language: str, decimals: int, **kwargs) -> str:
    locale = Locale.parse(language)
    pattern = parse_pattern(pattern_text)
    pattern.frac_prec = (decimals, decimals)
    if abs(value) < 10 ** (2 + MIN_GROUPING_DIGITS.get(language, 1)):
        pattern.grouping = (1000, 1000)  # no separator below the minimum grouping digits
    return pattern.apply(value, locale, **kwargs)


def number(
    value: float | int | Decimal | None,
    decimals: int = 1,
    *,
    signed: bool = False,
    language: str | None = None,
    missing: str = "—",
) -> str:
    """The figure as the page shows it: rounded half away from zero, the language's separators, a true
    minus sign, a plus sign when ``signed``; ``missing`` for None."""
    if _missing(value):
        return missing
    language = _language(language)
    amount = rounded(value, decimals)
    if amount == 0:
        amount = abs(amount)  # never "−0.0"
    text = _apply(Locale.parse(language).decimal_formats[None].pattern, abs(amount), language, decimals)
    if amount < 0:
        return MINUS + text
    return f"+{text}" if signed and amount > 0 else text


def percent(value: float | int | Decimal | None, decimals: int = 1, **kwargs) -> str:
    """A rate that is already a percentage (2.5 → "2.5 %")."""
    text = number(value, decimals, **kwargs)
    return text if _missing(value) else f"{text}\u00a0%"


def plotly_separators(language: str | None = None) -> str:
    """Plotly's ``separators`` for the language: its decimal mark, then its thousands separator (plotly
    leaves four-digit numbers ungrouped)."""
    symbols = Locale.parse(_language(language)).number_symbols["latn"]
    return symbols["decimal"] + symbols["group"]


def currency() -> str:
    return settings.CURRENCY


def money(
    value: float | int | Decimal | None,
    decimals: int = 0,
    *,
    signed: bool = False,
    language: str | None = None,
    missing: str = "—",
) -> str:
    """An amount in the site's currency, placed as the language places it (€1,234 / 1234 €)."""
    if _missing(value):
        return missing
    language = _language(language)
    amount = rounded(value, decimals)
    text = _apply(
        Locale.parse(language).currency_formats["standard"].pattern,
        abs(amount),
        language,
        decimals,
        currency=currency(),
        currency_digits=False,
    )
    if amount < 0:
        return MINUS + text
    return f"+{text}" if signed and amount > 0 else text


def csv_safe_text(value: str) -> str:
    """A text cell a spreadsheet will not run: a leading =, +, −, @, tab or carriage return is quoted."""
    return f"'{value}" if value.startswith(FORMULA_START) else value


def csv_lines(header: list[str], rows, *, money_columns: frozenset[str] = frozenset(), language: str | None = None):
    """A CSV file of ``rows`` (any iterable) under ``header``, line by line, starting with a UTF-8 BOM so
    spreadsheet programs read accents. Fractions are rounded like the page (money to the cent, others to
    four decimals) without float artefacts; texts are neutralised against formula injection. In Spanish
    the separator is ``;`` and the decimal mark a comma, as Spanish spreadsheet programs expect."""
    spanish = _language(language) == "es"
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if spanish else ",", lineterminator="\r\n")
    decimals = [CSV_MONEY_DECIMALS if name in money_columns else CSV_DECIMALS for name in header]

    def line(cells) -> str:
        writer.writerow(cells)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield "\ufeff" + line(header)
    for row in rows:
        yield line([_csv_cell(value, places, spanish) for value, places in zip(row, decimals, strict=True)])


def csv_text(header: list[str], rows, **kwargs) -> str:
    return "".join(csv_lines(header, rows, **kwargs))


def _csv_cell(value, decimals: int, spanish: bool) -> str:
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return ""
    if pd.api.types.is_bool(value):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real | Decimal):
        text = format(rounded(value, decimals).normalize(), "f")
        if text == "-0":
            text = "0"
        return text.replace(".", ",") if spanish else text
    if isinstance(value, datetime) and timezone.is_aware(value):
        return timezone.localtime(value).isoformat()  # in the site's time zone, as the pages count days
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return csv_safe_text(str(value))


def filename_part(text: str) -> str:
    """A filter value as part of a file name: letters, digits and hyphens."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "x"

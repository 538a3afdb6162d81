"""Defensive parsing of source values, which arrive as strings, numbers or null.

Each parser returns None for an empty value and raises ValueError with a short reason for a value
it cannot read; the reason ends up in the quarantine.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

_TRUE = {"true", "yes", "y", "1", "on", "x"}
_FALSE = {"false", "no", "n", "0", "off", ""}
_MAX_VALUE = Decimal("999999999999.99")  # Customer.value: 14 digits, 2 decimals


def text(value: object, *, max_length: int | None = None) -> str:
    if value is None:
        return ""
    result = str(value).strip()
    return result[:max_length] if max_length else result


def parse_decimal(value: object, *, field: str = "value") -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raw = str(value)
    else:
        raw = str(value).strip().replace("\u00a0", "").replace(" ", "").replace("_", "")
    for symbol in "$€£":
        raw = raw.replace(symbol, "")
    if raw == "":
        return None
    if "," in raw and "." in raw:
        # The separator that comes last is the decimal one: "1,234.50" or "1.234,50".
        decimal_comma = raw.rfind(",") > raw.rfind(".")
        raw = raw.replace(".", "").replace(",", ".") if decimal_comma else raw.replace(",", "")
    elif "," in raw:
        head, _, tail = raw.rpartition(",")
        raw = f"{head.replace(',', '')}.{tail}" if raw.count(",") == 1 and len(tail) <= 2 else raw.replace(",", "")
    try:
        number = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"{field}: {text(value, max_length=40)!r} is not a number") from None
    if not number.is_finite() or abs(number) > _MAX_VALUE:
        raise ValueError(f"{field}: {text(value, max_length=40)!r} is out of range")
    return number.quantize(Decimal("0.01"))


_DIGITS = re.compile(r"^\d{9,14}$")


def parse_datetime(value: object, *, field: str = "date") -> datetime | None:
    """ISO 8601 date or date-time, "YYYY-MM-DD HH:MM[:SS]", or epoch seconds/milliseconds.
    A naive value is in the site's time zone."""
    if value is None:
        return None
    if type(value) is str and len(value) == 24 and value[10] == "T" and value[23] == "Z":
        # HubSpot's own form (2024-01-01T00:00:00.000Z), most of what a sync parses: the same result
        # as below, without the checks.
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass  # the general path words the error
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime.combine(value, time.min)
    else:
        raw = str(value).strip()
        if raw == "":
            return None
        if _DIGITS.match(raw):
            number = int(raw)
            seconds = number / 1000 if len(raw) > 11 else number
            return datetime.fromtimestamp(seconds, tz=UTC)
        try:
            result = datetime.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"{field}: {text(value, max_length=40)!r} is not a date") from None
    if timezone.is_naive(result):
        result = timezone.make_aware(result, timezone.get_default_timezone())
    return result


def parse_bool(value: object, *, field: str = "flag") -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    raw = str(value).strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"{field}: {text(value, max_length=40)!r} is not a yes/no value")


def clean_email(value: object) -> str:
    """An address that does not validate is dropped rather than the whole customer: a customer
    without an email still counts in the customer base, they just cannot be invited."""
    raw = text(value).lower()
    if not raw or len(raw) > 254:
        return ""
    try:
        validate_email(raw)
    except ValidationError:
        return ""
    return raw


def clean_language(value: object) -> str:
    raw = text(value).lower().replace("_", "-")
    return raw.split("-")[0][:8] if raw else ""


def clean_country(value: object) -> str:
    raw = text(value)
    return raw.upper() if len(raw) == 2 and raw.isalpha() else ""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from crm_sync.connectors.parsing import clean_country, clean_email, parse_bool, parse_datetime, parse_decimal


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, None), ("", None), ("  ", None), ("1200", Decimal("1200.00")), ("1,200.5", Decimal("1200.50")),
     ("1.200,50", Decimal("1200.50")), ("12,5", Decimal("12.50")), ("€ 3 000", Decimal("3000.00")), (7, Decimal("7.00")),
     ("1e3", Decimal("1000.00"))],
)  # fmt: skip
def test_parse_decimal(raw, expected):
    assert parse_decimal(raw) == expected


@pytest.mark.parametrize("raw", ["abc", "NaN", "Infinity", "1e20"])
def test_parse_decimal_rejects(raw):
    with pytest.raises(ValueError, match="value: "):
        parse_decimal(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("2024-03-01", datetime(2024, 3, 1, tzinfo=UTC)), ("2024-03-01T10:00:00.123Z", datetime(2024, 3, 1, 10, 0, 0,
     123000, tzinfo=UTC)), ("1709287200000", datetime(2024, 3, 1, 10, tzinfo=UTC)), ("1709287200",
     datetime(2024, 3, 1, 10, tzinfo=UTC)), ("2024-03-01 10:00", datetime(2024, 3, 1, 10, tzinfo=UTC)), (None, None),
     ("", None)],
)  # fmt: skip
def test_parse_datetime(raw, expected):
    assert parse_datetime(raw) == expected


def test_parse_datetime_rejects_nonsense():
    with pytest.raises(ValueError, match="'31/31/2024' is not a date"):
        parse_datetime("31/31/2024")


def test_parse_bool():
    assert parse_bool("true") and parse_bool("Yes") and not parse_bool(None) and not parse_bool("false")
    with pytest.raises(ValueError):
        parse_bool("maybe")


def test_clean_email_and_country():
    assert clean_email(" Ana@Example.COM ") == "ana@example.com"
    assert clean_email("not an email") == ""
    assert (clean_country("es"), clean_country("Spain"), clean_country(None)) == ("ES", "", "")


def test_hubspot_timestamps_take_the_short_path_with_the_same_result_and_errors():
    assert parse_datetime("2024-03-01T10:00:00.123Z") == datetime(2024, 3, 1, 10, 0, 0, 123000, tzinfo=UTC)
    assert parse_datetime("2024-03-01T10:00:00.123Z").utcoffset().total_seconds() == 0
    with pytest.raises(ValueError, match="last modified: '2024-13-01T10:00:00.000Z' is not a date"):
        parse_datetime("2024-13-01T10:00:00.000Z", field="last modified")

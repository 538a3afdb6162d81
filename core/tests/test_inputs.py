"""The shared checks on outside input: NUL characters, plausible times, the CSV delimiter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import time_machine

from core.csvfiles import csv_delimiter
from core.days import event_bounds, implausible_moment
from core.inputs import contains_nul, shown_nul


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ("plain", False),
        ("a\x00b", True),
        ({"k": ["x", {"y": "z\x00"}]}, True),
        ({"k\x00": 1}, True),
        ({"k": [1, 2.5, None, True]}, False),
        (("a", "\x00"), True),
        (None, False),
    ],
)
def test_contains_nul_looks_into_json_like_data(value, found):
    assert contains_nul(value) is found


def test_shown_nul_can_be_stored_and_read():
    assert shown_nul("a\x00b") == "a\\x00b"


@pytest.mark.parametrize(
    ("header", "delimiter"),
    [
        ("a,b,c\n1;2;3;4;5\n", ","),
        ("a;b;c\n1,2,3,4,5\n", ";"),
        ("a;b,c;d\n", ";"),
        ("single\n", ","),
        ("a;b;c", ";"),
    ],
)
def test_the_delimiter_comes_from_the_header_line_only(header, delimiter):
    assert csv_delimiter(header) == delimiter


@time_machine.travel(datetime(2026, 5, 15, 3, 0, tzinfo=UTC), tick=False)
@pytest.mark.parametrize(
    ("moment", "problem"),
    [
        (datetime(1970, 1, 1, tzinfo=ZoneInfo("America/Mexico_City")), None),
        (datetime(1969, 12, 31, 23, 59, tzinfo=ZoneInfo("America/Mexico_City")), "x 1969-12-31 is before 1970-01-01"),
        (datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))), "x 0001-01-01 is before 1970-01-01"),
        (datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))), "x 9999-12-31 is after 2026-05-15"),
        # 15 May 03:00 UTC is still the 14th in Mexico City: tomorrow there is the 15th, not the 16th.
        (datetime(2026, 5, 15, 23, 59, tzinfo=ZoneInfo("America/Mexico_City")), None),
        (datetime(2026, 5, 16, tzinfo=ZoneInfo("America/Mexico_City")), "x 2026-05-16 is after 2026-05-15"),
    ],
)
def test_a_time_is_plausible_from_1970_to_tomorrow_in_site_time(settings, moment, problem):
    settings.TIME_ZONE = "America/Mexico_City"
    found = implausible_moment(moment, name="x")
    if problem is None:
        assert found is None
    else:
        assert found.startswith(problem)
    assert implausible_moment(moment, name="x", bounds=event_bounds()) == found

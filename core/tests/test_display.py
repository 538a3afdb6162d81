"""How figures are shown (METRICS.md "Display"): hand-computed roundings, both languages, CSV files."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from core import display


@pytest.mark.parametrize(
    ("value", "decimals", "shown"),
    [
        (2.459, 1, "2.5"),  # the churn the table truncated to 2.4 beside a bar saying 2.5
        (2.45, 1, "2.5"),  # half away from zero, not to even (Babel's and Python's round() give 2.4)
        (-2.45, 1, "−2.5"),
        (0.25, 1, "0.3"),
        (95.95, 1, "96.0"),
        (4.04, 1, "4.0"),
        (-0.04, 1, "0.0"),  # never "−0.0"
        (1234.5, 0, "1,235"),
        (Decimal("1.005"), 2, "1.01"),
        (None, 1, "—"),
        (float("nan"), 1, "—"),
    ],
)
def test_numbers_round_half_away_from_zero(value, decimals, shown):
    assert display.number(value, decimals, language="en") == shown


def test_churn_and_retention_shown_add_up_when_the_figures_do():
    churn = 4.04
    assert display.percent(churn, language="en") == "4.0\u00a0%"
    assert display.percent(100 - churn, language="en") == "96.0\u00a0%"


def test_signs_and_zero_changes():
    assert display.number(4.1, signed=True, language="en") == "+4.1"
    assert display.number(-4.1, signed=True, language="en") == "−4.1"
    assert display.number(0.04, signed=True, language="en") == "0.0"
    assert display.is_zero(0.04, 1) and not display.is_zero(0.05, 1)


def test_spanish_separators_and_no_grouping_of_four_digits():
    assert display.number(2.45, language="es") == "2,5"
    assert display.number(1234, 0, language="es") == "1234"
    assert display.number(12345.678, 1, language="es") == "12.345,7"
    assert display.number(12345.678, 1, language="en") == "12,345.7"


def test_money_carries_the_currency_in_the_language_s_place(settings):
    settings.CURRENCY = "EUR"
    assert display.money(1234.5, language="en") == "€1,235"
    assert display.money(1234.5, language="es") == "1235\u00a0€"
    assert display.money(-99.5, language="en") == "−€100"
    assert display.money(10, signed=True, language="en") == "+€10"
    settings.CURRENCY = "USD"
    assert display.money(123456, language="en") == "$123,456"


def test_plotly_separators_follow_the_language():
    assert display.plotly_separators("en") == ".,"
    assert display.plotly_separators("es") == ",."


def read(text: str, delimiter=",") -> list[list[str]]:
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:]), delimiter=delimiter))


def test_csv_rounds_money_to_the_cent_and_the_rest_to_four_decimals():
    text = display.csv_text(
        ["value", "rate", "count", "flag"],
        [[1234.565, 0.1 + 0.2, 7, True], [None, 2 / 3, 0, False]],
        money_columns=frozenset({"value"}),
        language="en",
    )
    assert read(text) == [
        ["value", "rate", "count", "flag"],
        ["1234.57", "0.3", "7", "true"],
        ["", "0.6667", "0", "false"],
    ]


def test_csv_in_spanish_uses_semicolons_and_decimal_commas():
    text = display.csv_text(["segment", "nps"], [["Key", 12.5]], language="es")
    assert read(text, ";") == [["segment", "nps"], ["Key", "12,5"]]


@pytest.mark.parametrize("text", ["=1+1", "+33 600", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_csv_neutralises_formulas_in_text_but_not_numbers(text):
    rows = read(display.csv_text(["comment", "change"], [[text, -2.5]], language="en"))
    assert rows[1] == ["'" + text, "-2.5"]

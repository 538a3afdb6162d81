"""What every CSV file the product reads has in common, whichever app reads it."""

from __future__ import annotations


def csv_delimiter(text: str) -> str:
    """The delimiter of a CSV file, from its header line (the start of ``text``): a semicolon when the
    header has more semicolons than commas, as spreadsheets write CSV where the comma is the decimal
    separator; else a comma."""
    header = text.split("\n", 1)[0]
    return ";" if header.count(";") > header.count(",") else ","

"""Checks on text that comes from outside (requests, uploaded files, API bodies).

PostgreSQL cannot store a NUL character in a text column, nor compare one: a NUL that reaches a query
makes psycopg2 raise ValueError, a 500. Every way in refuses it first, with a message saying so.
"""

from __future__ import annotations

NUL = "\x00"


def contains_nul(value: object) -> bool:
    """Whether a NUL character is in ``value``: a string, or any key or value of JSON-like data."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(contains_nul(item) for item in value)
    return False


def shown_nul(value: str) -> str:
    """``value`` with each NUL written as the four characters \\x00, so it can be stored and shown."""
    return value.replace(NUL, "\\x00")

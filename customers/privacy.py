"""The customer's personal data held by other apps, found through one list.

Apps above ``customers`` (surveys, crm_sync, and any later app holding comments, complaints or notes)
keep personal data about a customer. Erasure at the subject's request and the subject's data export
must reach all of it, but ``customers`` must not import the apps built on it. Each such app has a
``privacy`` module with two functions, and ``settings.PERSONAL_DATA_HOLDERS`` names those modules:

- ``erase(*, subjects: list[Subject]) -> dict[str, int]``: erase what the app holds of these subjects in
  the caller's transaction; return how many rows of each kind it changed or deleted.
- ``export(*, subject: Subject) -> dict[str, list]``: what the app holds of the subject, JSON-ready.

A new app holding personal data adds its module to the setting; a test checks that every app with a
``privacy`` module is listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from types import ModuleType

from django.conf import settings


@dataclass(frozen=True)
class Subject:
    customer_id: int
    connection_id: int
    external_id: str  # the CRM id before erasure ("" once erased)
    email: str


def holders() -> list[ModuleType]:
    return [import_module(path) for path in settings.PERSONAL_DATA_HOLDERS]


def erase_everywhere(subjects: list[Subject]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for holder in holders():
        for kind, n in holder.erase(subjects=subjects).items():
            counts[kind] = counts.get(kind, 0) + n
    return counts


def export_everywhere(subject: Subject) -> dict[str, list]:
    document: dict[str, list] = {}
    for holder in holders():
        document.update(holder.export(subject=subject))
    return document

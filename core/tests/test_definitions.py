"""Every threshold, scale and window of shared/METRICS.md is written in core.definitions and nowhere else
in the app's code and templates (tests, migrations, the demo data and the benchmark aside)."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

from core import definitions

LITERALS = {
    "the category window": r"\b365\b",
    "the 95 % z value": r"\b1\.96\b",
    "a score scale": r"\((0|1), (5|7|10)\)|\b(0|1)-(5|7|10)\b",
    "a score threshold in a lookup": r"(nps|csat|ces|likelihood_\w+|overall|score)__(gte|lte|gt|lt)=\d",
    "a score threshold in a comparison": r"\b(nps|csat|ces|score)\s*(>=|<=|<|>)\s*\d",
    "a 90-day window": r"days=90\b|\b90 days (before|after)|within 90 days",
    "an incident threshold": r"\bof [23] or less\b",
    "a response-rate benchmark": r"\b(32|23|13|16)\.0\b",
    "the earliest plausible day": r"\b1970\b",
}
SKIPPED = ("/tests/", "/migrations/", "/demo", "/bench", "conftest.py", "core/definitions.py", "/.venv/", "/static/")


def _app_files() -> list[Path]:
    root = Path(settings.BASE_DIR)
    files = [*root.glob("*/**/*.py"), *root.glob("**/templates/**/*.html")]
    return [f for f in files if not any(part in f"/{f.relative_to(root)}" for part in SKIPPED)]


def test_no_definition_is_written_outside_the_definitions_module():
    found = [
        f"{path.name}:{number}: {what}: {line.strip()}"
        for path in _app_files()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        for what, pattern in LITERALS.items()
        if re.search(pattern, line)
    ]
    assert not found, "\n".join(found)


def test_the_definitions_are_the_ones_of_metrics_md():
    assert definitions.SCALES["nps"] == (0, 10) and definitions.SCALES["ces"] == (1, 7)
    assert [definitions.nps_category(s) for s in (10, 9, 8, 7, 6, 0, None)] == [
        "promoter", "promoter", "passive", "passive", "detractor", "detractor", "no_response",
    ]  # fmt: skip
    assert (definitions.CATEGORY_WINDOW_DAYS, definitions.INCIDENT_WINDOW_DAYS, definitions.Z_95) == (365, 90, 1.96)
    assert list(definitions.nps_scores("passive")) == [7, 8]


def test_the_check_finds_a_literal_where_it_should_not_be(tmp_path):
    line = 'promoters = Count("pk", filter=Q(nps__gte=9))'
    assert any(re.search(pattern, line) for pattern in LITERALS.values())

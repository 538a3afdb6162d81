"""``manage.py metrics``: the same document as the API, as JSON or a table."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from cxmetrics.tests.factories import cx_manager
from metrics.tests.factories import small_dataset

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("metrics", *args, stdout=out)
    return out.getvalue()


def test_json_output_equals_the_api(client):
    small_dataset()
    client.force_login(cx_manager())
    api = client.get("/api/v1/metrics/", {"start": "2026-01-01", "end": "2026-01-31", "segment": "Gold"}).json()

    output = run("--start", "2026-01-01", "--end", "2026-01-31", "--segment", "Gold", "--format", "json")

    assert json.loads(output) == api


def test_table_output_is_readable():
    small_dataset()
    output = run("--start=2026-01-01", "--end=2026-01-31", "--format=table", "--survey-type=relational")
    lines = output.splitlines()
    assert any(line.startswith("nps.score") and line.endswith("50.00") for line in lines)
    assert any(line.startswith("customers.churn_rate") and line.endswith("50.00") for line in lines)
    assert any(
        "combined.churn_by_nps_category.promoter.churn_rate" in line and line.endswith("no data") for line in lines
    )
    assert any("Silver → Gold" in line and line.endswith("1") for line in lines)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "2026-01-32", "--end", "2026-02-01"], "--start: Enter a date as YYYY-MM-DD."),
        (["--start", "2026-02-01", "--end", "2026-01-01"], "--end: The end date (2026-01-01) is before"),
        (["--start", "2026-01-01", "--end", "2026-01-31", "--segment", "Nope"], "--segment: Unknown segment"),
        (["--start", "2026-01-01", "--end", "2026-01-31", "--survey-type", "x"], "--survey-type: Select a valid"),
        (["--start", "2026-01-01", "--end", "2026-01-31", "--format", "xml"], "invalid choice: 'xml'"),
    ],
)
def test_bad_arguments_raise_command_error(args, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run(*args)


def test_rollups_rebuild_drops_the_rollups_and_builds_the_same_figures():
    from core.models import Change
    from metrics.models import CustomerSpell, FillState, ScoreDaily

    small_dataset()
    before = json.loads(run("--start", "2026-01-01", "--end", "2026-01-31"))
    out = StringIO()
    call_command("rollups_rebuild", stdout=out)
    assert "rolled up" in out.getvalue()
    assert ScoreDaily.objects.exists() and CustomerSpell.objects.exists()
    assert FillState.objects.filter(through__isnull=True).count() == 0
    assert not Change.objects.exists()  # every recorded change was taken in
    assert json.loads(run("--start", "2026-01-01", "--end", "2026-01-31")) == before

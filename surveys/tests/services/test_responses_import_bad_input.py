"""Bad input in a response import: NUL characters, values longer than their column, dates far off.
Each is a line-numbered error (a file error for the header), in the service, the command and the admin
upload; never a traceback or a 500. Run on SQLite and PostgreSQL (which refuses NUL in text)."""

from __future__ import annotations

import csv
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from surveys.models import AttributeScore, Response
from surveys.services import ImportFileError, responses_import
from surveys.services.imports import ATTRIBUTE_MAX, CUSTOMER_ID_MAX, RESPONSE_ID_MAX, SLUG_MAX

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _today_is_14_may_2026():
    with time_machine.travel(datetime(2026, 5, 14, 12, tzinfo=ZoneInfo("UTC")), tick=False):
        yield


# A hand-made file: line 2 is good, every later line has one thing wrong.
BAD_FILE = (
    "response_id,customer_id,submitted_at,nps,comment\n"
    "ok-1,,2026-03-01,9,fine\n"
    "nul-1,,2026-03-01,9,great\x00service\n"
    "nul\x00id,,2026-03-01,9,\n"
    f"{'r' * (RESPONSE_ID_MAX + 1)},,2026-03-01,9,\n"
    f"long-customer,{'c' * (CUSTOMER_ID_MAX + 1)},2026-03-01,9,\n"
    "far-1,,9999-12-31,9,\n"
    "far-2,,0001-01-01,9,\n"
    "far-3,,1969-12-31T23:59:59,9,\n"
    "far-4,,2026-05-16,9,\n"
    "far-5,,0001-01-01T00:00:00+05:00,9,\n"
    "ok-2,,2026-05-15T23:00:00,8,tomorrow is allowed\n"
)
EXPECTED = {
    3: "comment contains a NUL character",
    4: "response_id contains a NUL character",
    5: f"response_id is longer than {RESPONSE_ID_MAX} characters ({RESPONSE_ID_MAX + 1})",
    6: f"customer_id is longer than {CUSTOMER_ID_MAX} characters ({CUSTOMER_ID_MAX + 1})",
    7: "submitted_at 9999-12-31 is after 2026-05-15 (tomorrow)",
    8: "submitted_at 0001-01-01 is before 1970-01-01",
    9: "submitted_at 1969-12-31 is before 1970-01-01",
    10: "submitted_at 2026-05-16 is after 2026-05-15 (tomorrow)",
    11: "submitted_at 0001-01-01 is before 1970-01-01",
}


def test_every_bad_line_is_reported_with_its_number_and_nothing_is_imported():
    report = responses_import(data=BAD_FILE.encode(), survey_slug="legacy", create_survey=True)
    assert not report.imported
    assert dict(report.errors) == EXPECTED
    assert not Response.objects.exists()


def test_skip_invalid_imports_only_the_good_lines():
    report = responses_import(data=BAD_FILE.encode(), survey_slug="legacy", create_survey=True, skip_invalid=True)
    assert report.imported and report.created == 2
    assert sorted(Response.objects.values_list("external_id", flat=True)) == ["ok-1", "ok-2"]


def test_semicolons_and_a_nul_in_an_ignored_column():
    data = b"response_id;submitted_at;nps;note\nr1;2026-03-01;9;a\x00b\n"
    report = responses_import(data=data, survey_slug="legacy", create_survey=True)
    assert report.errors == [(2, "note contains a NUL character")]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("response_id,submitted_at,nps\x00", "line 1: a column name contains a NUL character."),
        (
            f"response_id,submitted_at,attr:{'a' * (ATTRIBUTE_MAX + 1)}",
            f"is longer than {ATTRIBUTE_MAX} characters ({ATTRIBUTE_MAX + 1}).",
        ),
    ],
)
def test_a_bad_header_is_a_file_error(header, message):
    with pytest.raises(ImportFileError, match="^line 1: ") as caught:
        responses_import(data=f"{header}\nr1,2026-03-01,3\n".encode(), survey_slug="legacy", create_survey=True)
    assert str(caught.value).endswith(message)


def test_an_attribute_name_of_the_longest_length_is_imported():
    name = "a" * ATTRIBUTE_MAX
    data = f"response_id,submitted_at,attr:{name}\nr1,2026-03-01,3\n".encode()
    report = responses_import(data=data, survey_slug="legacy", create_survey=True)
    assert report.imported and not report.errors
    assert AttributeScore.objects.get().attribute == name


def test_the_command_prints_the_lines_and_exits_non_zero_without_a_traceback(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_bytes(BAD_FILE.encode())
    with pytest.raises(CommandError, match="9 bad rows; nothing imported"):
        call_command("import_responses", str(path), "--survey", "legacy", "--create-survey")
    err = capsys.readouterr().err
    for line, reason in EXPECTED.items():
        assert f"line {line}: {reason}" in err
    header = tmp_path / "header.csv"
    header.write_bytes(b"response_id,submitted_at,nps\x00\nr1,2026-03-01,3\n")
    with pytest.raises(CommandError, match="a column name contains a NUL character"):
        call_command("import_responses", str(header), "--survey", "legacy", "--create-survey")


@pytest.mark.parametrize(
    ("content", "shown"),
    [
        (BAD_FILE.encode(), [f"line {line}: {reason}" for line, reason in EXPECTED.items()]),
        (b"response_id,submitted_at,nps\x00\nr1,2026-03-01,3\n", ["a column name contains a NUL character"]),
    ],
)
def test_the_admin_upload_shows_the_errors(admin_client, content, shown):
    response = admin_client.post(
        reverse("admin:surveys_survey_import"),
        {
            "file": SimpleUploadedFile("r.csv", content),
            "survey_slug": "legacy",
            "create_survey": "on",
            "survey_type": "relational",
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    for text in shown:
        assert text.replace("(", "").replace(")", "") in html.replace("(", "").replace(")", "")
    assert not Response.objects.exists()


def test_a_field_over_the_csv_limit_is_a_line_error_and_the_next_lines_are_read():
    huge = "x" * (csv.field_size_limit() + 1)
    data = f"response_id,submitted_at,nps,comment\nr1,2026-03-01,9,{huge}\nr2,2026-03-01,8,\n".encode()
    report = responses_import(data=data, survey_slug="legacy", create_survey=True, skip_invalid=True)
    assert [(line, reason.split(" (")[0]) for line, reason in report.errors] == [(2, "the line is not valid CSV")]
    assert list(Response.objects.values_list("external_id", flat=True)) == ["r2"]


def test_a_new_survey_slug_longer_than_its_column_is_a_file_error(tmp_path):
    slug = "s" * (SLUG_MAX + 1)
    with pytest.raises(ImportFileError, match=f"at most {SLUG_MAX} characters"):
        responses_import(data=b"response_id,submitted_at,nps\nr1,2026-03-01,9\n", survey_slug=slug, create_survey=True)
    path = tmp_path / "r.csv"
    path.write_bytes(b"response_id,submitted_at,nps\nr1,2026-03-01,9\n")
    with pytest.raises(CommandError, match=f"at most {SLUG_MAX} characters"):
        call_command("import_responses", str(path), "--survey", slug, "--create-survey")

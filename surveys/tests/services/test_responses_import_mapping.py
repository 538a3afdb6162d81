"""Files from other tools: column mapping, empty tokens, day-first dates, comment languages, duplicate ids
inside a file and the presets of other tools' exports."""

from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command

from surveys.models import Response
from surveys.services import ImportFileError, responses_import

pytestmark = pytest.mark.django_db

# The layout of Olist's public order-review table (olist_order_reviews_dataset.csv), comments from the
# Portuguese rows of /work/shared/data/comments_dev.csv; dates day-first, an R-style NA.
OLIST = (
    "review_id,order_id,review_score,review_comment_title,review_comment_message,review_creation_date,"
    "review_answer_timestamp,lang\n"
    "7bc2406110b926393aa56f80a40eba40,73fc7af87114b39712e6da79b0a377eb,4,NA,NA,18/01/2018,18/01/2018 21:46,pt\n"
    "80e641a11e56f04c1ad469d5645fdfde,a548910a1c6147796b98fdf73dbeba33,5,NA,"
    '"Recebi bem antes do prazo estipulado.",10/03/2018,11/03/2018 03:05,pt\n'
    "228ce5500dc1d8e020d8d1322874b6f0,f9e4b658b201a9f2ecdecbb34bed034b,1,NA,"
    '"Não recebi o produto.",17/02/2018,18/02/2018 14:36,pt-BR\n'
)
OLIST_MAP = {
    "review_id": "response_id",
    "review_score": "csat",
    "review_comment_message": "comment",
    "review_creation_date": "submitted_at",
    "lang": "language",
}


def test_olist_reviews_import_with_a_mapping_empty_tokens_and_day_first_dates():
    report = responses_import(
        data=OLIST.encode(), survey_slug="olist", create_survey=True, mapping=OLIST_MAP, empty=["NA"]
    )
    assert report.imported and report.created == 3 and not report.errors, report.lines()
    rows = {r.external_id: r for r in Response.objects.all()}
    first = rows["7bc2406110b926393aa56f80a40eba40"]
    assert (first.csat, first.comment, first.language) == (4, "", "pt")  # NA is no comment, not "NA"
    assert first.submitted_at.date().isoformat() == "2018-01-18"
    assert rows["80e641a11e56f04c1ad469d5645fdfde"].submitted_at.date().isoformat() == "2018-03-10"
    assert rows["228ce5500dc1d8e020d8d1322874b6f0"].language == "pt"  # pt-BR stored as its language
    assert "order_id" in report.ignored_columns


def test_without_the_empty_token_na_is_kept_as_text():
    responses_import(data=OLIST.encode(), survey_slug="olist", create_survey=True, mapping=OLIST_MAP)
    assert Response.objects.filter(comment="NA").count() == 1


def test_a_mapping_to_an_unknown_column_lists_the_valid_ones():
    with pytest.raises(ImportFileError, match=r"'score' is not a column we import \(one of: comment, .*nps.*attr:NAME"):
        responses_import(
            data=OLIST.encode(), survey_slug="olist", create_survey=True, mapping={"review_score": "score"}
        )


def test_a_mapped_column_missing_from_the_file_is_named():
    with pytest.raises(ImportFileError, match=r"the file has no column 'rating' \(its columns: 'review_id'"):
        responses_import(data=OLIST.encode(), survey_slug="olist", create_survey=True, mapping={"rating": "csat"})


def test_two_columns_read_as_one_are_refused():
    data = b"response_id,submitted_at,nps,score\nr1,2026-03-01,9,8\n"
    with pytest.raises(ImportFileError, match="Both column 'nps' and column 'score' would be read as 'nps'"):
        responses_import(data=data, survey_slug="s", create_survey=True, mapping={"score": "nps"})


def test_a_mapping_to_an_attribute_column():
    data = b"id,date,Delivery\nr1,2026-03-01,4\n"
    report = responses_import(
        data=data,
        survey_slug="s",
        create_survey=True,
        mapping={"id": "response_id", "date": "submitted_at", "Delivery": "attr:delivery"},
    )
    assert report.created == 1 and Response.objects.get().attribute_scores.get().attribute == "delivery"


def test_month_first_dates_are_told_from_a_day_over_twelve():
    data = b"response_id,submitted_at,nps\nr1,03/04/2026,9\nr2,12/25/2025 10:30,7\n"
    responses_import(data=data, survey_slug="s", create_survey=True)
    dates = dict(Response.objects.values_list("external_id", "submitted_at__date"))
    assert [dates["r1"].isoformat(), dates["r2"].isoformat()] == ["2026-03-04", "2025-12-25"]


def test_dates_that_read_both_ways_ask_for_a_date_format():
    data = b"response_id,submitted_at,nps\nr1,03/04/2026,9\nr2,05/06/2026,7\n"
    with pytest.raises(ImportFileError, match="reads both as day/month and as month/day; give the format"):
        responses_import(data=data, survey_slug="s", create_survey=True)
    assert not Response.objects.exists()
    report = responses_import(data=data, survey_slug="s", create_survey=True, date_format="%d/%m/%Y")
    assert report.created == 2
    assert Response.objects.get(external_id="r1").submitted_at.date().isoformat() == "2026-04-03"


def test_day_first_and_month_first_in_one_column_are_refused():
    data = b"response_id,submitted_at,nps\nr1,13/04/2026,9\nr2,04/13/2026,7\n"
    with pytest.raises(ImportFileError, match="day-first dates .* and month-first dates"):
        responses_import(data=data, survey_slug="s", create_survey=True)


def test_a_date_not_matching_the_date_format_and_the_bounds_are_row_errors():
    data = b"response_id,submitted_at,nps\nr1,2026-03-01,9\nr2,01/01/1950,7\nr3,03/04/2026,8\n"
    report = responses_import(data=data, survey_slug="s", create_survey=True, date_format="%d/%m/%Y")
    assert not report.imported
    reasons = dict(report.errors)
    assert "does not match the date format '%d/%m/%Y'" in reasons[2]
    assert "submitted_at 1950-01-01 is before 1970-01-01" in reasons[3]


def test_comment_languages_beyond_the_survey_languages_are_stored_as_given():
    data = (
        "response_id,submitted_at,nps,comment,language\n"
        "r1,2026-03-01,9,Muito bom,pt\nr2,2026-03-01,8,Très bien,FR\nr3,2026-03-01,7,Gut,de-AT\n"
        "r4,2026-03-01,6,Bene,it\nr5,2026-03-01,5,Fine,\n"
    ).encode()
    report = responses_import(data=data, survey_slug="s", create_survey=True)
    assert report.created == 5 and not report.errors
    assert dict(Response.objects.values_list("external_id", "language")) == {
        "r1": "pt", "r2": "fr", "r3": "de", "r4": "it", "r5": "en"
    }  # fmt: skip


def test_a_language_that_is_not_a_code_is_a_row_error():
    data = b"response_id,submitted_at,nps,language\nr1,2026-03-01,9,Portuguese\n"
    report = responses_import(data=data, survey_slug="s", create_survey=True)
    assert report.errors == [
        (2, "language 'Portuguese' is not a two-letter language code (ISO 639-1, e.g. pt or pt-BR)")
    ]


def test_a_duplicate_id_in_the_file_is_reported_as_such_not_as_already_imported():
    data = b"response_id,submitted_at,nps\nr1,2026-03-01,9\nr2,2026-03-01,8\nr1,2026-03-02,3\n"
    report = responses_import(data=data, survey_slug="s", create_survey=True)
    assert not report.imported and report.duplicates == 0
    assert report.errors == [(4, "duplicate response_id in this file (first on line 2)")]
    report = responses_import(data=data, survey_slug="s", create_survey=True, skip_invalid=True)
    assert (report.created, report.duplicates) == (2, 0)
    assert Response.objects.get(external_id="r1").nps == 9
    again = responses_import(data=data, survey_slug="s", skip_invalid=True)
    assert (again.created, again.duplicates) == (0, 2)  # the file's first rows: already imported


# Presets. Each file is written in that tool's export layout (see surveys/services/import_presets.py
# for the source of each layout).


def test_delighted_export():
    data = (
        b"Response ID,Person ID,Email,Name,Score,Comment,Created At,Tags\n"
        b"101,9001,ana@example.com,Ana,10,Great support,1767268800,\n"
        b"102,9002,bo@example.com,Bo,3,,1767355200,churn-risk\n"
    )
    report = responses_import(data=data, survey_slug="d", create_survey=True, file_format="delighted")
    assert report.created == 2 and not report.errors, report.lines()
    first = Response.objects.get(external_id="101")
    assert (first.nps, first.comment, first.submitted_at) == (10, "Great support", datetime(2026, 1, 1, 12, tzinfo=UTC))


def test_unix_milliseconds_are_not_read_as_a_basic_iso_date():
    data = b"response_id,submitted_at,nps\nr1,1701011200000,9\n"
    report = responses_import(data=data, survey_slug="s", create_survey=True)
    assert report.created == 1, report.lines()
    assert Response.objects.get().submitted_at == datetime(2023, 11, 26, 15, 6, 40, tzinfo=UTC)


def test_delighted_export_of_a_csat_project_maps_the_score():
    data = b"Response ID,Score,Comment,Created At\n101,4,,1767268800\n"
    responses_import(data=data, survey_slug="d", create_survey=True, file_format="delighted", mapping={"Score": "csat"})
    assert (Response.objects.get().csat, Response.objects.get().nps) == (4, None)


QUALTRICS = (
    "StartDate,EndDate,Status,IPAddress,Progress,Duration (in seconds),Finished,RecordedDate,ResponseId,"
    "RecipientLastName,RecipientFirstName,RecipientEmail,ExternalReference,LocationLatitude,LocationLongitude,"
    "DistributionChannel,UserLanguage,Q1,Q1_NPS_GROUP,Q2\n"
    "Start Date,End Date,Response Type,IP Address,Progress,Duration (in seconds),Finished,Recorded Date,"
    "Response ID,Recipient Last Name,Recipient First Name,Recipient Email,External Data Reference,"
    "Location Latitude,Location Longitude,Distribution Channel,User Language,"
    '"How likely are you to recommend us to a friend or colleague?","How likely are you to recommend us? - Group",'
    '"What is the main reason for your score?"\n'
    '"{""ImportId"":""startDate"",""timeZone"":""America/Denver""}","{""ImportId"":""endDate""}",'
    '"{""ImportId"":""status""}","{""ImportId"":""ipAddress""}","{""ImportId"":""progress""}",'
    '"{""ImportId"":""duration""}","{""ImportId"":""finished""}","{""ImportId"":""recordedDate""}",'
    '"{""ImportId"":""_recordId""}","{""ImportId"":""recipientLastName""}","{""ImportId"":""recipientFirstName""}",'
    '"{""ImportId"":""recipientEmail""}","{""ImportId"":""externalDataReference""}",'
    '"{""ImportId"":""locationLatitude""}","{""ImportId"":""locationLongitude""}",'
    '"{""ImportId"":""distributionChannel""}","{""ImportId"":""userLanguage""}","{""ImportId"":""QID1""}",'
    '"{""ImportId"":""QID1_NPS_GROUP""}","{""ImportId"":""QID2_TEXT""}"\n'
    "2026-02-01 09:58:01,2026-02-01 10:00:12,0,1.2.3.4,100,131,1,2026-02-01 10:00:13,R_1abcDEF,,,,C-17,,,"
    "anonymous,EN,9,3,Fast delivery\n"
    "2026-02-02 11:00:00,2026-02-02 11:02:00,0,1.2.3.5,100,120,1,2026-02-02 11:02:01,R_2ghiJKL,,,,,,,"
    "anonymous,PT-BR,4,1,Demorou muito\n"
)


def test_qualtrics_export_with_its_three_header_rows():
    report = responses_import(
        data=QUALTRICS.encode(), survey_slug="q", create_survey=True, file_format="qualtrics", mapping={"Q2": "comment"}
    )
    assert report.created == 2 and not report.errors, report.lines()
    first = Response.objects.get(external_id="R_1abcDEF")
    assert (first.nps, first.comment, first.language) == (9, "Fast delivery", "en")
    assert first.submitted_at.date().isoformat() == "2026-02-01"
    assert Response.objects.get(external_id="R_2ghiJKL").language == "pt"
    assert "q1_nps_group" in report.ignored_columns and report.unknown_customer_ids == ["C-17"]


def test_surveymonkey_export_with_its_second_header_row_and_us_dates():
    data = (
        b"Respondent ID,Collector ID,Start Date,End Date,IP Address,Email Address,First Name,Last Name,"
        b"Custom Data 1,How likely is it that you would recommend us to a friend or colleague?,"
        b"Why did you give that score?\n"
        b",,,,,,,,,Response,Open-Ended Response\n"
        b"114230987654,431234567,03/04/2026 09:12:40 AM,03/04/2026 09:14:02 PM,1.2.3.4,,,,C-1,10,Love it\n"
        b"114230987655,431234567,03/05/2026 10:00:00 AM,03/05/2026 10:01:00 AM,1.2.3.5,,,,,6,\n"
    )
    report = responses_import(
        data=data,
        survey_slug="sm",
        create_survey=True,
        file_format="surveymonkey",
        mapping={
            "How likely is it that you would recommend us to a friend or colleague?": "nps",
            "Why did you give that score?": "comment",
        },
    )
    assert report.created == 2 and not report.errors, report.lines()
    first = Response.objects.get(external_id="114230987654")
    assert (first.nps, first.comment) == (10, "Love it")
    assert first.submitted_at.date().isoformat() == "2026-03-04" and first.submitted_at.hour in (20, 21, 22)


def test_typeform_export():
    data = (
        b"#,How likely are you to recommend us?,Anything else?,Start Date (UTC),Submit Date (UTC),Network ID\n"
        b"k2l8xv0a1b,8,Nice,2026-01-10 08:00:00,2026-01-10 08:01:30,3c1b2a\n"
        b"p9q7w6e5r4,2,,2026-01-11 09:00:00,2026-01-11 09:02:00,4d2c3b\n"
    )
    report = responses_import(
        data=data,
        survey_slug="tf",
        create_survey=True,
        file_format="typeform",
        mapping={"How likely are you to recommend us?": "nps", "Anything else?": "comment"},
    )
    assert report.created == 2 and not report.errors, report.lines()
    first = Response.objects.get(external_id="k2l8xv0a1b")
    assert (first.nps, first.submitted_at) == (8, datetime(2026, 1, 10, 8, 1, 30, tzinfo=UTC))


def test_formbricks_export():
    data = (
        b"No.,Response ID,Timestamp,Finished,Survey ID,Formbricks ID (internal),User ID,Tags,url,"
        b'"1. How likely are you to recommend us?","2. What could we do better?"\n'
        b"1,resp-001,2026-06-15 10:00:00,Yes,survey-1,contact-1,C-9,,https://example.com,9,Nothing\n"
        b"2,resp-002,2026-06-15 11:00:00,No,survey-1,,,,https://example.com,5,\n"
    )
    report = responses_import(
        data=data,
        survey_slug="fb",
        create_survey=True,
        file_format="formbricks",
        mapping={"1. How likely are you to recommend us?": "nps", "2. What could we do better?": "comment"},
    )
    assert report.created == 2 and not report.errors, report.lines()
    first = Response.objects.get(external_id="resp-001")
    assert (first.nps, first.comment, first.submitted_at) == (9, "Nothing", datetime(2026, 6, 15, 10, tzinfo=UTC))
    assert report.unknown_customer_ids == ["C-9"]


def test_an_unknown_format_is_refused():
    with pytest.raises(ImportFileError, match="Unknown format 'delightful'"):
        responses_import(data=b"x\n", survey_slug="s", create_survey=True, file_format="delightful")


def test_import_responses_command_takes_map_empty_and_format(tmp_path, capsys):
    path = tmp_path / "olist.csv"
    path.write_text(OLIST)
    call_command(
        "import_responses", str(path), "--survey", "olist", "--create-survey",
        "--map", "review_id=response_id", "--map", "review_score=csat", "--map", "review_comment_message=comment",
        "--map", "review_creation_date=submitted_at", "--map", "lang=language", "--empty", "common",
    )  # fmt: skip
    assert "imported: 3" in capsys.readouterr().out
    assert not Response.objects.filter(comment="NA").exists()
    with pytest.raises(CommandError, match="is not of the form SOURCE=TARGET"):
        call_command("import_responses", str(path), "--survey", "olist", "--map", "review_score")
    with pytest.raises(CommandError, match="invalid choice: 'nope'"):
        call_command("import_responses", str(path), "--survey", "olist", "--format", "nope")

from datetime import UTC, datetime

import pytest
from django.db.models import Count, Q

from customers.models import Event
from customers.tests.factories import CustomerFactory, EventFactory, SegmentFactory
from surveys.models import AttributeScore, Response, Survey
from surveys.services import ImportFileError, responses_import
from surveys.tests.factories import SurveyFactory

pytestmark = pytest.mark.django_db

WORKED_EXAMPLE = [10, 9, 9, 8, 7, 6, 3, 0, 10, 5]


def _nps(survey):
    counts = Response.objects.filter(survey=survey, nps__isnull=False).aggregate(
        n=Count("pk"), promoters=Count("pk", filter=Q(nps__gte=9)), detractors=Count("pk", filter=Q(nps__lte=6))
    )
    return round(100 * (counts["promoters"] - counts["detractors"]) / counts["n"], 1), counts["n"]


def _csv(rows, header="response_id,submitted_at,nps", sep=","):
    return (header.replace(",", sep) + "\n" + "\n".join(sep.join(map(str, r)) for r in rows) + "\n").encode()


def test_worked_example_gives_nps_zero_from_ten_responses():
    data = _csv([(f"r{i}", f"2026-03-0{1 + i % 9}", score) for i, score in enumerate(WORKED_EXAMPLE)])
    report = responses_import(data=data, survey_slug="legacy", create_survey=True)
    assert report.imported and report.created == 10 and not report.errors
    survey = Survey.objects.get(slug="legacy")
    assert survey.survey_type == "relational"
    assert list(survey.questions.values_list("kind", flat=True)) == ["nps"]
    assert _nps(survey) == (0.0, 10)


def test_reimporting_the_same_file_creates_no_duplicate():
    data = _csv([(f"r{i}", "2026-03-01", s) for i, s in enumerate(WORKED_EXAMPLE)])
    responses_import(data=data, survey_slug="legacy", create_survey=True)
    report = responses_import(data=data, survey_slug="legacy")
    assert (report.created, report.duplicates) == (0, 10)
    assert Response.objects.count() == 10


def test_one_bad_row_imports_nothing_and_lists_every_bad_row():
    data = _csv(
        [
            ("r1", "2026-03-01", 9),
            ("r2", "2026-03-01", 11),
            ("r3", "yesterday", 5),
            ("r4", "2026-03-02", "x"),
            ("r5", "2026-03-02", ""),
        ]
    )
    report = responses_import(data=data, survey_slug="legacy", create_survey=True)
    assert not report.imported
    assert [line for line, _reason in report.errors] == [3, 4, 5, 6]
    reasons = dict(report.errors)
    assert "out of range 0-10" in reasons[3]
    assert "ISO 8601" in reasons[4]
    assert "not a number" in reasons[5]
    assert "no score" in reasons[6]
    assert not Response.objects.exists() and not Survey.objects.filter(slug="legacy").exists()


def test_skip_invalid_imports_the_good_rows():
    data = _csv([("r1", "2026-03-01", 9), ("r2", "2026-03-01", -1), ("r3", "2026-03-01T10:00:00+02:00", 0)])
    report = responses_import(data=data, survey_slug="legacy", create_survey=True, skip_invalid=True)
    assert report.imported and report.created == 2 and [line for line, _ in report.errors] == [3]
    assert Response.objects.get(external_id="r3").submitted_at == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def test_unknown_survey_without_create_is_refused():
    with pytest.raises(ImportFileError):
        responses_import(data=_csv([("r1", "2026-03-01", 9)]), survey_slug="nope")


def test_missing_submitted_at_or_score_columns_are_refused():
    with pytest.raises(ImportFileError, match="submitted_at"):
        responses_import(data=b"response_id,nps\nr1,9\n", survey_slug="x", create_survey=True)
    with pytest.raises(ImportFileError, match="score"):
        responses_import(
            data=b"response_id,submitted_at,comment\nr1,2026-01-01,hi\n", survey_slug="x", create_survey=True
        )


def test_bom_semicolons_windows_1252_naive_times_in_site_zone(settings):
    settings.TIME_ZONE = "Europe/Madrid"
    text = "customer_id;submitted_at;nps;comment;language\n;2026-01-15 10:00;9;Muy buen café, señor;es\n"
    for data in ("\ufeff" + text).encode("utf-8"), text.encode("cp1252"):
        Response.objects.all().delete()
        report = responses_import(data=data, survey_slug="legacy", create_survey=True)
        assert report.created == 1, report.lines()
        response = Response.objects.get()
        assert response.comment == "Muy buen café, señor"
        assert response.language == "es"
        assert response.submitted_at == datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


def test_all_score_columns_and_attributes_in_any_order():
    data = (
        b"attr:delivery speed,overall,likelihood_repurchase,likelihood_switch,ces,csat,nps,submitted_at,response_id\n"
        b"4,5,9,1,6,4,10,2026-02-01,a1\n"
    )
    report = responses_import(data=data, survey_slug="full", create_survey=True, survey_type="transactional")
    assert report.created == 1
    response = Response.objects.get()
    assert (
        response.nps,
        response.csat,
        response.ces,
        response.likelihood_switch,
        response.likelihood_repurchase,
        response.overall,
    ) == (10, 4, 6, 1, 9, 5)
    assert response.survey_type == "transactional"
    assert list(AttributeScore.objects.values_list("attribute", "score")) == [("delivery speed", 4)]
    assert Survey.objects.get(slug="full").questions.count() == 7


def test_attribute_out_of_range_is_a_bad_row():
    data = b"submitted_at,attr:price,nps\n2026-02-01,6,9\n"
    report = responses_import(data=data, survey_slug="x", create_survey=True)
    assert report.errors == [(2, "attr:price 6 is out of range 1-5")]


def test_unknown_customers_are_anonymous_and_counted():
    known = CustomerFactory(external_id="K1")
    data = b"customer_id,submitted_at,nps\nK1,2026-02-01,9\nZZZ,2026-02-01,3\n"
    report = responses_import(data=data, survey_slug="x", create_survey=True)
    assert report.anonymous == 1 and report.unknown_customer_ids == ["ZZZ"]
    assert Response.objects.get(nps=9).customer == known
    assert Response.objects.get(nps=3).customer is None


def test_segment_snapshot_from_the_event_history():
    bronze, silver, gold = SegmentFactory(name="Bronze"), SegmentFactory(name="Silver"), SegmentFactory(name="Gold")
    moved = CustomerFactory(external_id="M", segment=gold)
    EventFactory(customer=moved, type=Event.Type.NEW, segment=bronze, occurred_at=datetime(2025, 1, 1, tzinfo=UTC))
    EventFactory(
        customer=moved,
        type=Event.Type.SEGMENT_MOVE,
        from_segment=bronze,
        to_segment=silver,
        occurred_at=datetime(2025, 6, 1, tzinfo=UTC),
    )
    EventFactory(
        customer=moved,
        type=Event.Type.SEGMENT_MOVE,
        from_segment=silver,
        to_segment=gold,
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    no_history = CustomerFactory(external_id="N", segment=silver)
    data = (
        b"response_id,customer_id,submitted_at,nps\n"
        b"1,M,2025-03-01,9\n2,M,2025-07-01,8\n3,M,2026-02-01,7\n4,N,2025-03-01,6\n"
    )
    responses_import(data=data, survey_slug="x", create_survey=True)
    segments = dict(Response.objects.values_list("external_id", "segment__name"))
    assert segments == {"1": "Bronze", "2": "Silver", "3": "Gold", "4": "Silver"}
    assert no_history.segment == silver


def test_existing_survey_keeps_its_questions_and_answers_are_keyed_like_live_ones():
    survey = SurveyFactory(slug="existing")
    from surveys.tests.factories import QuestionFactory

    nps = QuestionFactory(survey=survey, kind="nps")
    responses_import(data=_csv([("r1", "2026-03-01", 9)]), survey_slug="existing")
    assert Response.objects.get().answers[str(nps.pk)]["value"] == 9


@pytest.mark.slow
def test_a_large_file_imports_every_row_once():
    # The import's speed is measured by `make bench` (imports phase), not here.
    segment = SegmentFactory(name="Gold")
    customers = CustomerFactory.create_batch(50, segment=segment)
    lines = ["response_id,customer_id,submitted_at,nps,csat,comment,attr:price"]
    lines += [
        f"r{i},{customers[i % 50].external_id},2026-01-{1 + i % 28:02d}T10:00:00Z,{i % 11},{1 + i % 5},ok,3"
        for i in range(5_000)
    ]
    data = ("\n".join(lines) + "\n").encode()
    report = responses_import(data=data, survey_slug="big", create_survey=True)
    assert report.created == 5_000
    assert Response.objects.filter(segment=segment).count() == 5_000
    again = responses_import(data=data, survey_slug="big")
    assert again.created == 0 and Response.objects.count() == 5_000


def test_comments_with_tabs_line_breaks_backslashes_and_quotes_are_stored_as_written():
    # On PostgreSQL the rows go in with COPY, whose text format gives tab, line break and backslash a meaning.
    comment = 'Tab\there, "quoted"\nsecond line \\N not null, C:\\path\\ and ñ €'
    data = (
        "response_id,submitted_at,nps,comment,attr:price\n"
        f'r1,2026-03-01,9,"{comment.replace(chr(34), chr(34) * 2)}",4\nr2,2026-03-02,3,,\n'
    ).encode()
    report = responses_import(data=data, survey_slug="escapes", create_survey=True)
    assert report.created == 2 and not report.errors
    first, second = Response.objects.order_by("external_id")
    assert first.comment == comment and second.comment == ""
    assert [a["value"] for a in first.answers.values() if a["kind"] == "text"] == [comment]
    assert (second.nps, second.csat, second.invitation_id, second.channel) == (3, None, None, "import")
    # Each attribute row points at its own response, with the response's time.
    assert list(AttributeScore.objects.values_list("response__external_id", "attribute", "score", "submitted_at")) == [
        ("r1", "price", 4, first.submitted_at)
    ]
    # New rows after an import get fresh ids (the import drew its ids from the table's sequence).
    later = responses_import(data=_csv([("r3", "2026-03-03", 7)]), survey_slug="escapes")
    assert later.created == 1 and Response.objects.get(external_id="r3").pk > max(first.pk, second.pk)


def test_segment_snapshot_ties_and_a_move_out_of_every_segment():
    silver, gold = SegmentFactory(name="Silver"), SegmentFactory(name="Gold")
    customer = CustomerFactory(external_id="T", segment=gold)
    moment = datetime(2025, 6, 1, tzinfo=UTC)
    EventFactory(
        customer=customer, type=Event.Type.SEGMENT_MOVE, from_segment=silver, to_segment=gold, occurred_at=moment
    )
    EventFactory(
        customer=customer, type=Event.Type.SEGMENT_MOVE, from_segment=gold, to_segment=silver, occurred_at=moment
    )
    EventFactory(
        customer=customer,
        type=Event.Type.SEGMENT_MOVE,
        from_segment=silver,
        to_segment=None,
        occurred_at=datetime(2025, 9, 1, tzinfo=UTC),
    )
    data = (
        b"response_id,customer_id,submitted_at,nps\n"
        b"at,T,2025-06-01T00:00:00+00:00,9\nafter,T,2025-07-01,8\nout,T,2025-10-01,7\n"
    )
    responses_import(data=data, survey_slug="x", create_survey=True)
    segments = dict(Response.objects.values_list("external_id", "segment__name"))
    # A move at the answer's very instant is not before it; of two moves at one instant the later-stored counts.
    assert segments == {"at": "Gold", "after": "Silver", "out": None}

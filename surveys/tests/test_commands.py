import pytest
from django.core.management import CommandError, call_command

from customers.tests.factories import CustomerFactory, SegmentFactory
from surveys.models import Invitation, Response
from surveys.tests.factories import relational_survey

pytestmark = pytest.mark.django_db


def test_send_survey_segment_limit_and_dry_run(queued, capsys, django_capture_on_commit_callbacks):
    gold = SegmentFactory(name="Gold")
    CustomerFactory.create_batch(3, segment=gold)
    CustomerFactory()
    relational_survey(slug="q1")
    call_command("send_survey", "q1", "--segment", "Gold", "--dry-run")
    assert "would invite 3" in capsys.readouterr().out and not Invitation.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("send_survey", "q1", "--segment", "Gold", "--limit", "2")
    assert "invited 2, skipped 0" in capsys.readouterr().out
    assert Invitation.objects.count() == 2
    assert sum(len(args[0]) for args, _ in queued) == 2


def test_send_survey_send_now(mailoutbox):
    CustomerFactory.create_batch(2)
    relational_survey(slug="q1")
    call_command("send_survey", "q1", "--send-now")
    assert len(mailoutbox) == 2
    assert Invitation.objects.filter(status="sent").count() == 2


def test_send_survey_errors():
    with pytest.raises(CommandError, match="No survey"):
        call_command("send_survey", "nope")
    relational_survey(slug="q1")
    with pytest.raises(CommandError, match="No segment"):
        call_command("send_survey", "q1", "--segment", "Platinum")


def test_import_responses_command(tmp_path, capsys):
    good = tmp_path / "good.csv"
    good.write_text(
        "response_id;submitted_at;nps\n"
        + "".join(f"r{i};2026-03-01;{s}\n" for i, s in enumerate([10, 9, 9, 8, 7, 6, 3, 0, 10, 5])),
        encoding="utf-8",
    )
    call_command("import_responses", str(good), "--survey", "legacy", "--create-survey")
    assert Response.objects.count() == 10
    bad = tmp_path / "bad.csv"
    bad.write_text("response_id,submitted_at,nps\nx1,2026-03-01,9\nx2,not a date,9\n", encoding="utf-8")
    with pytest.raises(CommandError, match="1 bad rows"):
        call_command("import_responses", str(bad), "--survey", "legacy")
    assert "line 3: submitted_at 'not a date'" in capsys.readouterr().err
    call_command("import_responses", str(bad), "--survey", "legacy", "--skip-invalid")
    assert Response.objects.count() == 11
    with pytest.raises(CommandError, match="No survey"):
        call_command("import_responses", str(good), "--survey", "other")

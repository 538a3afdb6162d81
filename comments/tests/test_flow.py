"""New comments are followed by the sweep, idempotently; the commands analyse what is missing or all."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from comments.models import CommentAnalysis, CommentTheme, Theme
from comments.services import comments_analyse, comments_analyse_pending, theme_term_add
from comments.tasks import comments_sweep_task
from surveys.tests.factories import ResponseFactory

pytestmark = pytest.mark.django_db


def test_sweep_analyses_new_comments_once_with_the_matched_words():
    first = ResponseFactory(comment="Entregas muy atrasadas, pésimo.", language="es", nps=2)
    ResponseFactory(comment="", nps=9)  # no comment: nothing to analyse

    assert comments_sweep_task() == 1
    analysis = CommentAnalysis.objects.get(response=first)
    assert (analysis.language, analysis.sentiment, analysis.sentiment_from_score) == ("es", "negative", True)
    link = CommentTheme.objects.get(analysis=analysis, theme__name="Delivery")
    assert link.matched == ["Entregas", "muy", "atrasadas"]

    second = ResponseFactory(comment="Great app, easy to use", nps=None)
    assert comments_analyse_pending() == 1
    assert comments_analyse_pending() == 0
    assert CommentAnalysis.objects.get(response=second).sentiment_from_score is False
    assert CommentAnalysis.objects.count() == 2


def test_reanalysis_replaces_and_stamps_the_taxonomy_version():
    response = ResponseFactory(comment="The courier lost my parcel", nps=3)
    comments_analyse(response_ids=[response.pk])
    version = CommentAnalysis.objects.get().taxonomy_version
    theme_term_add(theme=Theme.objects.get(name="Support and service"), language="en", term="lost my parcel")

    call_command("comments_analyse", "--all")

    analysis = CommentAnalysis.objects.get()
    assert analysis.taxonomy_version == version + 1
    names = set(analysis.theme_links.values_list("theme__name", flat=True))
    assert {"Delivery", "Support and service"} <= names
    assert CommentAnalysis.objects.count() == 1


def test_missing_command_takes_rows_the_cursor_passed():
    ResponseFactory(comment="Friendly staff", nps=9)
    call_command("comments_analyse", "--missing")
    assert CommentAnalysis.objects.count() == 1


def test_a_bad_term_is_refused():
    from comments.analysis import AnalysisError

    theme = Theme.objects.get(name="Delivery")
    with pytest.raises(AnalysisError, match="language"):
        theme_term_add(theme=theme, language="de", term="Lieferung")
    with pytest.raises(AnalysisError, match="no words"):
        theme_term_add(theme=theme, language="en", term="  ?? ")


def test_worker_processes_give_the_same_analyses_as_one_process():
    for text in ("Entrega atrasada", "Friendly staff", "Livraison rapide", "Atendimento péssimo", "ok"):
        ResponseFactory(comment=text, nps=5)
    call_command("comments_analyse", "--all")
    one = sorted(CommentAnalysis.objects.values_list("response_id", "language", "sentiment"))
    links = sorted(CommentTheme.objects.values_list("analysis__response_id", "theme_id", "matched"))
    call_command("comments_analyse", "--all", "--processes", "2")
    assert sorted(CommentAnalysis.objects.values_list("response_id", "language", "sentiment")) == one
    assert sorted(CommentTheme.objects.values_list("analysis__response_id", "theme_id", "matched")) == links


def test_processes_below_one_are_refused():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="at least 1"):
        call_command("comments_analyse", "--processes", "0")


def test_beat_sweeps_new_comments_well_within_a_minute(settings):
    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["comments.tasks.comments_sweep_task"] <= 20
    assert "comments.tasks.comments_catch_up_task" in schedule and "comments.tasks.comments_suggest_task" in schedule

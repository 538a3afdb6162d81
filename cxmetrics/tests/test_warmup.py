"""The start-up warm-up: it compiles the survey pages' templates and opens no database connection (it
runs in gunicorn's master with --preload, before the fork)."""

import pytest
from django.template import engines

from cxmetrics.warmup import TEMPLATES, warm_up


def test_warm_up_compiles_the_survey_templates_without_touching_the_database(django_db_blocker):
    # No django_db mark, and the blocker held: any query or connection attempt would raise here.
    with django_db_blocker.block():
        compiled = warm_up()
    assert "surveys/answer.html" in compiled and "base.html" in compiled
    assert set(compiled) <= set(TEMPLATES)
    loader = engines["django"].engine.template_loaders[0]
    cached = getattr(loader, "get_template_cache", {})
    assert cached and "surveys/answer.html" in cached


def test_the_blocker_would_catch_a_query(django_db_blocker):
    from django.db import connection

    with django_db_blocker.block(), pytest.raises(RuntimeError):
        connection.cursor().execute("SELECT 1")

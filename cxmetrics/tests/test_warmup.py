"""The start-up warm-up: it compiles the survey pages' templates and opens no database connection (it
runs in gunicorn's master with --preload, before the fork)."""

from django.db import connections
from django.template import engines

from cxmetrics.warmup import TEMPLATES, warm_up


def test_warm_up_compiles_the_survey_templates_without_touching_the_database():
    for connection in connections.all():
        connection.close()
    compiled = warm_up()
    assert "surveys/answer.html" in compiled and "base.html" in compiled
    assert set(compiled) <= set(TEMPLATES)
    assert all(connection.connection is None for connection in connections.all())
    loader = engines["django"].engine.template_loaders[0]
    cached = getattr(loader, "get_template_cache", {})
    assert cached and "surveys/answer.html" in cached

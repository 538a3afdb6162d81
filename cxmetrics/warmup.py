"""Work every web process would otherwise do on its first requests, done once when it starts.

A fresh gunicorn worker imported the URLconf (and with it every view module: pandas and Plotly for
the dashboards), compiled its templates and loaded the translation catalogues while its first
customers waited: under load, the first requests to each new worker took one to three seconds.
``warm_up()`` does that work at start-up. It opens no database connection, so it is safe in a
gunicorn master with ``--preload``, whose workers then start with all of it already in memory.
"""

from __future__ import annotations

from django.conf import settings
from django.template import TemplateDoesNotExist, engines
from django.urls import get_resolver
from django.utils import translation

# The pages a customer opens from a survey link, and the dashboards' frame.
TEMPLATES = (
    "surveys/answer.html", "surveys/_questions.html", "surveys/thanks.html", "surveys/already_answered.html",
    "surveys/closed.html", "surveys/rate_limited.html", "surveys/unsubscribe.html", "surveys/unsubscribed.html",
    "base.html", "404.html",
)  # fmt: skip


def warm_up() -> list[str]:
    """Import every view, compile the templates above and load each language's catalogue. Returns the
    templates compiled (a name missing from this deployment is skipped, not an error)."""
    get_resolver().url_patterns  # noqa: B018 - the import of every urls and views module is the point
    compiled = []
    engine = engines["django"]
    for name in TEMPLATES:
        try:
            engine.get_template(name)  # the cached loader keeps it for the life of the process
        except TemplateDoesNotExist:
            continue
        compiled.append(name)
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            translation.gettext("Thank you")
    return compiled

"""Reads of the dashboard pages that are lists or page furniture, not metrics."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import get_language

from core.definitions import nps_scores
from customers.models import Customer
from customers.selectors import segment_names
from metrics.filters import MetricFilters
from metrics.survey import filtered_responses
from surveys.models import Question, Response, Survey


def has_any_data() -> bool:
    """Whether there is anything to show at all (one cheap query): the "No data yet" state."""
    return Customer.objects.exists() or Response.objects.exists()


def filter_choices() -> dict[str, list[tuple[str, str]]]:
    """The options of the filter bar's segment and survey selects."""
    return {
        "segments": [(name, name) for name in segment_names()],
        "surveys": [(survey.slug, survey_label(survey)) for survey in Survey.objects.order_by("name")],
    }


def survey_label(survey: Survey) -> str:
    """A survey as managers see it on the dashboards: its title in the page's language, else its name."""
    return survey.text("title", (get_language() or "en")[:2]) or survey.name


def asked_questions(*, filters: MetricFilters) -> set[str]:
    """The question kinds the surveys that the filters select ask (a CES-only survey asks no NPS)."""
    surveys = Survey.objects.all()
    if filters.survey:
        surveys = surveys.filter(slug=filters.survey)
    for name in ("survey_type", "touchpoint"):
        if getattr(filters, name):
            surveys = surveys.filter(**{name: getattr(filters, name)})
    return set(Question.objects.filter(survey__in=surveys).values_list("kind", flat=True).distinct())


def survey_comments(*, filters: MetricFilters, category: str | None = None, q: str = "") -> QuerySet[Response]:
    """The responses with a comment that match the filters, latest first; optionally only one NPS
    category and comments containing ``q``. Lazy: the page slices it."""
    qs = filtered_responses(filters=filters).exclude(comment="")
    if category:
        qs = qs.filter(nps__in=nps_scores(category))
    if q:
        qs = qs.filter(comment__icontains=q)
    return (
        qs.select_related("segment")
        .only("comment", "nps", "csat", "ces", "language", "submitted_at", "segment__name", "survey_type")
        .order_by("-submitted_at", "-pk")
    )


# The comments export: the customer by the CRM's id, the survey by name.
COMMENT_COLUMNS = {
    "submitted_at": "submitted_at",
    "customer_id": "customer__external_id",
    "customer": "customer__name",
    "survey": "survey__name",
    "survey_type": "survey_type",
    "segment": "segment__name",
    "nps": "nps",
    "csat": "csat",
    "ces": "ces",
    "language": "language",
    "comment": "comment",
}


def comment_rows(*, filters: MetricFilters, category: str | None = None, q: str = ""):
    """The comments of ``survey_comments`` as rows of COMMENT_COLUMNS, read in chunks."""
    qs = survey_comments(filters=filters, category=category, q=q)
    return qs.values_list(*COMMENT_COLUMNS.values()).iterator(chunk_size=2000)

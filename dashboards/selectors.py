from __future__ import annotations

from django.db.models import QuerySet

from crm_sync.models import Customer, Event, Segment
from surveys.models import Response, Survey

from .filters import MetricFilters
from .metrics.survey import COMMENT_CATEGORIES as COMMENT_CATEGORIES  # the page reads it here
from .metrics.survey import comment_filter, filtered_responses


def data_totals() -> dict[str, int]:
    """How much data the product holds: the empty state and the overview header use it."""
    return {
        "customers": Customer.objects.count(),
        "active_customers": Customer.objects.filter(status=Customer.Status.ACTIVE).count(),
        "events": Event.objects.count(),
        "surveys": Survey.objects.count(),
        "responses": Response.objects.count(),
    }


def has_any_data() -> bool:
    """Whether there is anything to show at all (one cheap query): the "No data yet" state."""
    return Customer.objects.exists() or Response.objects.exists()


def filter_choices() -> dict[str, list[tuple[str, str]]]:
    """The options of the filter bar's segment and survey selects."""
    return {
        "segments": [(name, name) for name in Segment.objects.order_by("-rank").values_list("name", flat=True)],
        "surveys": list(Survey.objects.order_by("name").values_list("slug", "name")),
    }


def survey_comments(*, filters: MetricFilters, category: str | None = None, q: str = "") -> QuerySet[Response]:
    """The responses with a comment that match the filters, latest first; optionally only one NPS
    category and comments containing ``q``. Lazy: the page slices it (25 per page)."""
    qs = filtered_responses(filters=filters).filter(comment_filter(category or ""))
    if q:
        qs = qs.filter(comment__icontains=q)
    return (
        qs.select_related("segment")
        .only("comment", "nps", "csat", "ces", "language", "submitted_at", "segment__name", "survey_type")
        .order_by("-submitted_at", "-pk")
    )

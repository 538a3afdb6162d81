"""Reads of the dashboard pages that are lists or page furniture, not metrics."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, FloatField, JSONField, OuterRef, Q, QuerySet, Subquery, Value
from django.utils.translation import get_language

from churn.selectors import with_risk
from core.definitions import NO_RESPONSE, churn_risk_range, nps_scores
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


# --- the responses explorer ----------------------------------------------------------------------

EXPLORER_PAGE_SIZE = 50
BAND_QUESTIONS = ("nps", "csat", "ces")


def explorer_responses(
    *,
    filters: MetricFilters,
    category: str | None = None,
    bands: dict[str, tuple[int | None, int | None]] | None = None,
    has_comment: bool | None = None,
    q: str = "",
    theme: int | None = None,
) -> QuerySet[Response]:
    """The responses that match the dashboard filters and the explorer's own (an NPS category, a
    min/max band per score, with or without a comment, a text in the comment), newest first with the
    id breaking ties, the order the keyset pages walk."""
    qs = filtered_responses(filters=filters)
    if category:
        qs = qs.filter(nps__in=nps_scores(category))
    for question, (low, high) in (bands or {}).items():
        if low is not None:
            qs = qs.filter(**{f"{question}__gte": low})
        if high is not None:
            qs = qs.filter(**{f"{question}__lte": high})
    if has_comment is True:
        qs = qs.exclude(comment="")
    elif has_comment is False:
        qs = qs.filter(comment="")
    if q:
        qs = qs.filter(comment__icontains=q)
    if theme is not None:
        qs = qs.filter(comment_analysis__theme_links__theme_id=theme)  # unique per theme: no duplicate rows
    return qs.order_by("-submitted_at", "-pk")


RESPONSE_ROW_FIELDS = (
    *("submitted_at", "nps", "csat", "ces", "comment", "language", "survey_type", "touchpoint", "audience"),
    "channel",
)


def explorer_rows(**kwargs) -> QuerySet[Response]:
    """``explorer_responses`` with what a row of the explorer shows, in one query."""
    return explorer_responses(**kwargs).select_related("survey", "segment", "customer__connection").only(
        *RESPONSE_ROW_FIELDS,
        *(f"survey__{field}" for field in ("name", "slug", "title_en", "title_es")),
        "segment__name", "customer__name", "customer__external_id", "customer__erased_at", "customer__connection__name",
    )  # fmt: skip


def explorer_csv_rows(**kwargs):
    """The explorer's rows as COMMENT_COLUMNS (the comments export's columns), read in chunks."""
    return explorer_responses(**kwargs).values_list(*COMMENT_COLUMNS.values()).iterator(chunk_size=2000)


@dataclass(frozen=True)
class Cursor:
    """A place in the newest-first list: the row at (submitted_at, pk), and which way to read from it
    (``older``: the rows after it; else the rows before it). Its token is opaque to clients."""

    submitted_at: datetime
    pk: int
    older: bool = True

    def token(self) -> str:
        text = f"{'o' if self.older else 'n'}|{self.submitted_at.isoformat()}|{self.pk}"
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def parse(cls, token: str) -> Cursor:
        """The cursor of a token; ValueError when it is not one this module wrote."""
        try:
            text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            way, at, pk = text.split("|")
            submitted_at = datetime.fromisoformat(at)
            if way not in ("o", "n") or submitted_at.tzinfo is None:
                raise ValueError(text)
            return cls(submitted_at=submitted_at, pk=int(pk), older=way == "o")
        except (ValueError, UnicodeDecodeError, binascii.Error) as error:
            raise ValueError(f"Not a page cursor: {token!r}.") from error


@dataclass(frozen=True)
class KeysetPage:
    rows: list
    newer: Cursor | None  # the cursor of the page before (newer rows), None on the first page
    older: Cursor | None  # the cursor of the next page (older rows), None on the last page


def keyset_page(qs: QuerySet, *, cursor: Cursor | None, size: int = EXPLORER_PAGE_SIZE) -> KeysetPage:
    """One page of ``qs`` (ordered newest first by submitted_at, then pk) after or before ``cursor``:
    one query of ``size + 1`` rows whatever the depth, where OFFSET would read every row before it.
    The redundant ``submitted_at <=``/``>=`` bound lets the database range-scan its submitted_at index."""
    if cursor is None:
        rows = list(qs[: size + 1])
        has_newer, has_older = False, len(rows) > size
        rows = rows[:size]
    elif cursor.older:
        at, pk = cursor.submitted_at, cursor.pk
        rows = list(qs.filter(Q(submitted_at__lte=at), Q(submitted_at__lt=at) | Q(pk__lt=pk))[: size + 1])
        has_newer, has_older = True, len(rows) > size
        rows = rows[:size]
    else:
        at, pk = cursor.submitted_at, cursor.pk
        ahead = qs.filter(Q(submitted_at__gte=at), Q(submitted_at__gt=at) | Q(pk__gt=pk))
        rows = list(ahead.order_by("submitted_at", "pk")[: size + 1])
        has_newer, has_older = len(rows) > size, True
        rows = rows[:size][::-1]
    return KeysetPage(
        rows=rows,
        newer=Cursor(rows[0].submitted_at, rows[0].pk, older=False) if rows and has_newer else None,
        older=Cursor(rows[-1].submitted_at, rows[-1].pk, older=True) if rows and has_older else None,
    )


def customer_responses(*, customer_id: int) -> list[Response]:
    """Every response of one customer, newest first, with the survey (one query)."""
    return list(
        Response.objects.filter(customer_id=customer_id)
        .select_related("survey", "segment")
        .order_by("-submitted_at", "-pk")
    )


# --- the customer list ------------------------------------------------------------------------------

# Sort keys of the customer list and the column each orders by; numbers sort largest first unless asked.
CUSTOMER_SORTS = {
    "value": "value",
    "risk": "risk",
    "value_risk": "value_risk",
    "nps": "latest_nps",
    "name": "name",
}
CUSTOMER_LIST_FIELDS = (
    "pk",
    "external_id",
    "name",
    "erased_at",
    "segment__name",
    "status",
    "value",
    "latest_nps",
    "last_answer_at",
    "risk",
    "value_risk",
    "risk_features",
)


def customer_list(
    *,
    run=None,
    within: QuerySet | None = None,
    q: str = "",
    segment: str = "",
    category: str = "",
    status: str = "",
    risk_band: str = "",
    sort: str = "value",
    descending: bool = True,
) -> QuerySet:
    """The customers matching a search (name, CRM id or email contains ``q``, any case) and the filters,
    as dicts of CUSTOMER_LIST_FIELDS in the order asked for, ties by id: one query however many rows.
    ``run``: the churn-risk run whose scores to show (None: no model, no risk); ``within``: the
    customer ids the user may see (None: all). The latest NPS is the customer's latest NPS answer, the
    last answer their latest response of any kind. Lazy: the page slices it, the CSV streams it."""
    # By time alone, which the (customer, submitted_at) index with its included scores answers by itself.
    answers = Response.objects.filter(customer=OuterRef("pk")).order_by("-submitted_at")
    qs = Customer.objects.annotate(
        latest_nps=Subquery(answers.filter(nps__isnull=False).values("nps")[:1]),
        last_answer_at=Subquery(answers.values("submitted_at")[:1]),
    )
    if run is not None:
        qs = with_risk(qs, run=run)
    else:
        qs = qs.annotate(
            risk=Value(None, output_field=FloatField()),
            value_risk=Value(None, output_field=FloatField()),
            risk_features=Value(None, output_field=JSONField()),
        )
    if within is not None:
        qs = qs.filter(pk__in=within)
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(external_id__icontains=q) | Q(email__icontains=q))
    if segment:
        qs = qs.filter(segment__name=segment)
    if category == NO_RESPONSE:
        qs = qs.filter(latest_nps__isnull=True)
    elif category:
        scores = nps_scores(category)
        qs = qs.filter(latest_nps__gte=scores.start, latest_nps__lt=scores.stop)
    if status:
        qs = qs.filter(status=status)
    if risk_band and run is not None:
        low, high = churn_risk_range(risk_band)
        qs = qs.filter(risk__isnull=False)
        if low is not None:
            qs = qs.filter(risk__gte=low)
        if high is not None:
            qs = qs.filter(risk__lt=high)
    tie = F("pk").desc() if descending else F("pk").asc()
    if run is None and sort in ("risk", "value_risk"):
        # No model, no risk: every row ties (and PostgreSQL refuses to order by a constant).
        return qs.order_by(tie).values(*CUSTOMER_LIST_FIELDS)
    column = F(CUSTOMER_SORTS[sort])
    # value and name are never empty: a plain order, which the value index serves.
    nulls = {} if sort in ("value", "name") else {"nulls_last": True}
    order = column.desc(**nulls) if descending else column.asc(**nulls)
    return qs.order_by(order, tie).values(*CUSTOMER_LIST_FIELDS)

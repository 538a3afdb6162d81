"""Reads for the Cases pages and the API."""

from __future__ import annotations

from datetime import datetime

from django.db.models import BooleanField, ExpressionWrapper, F, Q, QuerySet
from django.utils import timezone

from followup.access import cases_visible
from followup.models import Case

VIEWS = ("mine", "team", "overdue", "all")
SORTS = {
    "due": (F("due_at").asc(nulls_last=True), "pk"),
    "-due": (F("due_at").desc(nulls_last=True), "-pk"),
    "value": (F("customer__value").asc(), "pk"),
    "-value": (F("customer__value").desc(), "-pk"),
    "-opened": ("-created_at", "-pk"),
}


LIST_COLUMNS = (
    "status",
    "outcome",
    "priority",
    "created_at",
    "due_at",
    "closed_at",
    "customer__name",
    "customer__external_id",
    "customer__value",
    "customer__erased_at",
    "owner__username",
)


def cases_list(*, user, view: str = "mine", sort: str = "due", now: datetime | None = None) -> QuerySet[Case]:
    """The cases ``user`` may see: ``mine`` (open, assigned to them), ``team`` (every open case),
    ``overdue`` (open past due), ``all`` (closed ones too)."""
    if view not in VIEWS:
        raise ValueError(f"Unknown view {view!r}: one of {', '.join(VIEWS)}.")
    if sort not in SORTS:
        raise ValueError(f"Unknown sort {sort!r}: one of {', '.join(SORTS)}.")
    now = now or timezone.now()
    cases = cases_visible(user)
    if view != "all":
        cases = cases.exclude(status=Case.Status.CLOSED)
    if view == "mine":
        cases = cases.filter(owner=user)
    elif view == "overdue":
        cases = cases.filter(due_at__lt=now)
    # Only the columns the list shows: sorting narrow rows is what keeps a 50 000-case list fast.
    overdue = ExpressionWrapper(Q(due_at__lt=now) & ~Q(status=Case.Status.CLOSED), output_field=BooleanField())
    return (
        cases.select_related("customer", "owner").only(*LIST_COLUMNS).annotate(overdue=overdue).order_by(*SORTS[sort])
    )


def case_detail(*, user, pk: int) -> Case | None:
    return (
        cases_visible(user)
        .select_related("customer__connection", "customer__segment", "response__survey", "owner", "opened_by_rule")
        .filter(pk=pk)
        .first()
    )


def case_timeline(*, case: Case):
    return case.notes.select_related("author").all()


def customer_cases(*, customer_id: int, user) -> QuerySet[Case]:
    return cases_visible(user).filter(customer_id=customer_id).select_related("owner").order_by("-created_at")

"""Closing the loop (shared/METRICS.md "Closing the loop"): the cases' counts, times and SLA breaches,
the loop-closure rate of detractor answers and the loop outcome. Rates and differences are percentages
(points), unrounded, as in the metrics document.

The case figures count every case (a case belongs to a customer, not to a survey or a touchpoint); the
loop-closure rate and the loop outcome start from the answers, so every filter applies to them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, Exists, F, OuterRef, Q

from core.definitions import LOOP_CONTACT_DAYS, LOOP_OUTCOME_CHURN_DAYS, LOOP_OUTCOME_MIN_GROUP, nps_scores
from customers.models import Event
from followup.models import Case, CaseNote

from .filters import MetricFilters
from .read import kept, kept_until_refresh
from .stats import median_hours, rate_change
from .survey import filtered_responses


@dataclass(frozen=True)
class CaseFigures:
    opened: int  # created in the period
    closed: int  # closed in the period
    open_at_end: int  # open at the end of the period's last day
    hours_to_first_contact: float | None  # median over cases closed in the period that had a contact
    hours_to_close: float | None  # median over cases closed in the period
    sla_breaches: int  # closed in the period after their due time + open past due at the end
    sla_base: int  # closed in the period + open past due at the end
    sla_breach_rate: float | None  # %

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def case_figures(*, filters: MetricFilters) -> CaseFigures:
    start, end = filters.period()
    cases = Case.objects.all()
    counts = cases.aggregate(
        opened=Count("pk", filter=Q(created_at__gte=start, created_at__lt=end)),
        closed=Count("pk", filter=Q(closed_at__gte=start, closed_at__lt=end)),
        open_at_end=Count("pk", filter=Q(created_at__lt=end) & (Q(closed_at__isnull=True) | Q(closed_at__gte=end))),
        closed_late=Count("pk", filter=Q(closed_at__gte=start, closed_at__lt=end, closed_at__gt=F("due_at"))),
        open_past_due=Count(
            "pk",
            filter=Q(created_at__lt=end, due_at__lt=end) & (Q(closed_at__isnull=True) | Q(closed_at__gte=end)),
        ),
    )
    closed = cases.filter(closed_at__gte=start, closed_at__lt=end)
    breaches = counts["closed_late"] + counts["open_past_due"]
    base = counts["closed"] + counts["open_past_due"]
    to_contact, _contacted = median_hours(closed, start="created_at", end="first_contact_at")
    to_close, _n = median_hours(closed, start="created_at", end="closed_at")
    return CaseFigures(
        opened=counts["opened"],
        closed=counts["closed"],
        open_at_end=counts["open_at_end"],
        hours_to_first_contact=to_contact,
        hours_to_close=to_close,
        sla_breaches=breaches,
        sla_base=base,
        sla_breach_rate=100 * breaches / base if base else None,
    )


def _detractor_answers(filters: MetricFilters):
    return filtered_responses(filters=filters).filter(nps__in=list(nps_scores("detractor")), customer__isnull=False)


@dataclass(frozen=True)
class LoopClosure:
    detractor_answers: int
    closed_contacted: int  # whose case was closed "contacted" within LOOP_CONTACT_DAYS of the answer
    rate: float | None

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _latest_case_change() -> int | None:
    """The newest timeline entry: every change to a case writes one, so a figure read from the cases
    and kept under this key is computed again after any of them."""
    return kept("latest-case-change", lambda: CaseNote.objects.order_by("-pk").values_list("pk", flat=True).first())


def loop_closure_rate(*, filters: MetricFilters) -> LoopClosure:
    """Detractor answers of the period whose case was closed ``contacted`` within LOOP_CONTACT_DAYS of
    the answer. Kept until the read model's next refresh or the next change to a case, like the loop
    outcome: it looks for a case of every detractor answer of the period."""
    return kept_until_refresh(f"loop-closure:{_latest_case_change()}", filters, lambda: _loop_closure_rate(filters))


def _loop_closure_rate(filters: MetricFilters) -> LoopClosure:
    closed_in_time = Case.objects.filter(
        response=OuterRef("pk"),
        outcome=Case.Outcome.CONTACTED,
        closed_at__lte=OuterRef("submitted_at") + timedelta(days=LOOP_CONTACT_DAYS),
    )
    counts = _detractor_answers(filters).aggregate(n=Count("pk"), closed=Count("pk", filter=Q(Exists(closed_in_time))))
    n, closed = counts["n"], counts["closed"]
    return LoopClosure(detractor_answers=n, closed_contacted=closed, rate=100 * closed / n if n else None)


@dataclass(frozen=True)
class LoopOutcome:
    contacted: int  # customers contacted within LOOP_CONTACT_DAYS of their detractor answer
    contacted_churned: int
    others: int
    others_churned: int
    contacted_churn_rate: float | None  # %
    others_churn_rate: float | None  # %
    difference: float | None  # contacted − others, percentage points; None: "no data"
    ci_low: float | None
    ci_high: float | None
    no_data: bool  # a group has fewer than LOOP_OUTCOME_MIN_GROUP customers
    label: str = "association, not proof of effect"

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def loop_outcome(*, filters: MetricFilters) -> LoopOutcome:
    """Each customer counts once, from their first detractor answer in the period. Contacted: one of their
    cases was closed ``contacted`` with its first contact within LOOP_CONTACT_DAYS after that answer.
    Churned: a ``lost`` event within LOOP_OUTCOME_CHURN_DAYS after the answer. Kept until the read
    model's next refresh, or the next change to a case (every change writes a timeline entry): it reads
    every detractor answer of the period with its cases and losses."""
    return kept_until_refresh(f"loop-outcome:{_latest_case_change()}", filters, lambda: _loop_outcome(filters))


def _loop_outcome(filters: MetricFilters) -> LoopOutcome:
    answers = _detractor_answers(filters)
    earlier = answers.filter(customer=OuterRef("customer")).filter(
        Q(submitted_at__lt=OuterRef("submitted_at")) | Q(submitted_at=OuterRef("submitted_at"), pk__lt=OuterRef("pk"))
    )
    contacted = Case.objects.filter(
        customer=OuterRef("customer"),
        outcome=Case.Outcome.CONTACTED,
        first_contact_at__gte=OuterRef("submitted_at"),
        first_contact_at__lte=OuterRef("submitted_at") + timedelta(days=LOOP_CONTACT_DAYS),
    )
    churned = Event.objects.filter(
        customer=OuterRef("customer"),
        type=Event.Type.LOST,
        occurred_at__gt=OuterRef("submitted_at"),
        occurred_at__lte=OuterRef("submitted_at") + timedelta(days=LOOP_OUTCOME_CHURN_DAYS),
    )
    # Grouped by the two flags (at most four rows): each EXISTS is evaluated once per answer, where
    # filtered counts would repeat it in every count.
    groups = {
        (row["contacted"], row["churned"]): row["n"]
        for row in answers.filter(~Exists(earlier))
        .annotate(contacted=Exists(contacted), churned=Exists(churned))
        .values("contacted", "churned")
        .annotate(n=Count("pk"))
        .order_by()
    }
    x1, x2 = groups.get((True, True), 0), groups.get((False, True), 0)
    n1, n2 = x1 + groups.get((True, False), 0), x2 + groups.get((False, False), 0)
    rate1 = 100 * x1 / n1 if n1 else None
    rate2 = 100 * x2 / n2 if n2 else None
    if n1 < LOOP_OUTCOME_MIN_GROUP or n2 < LOOP_OUTCOME_MIN_GROUP:
        return LoopOutcome(n1, x1, n2, x2, rate1, rate2, None, None, None, True)
    change = rate_change(x1, n1, x2, n2)
    return LoopOutcome(n1, x1, n2, x2, rate1, rate2, change.change, change.low, change.high, False)


def loop_figures(*, filters: MetricFilters) -> dict:
    """Every closing-the-loop figure of the period, for the Follow-up page, the API document and the
    ``metrics`` command."""
    return {
        "cases": case_figures(filters=filters).as_dict(),
        "loop_closure": loop_closure_rate(filters=filters).as_dict(),
        "loop_outcome": loop_outcome(filters=filters).as_dict(),
    }


def loop_csv_rows(*, filters: MetricFilters) -> list[dict]:
    """The figures as rows (figure, value, n) for the Follow-up page's CSV: one row per figure, with the
    count it rests on."""
    cases = case_figures(filters=filters)
    closure = loop_closure_rate(filters=filters)
    outcome = loop_outcome(filters=filters)
    return [
        {"figure": "cases_opened", "value": cases.opened, "n": cases.opened},
        {"figure": "cases_closed", "value": cases.closed, "n": cases.closed},
        {"figure": "cases_open_at_end", "value": cases.open_at_end, "n": cases.open_at_end},
        {"figure": "median_hours_to_first_contact", "value": cases.hours_to_first_contact, "n": cases.closed},
        {"figure": "median_hours_to_close", "value": cases.hours_to_close, "n": cases.closed},
        {"figure": "sla_breach_rate", "value": cases.sla_breach_rate, "n": cases.sla_base},
        {"figure": "loop_closure_rate", "value": closure.rate, "n": closure.detractor_answers},
        {"figure": "churn_rate_contacted", "value": outcome.contacted_churn_rate, "n": outcome.contacted},
        {"figure": "churn_rate_others", "value": outcome.others_churn_rate, "n": outcome.others},
        {"figure": "churn_difference_points", "value": outcome.difference, "n": outcome.contacted + outcome.others},
        {"figure": "churn_difference_ci_low", "value": outcome.ci_low, "n": outcome.contacted + outcome.others},
        {"figure": "churn_difference_ci_high", "value": outcome.ci_high, "n": outcome.contacted + outcome.others},
    ]

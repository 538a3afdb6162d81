"""Each fact the figures are computed from, declared once: its raw rows and their day, the rollup table
that holds them per day, the dimensions the filters select on, the keys it is counted by, its measures,
and which recorded changes make a rolled-up day stale. ``metrics.read`` reads any of them the same way;
``metrics.refresh`` rolls them up the same way."""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import reduce

from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    DateTimeField,
    DecimalField,
    Exists,
    Expression,
    ExpressionWrapper,
    F,
    IntegerField,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce

from comments.models import CommentAnalysis, CommentTheme
from complaints.models import Complaint
from core.definitions import (
    ADVOCACY_COMPONENTS,
    ADVOCACY_MIN_COMPONENTS,
    CATEGORY_WINDOW_DAYS,
    INCIDENT_CES_MAX,
    INCIDENT_CSAT_MAX,
    INCIDENT_EVENT_TYPES,
    INCIDENT_WINDOW_DAYS,
    LINKED_QUESTIONS,
    NO_RESPONSE,
    PASSIVE_MIN,
    PROMOTER_MIN,
    SCORE_QUESTIONS,
)
from core.models import Change
from customers.models import Event
from surveys.models import AttributeScore, Invitation, Response

from .filters import MetricFilters
from .models import (
    AdvocacyDaily,
    AttributeDaily,
    CommentDaily,
    EventDaily,
    InvitationDaily,
    PairDaily,
    ScoreDaily,
    ThemeDaily,
)

# EventDaily.flags of a lost event: what was found in the incident window before it. From the customer's
# own answers: a detractor answer, an answer reporting an incident (FLAG_INCIDENT); and a complaint they
# logged, an operational incident event (return, claim, invoice correction).
FLAG_DETRACTOR, FLAG_INCIDENT, FLAG_COMPLAINT, FLAG_OPERATIONAL = 2, 1, 4, 8


@dataclass(frozen=True)
class Part:
    """One way a raw row counts in the rollup: with these key values, when ``where`` holds. A key
    given as None is the raw row's field of the same name."""

    keys: dict[str, Expression | None]
    where: Q = field(default_factory=Q)


@dataclass(frozen=True)
class Fact:
    name: str
    model: type[Model]
    source: Callable[[], QuerySet]
    moment: str  # the raw rows' time; its site-time date is the rollup's day
    dimensions: dict[str, str]  # rollup column -> raw lookup
    parts: tuple[Part, ...]
    measures: dict[str, Callable[[], Expression]]  # rollup column -> raw aggregate; the rollup sums it
    where: Callable[[MetricFilters, bool], Q]  # the filters, on the rollup (True) or the raw rows
    changed_by: dict[str, tuple[int, int]]  # change kind -> first and last day after it that it changes

    @property
    def keys(self) -> list[str]:
        return list(self.parts[0].keys)

    def stale_days(self, kind: str, day) -> list:
        low, high = self.changed_by[kind]
        return [day + timedelta(days=offset) for offset in range(low, high + 1)]


# --- how an answer is counted ---------------------------------------------------------------------


def nps_category_of(score: str) -> Case:
    """The NPS category (core.definitions) of an NPS column or annotation, in SQL."""
    return Case(
        When(**{f"{score}__gte": PROMOTER_MIN}, then=Value("promoter")),
        When(**{f"{score}__gte": PASSIVE_MIN}, then=Value("passive")),
        When(**{f"{score}__isnull": False}, then=Value("detractor")),
        default=Value(NO_RESPONSE),
        output_field=CharField(),
    )


def _before(moment, days: int) -> ExpressionWrapper:
    return ExpressionWrapper(moment - timedelta(days=days), output_field=DateTimeField())


def nps_category_at(moment, *, customer: str = "pk") -> Coalesce:
    """The customer's NPS category at ``moment`` (an OuterRef of the outer row): from their latest NPS
    answer within the category window before it, otherwise no_response."""
    latest = (
        Response.objects.filter(
            customer=OuterRef(customer),
            nps__isnull=False,
            submitted_at__lt=moment,
            submitted_at__gte=_before(moment, CATEGORY_WINDOW_DAYS),
        )
        .order_by("-submitted_at", "-pk")
        .annotate(category=nps_category_of("nps"))
        .values("category")[:1]
    )
    return Coalesce(Subquery(latest), Value(NO_RESPONSE), output_field=CharField())


def lost_flags() -> Expression:
    """For a lost event, the sum of what the customer had in the incident window before the loss:
    FLAG_DETRACTOR for a detractor answer, FLAG_INCIDENT for an answer reporting an incident (CES or
    CSAT at or below its threshold), FLAG_COMPLAINT for a complaint logged (not an inquiry),
    FLAG_OPERATIONAL for an operational incident event. Only their own answers, complaints and events
    count."""
    moment = OuterRef("occurred_at")
    since = _before(moment, INCIDENT_WINDOW_DAYS)
    before = Response.objects.filter(customer=OuterRef("customer"), submitted_at__lt=moment, submitted_at__gte=since)
    detractor = Exists(before.filter(nps__lt=PASSIVE_MIN))
    incident = Exists(before.filter(Q(ces__lte=INCIDENT_CES_MAX) | Q(csat__lte=INCIDENT_CSAT_MAX)))
    complaint = Exists(
        Complaint.objects.filter(
            customer=OuterRef("customer"),
            kind=Complaint.Kind.COMPLAINT,
            received_at__lt=moment,
            received_at__gte=since,
        )
    )
    operational = Exists(
        Event.objects.filter(
            customer=OuterRef("customer"),
            type__in=INCIDENT_EVENT_TYPES,
            occurred_at__lt=moment,
            occurred_at__gte=since,
        )
    )
    return (
        Cast(detractor, IntegerField()) * FLAG_DETRACTOR
        + Cast(incident, IntegerField()) * FLAG_INCIDENT
        + Cast(complaint, IntegerField()) * FLAG_COMPLAINT
        + Cast(operational, IntegerField()) * FLAG_OPERATIONAL
    )


# --- the filters on each fact ---------------------------------------------------------------------


def _response_where(filters: MetricFilters, rollup: bool, *, through: str = "") -> Q:
    q = Q()
    if filters.segment is not None:
        q &= Q(segment_id=filters.segment_id())
    if filters.survey:
        q &= Q(survey__slug=filters.survey)
    for name in ("survey_type", "touchpoint", "audience"):
        if getattr(filters, name):
            q &= Q(**{f"{'' if rollup else through}{name}": getattr(filters, name)})
    return q


def _invitation_where(filters: MetricFilters, rollup: bool) -> Q:
    """As the raw metric: the invitation's segment snapshot, its survey's current type and touchpoint
    (through the survey on the rollup too, which keeps only the survey)."""
    return _response_where(filters, False, through="survey__")


def _event_where(filters: MetricFilters, rollup: bool) -> Q:
    """An event of the segment: a move into or out of it, any other event of a customer in it then."""
    if filters.segment is None:
        return Q()
    segment = filters.segment_id()
    moves = Q(type=Event.Type.SEGMENT_MOVE) & (Q(from_segment_id=segment) | Q(to_segment_id=segment))
    return moves | (~Q(type=Event.Type.SEGMENT_MOVE) & Q(segment_id=segment))


# --- the facts --------------------------------------------------------------------------------------


def _anonymous() -> ExpressionWrapper:
    """An answer without a customer: it counts in survey figures, not in a by-segment one."""
    return ExpressionWrapper(Q(customer__isnull=True), output_field=BooleanField())


RESPONSE_DIMENSIONS = {name: name for name in ("survey_id", "segment_id", "survey_type", "touchpoint", "audience")}
DAY_CHANGE = (0, 0)

SCORES = Fact(
    name="scores",
    model=ScoreDaily,
    source=Response.objects.all,
    moment="submitted_at",
    dimensions=RESPONSE_DIMENSIONS,
    parts=(
        *(
            Part({"question": Value(q), "score": F(q), "anonymous": _anonymous()}, Q(**{f"{q}__isnull": False}))
            for q in SCORE_QUESTIONS
        ),
        Part({"question": Value("comment"), "score": F("nps"), "anonymous": _anonymous()}, ~Q(comment="")),
    ),
    measures={"n": lambda: Count("pk")},
    where=_response_where,
    changed_by={Change.Kind.RESPONSES: DAY_CHANGE},
)

PAIRS = Fact(
    name="pairs",
    model=PairDaily,
    source=Response.objects.all,
    moment="submitted_at",
    dimensions=RESPONSE_DIMENSIONS,
    parts=tuple(
        Part(
            {"question": Value(q), "overall": None, "score": F(q)}, Q(overall__isnull=False, **{f"{q}__isnull": False})
        )
        for q in LINKED_QUESTIONS
    ),
    measures={"n": lambda: Count("pk")},
    where=_response_where,
    changed_by={Change.Kind.RESPONSES: DAY_CHANGE},
)

ATTRIBUTES = Fact(
    name="attributes",
    model=AttributeDaily,
    source=AttributeScore.objects.all,
    moment="submitted_at",
    dimensions={
        "survey_id": "survey_id",
        "segment_id": "segment_id",
        "survey_type": "response__survey_type",
        "touchpoint": "response__touchpoint",
        "audience": "response__audience",
    },
    parts=(Part({"attribute": None, "score": None, "nps": F("response__nps")}),),
    measures={"n": lambda: Count("pk")},
    where=lambda filters, rollup: _response_where(filters, rollup, through="response__"),
    changed_by={Change.Kind.RESPONSES: DAY_CHANGE},
)


def _answered_enough() -> Q:
    """At least ADVOCACY_MIN_COMPONENTS of the advocacy components answered."""
    return reduce(
        operator.or_,
        (
            Q(**{f"{c}__isnull": False for c in chosen})
            for chosen in itertools.combinations(ADVOCACY_COMPONENTS, ADVOCACY_MIN_COMPONENTS)
        ),
    )


ADVOCACY = Fact(
    name="advocacy",
    model=AdvocacyDaily,
    source=Response.objects.all,
    moment="submitted_at",
    dimensions=RESPONSE_DIMENSIONS,
    parts=(Part(dict.fromkeys(ADVOCACY_COMPONENTS), _answered_enough()),),
    measures={"n": lambda: Count("pk")},
    where=_response_where,
    changed_by={Change.Kind.RESPONSES: DAY_CHANGE},
)

INVITATIONS = Fact(
    name="invitations",
    model=InvitationDaily,
    source=lambda: Invitation.objects.filter(status=Invitation.Status.SENT),
    moment="sent_at",
    dimensions={"survey_id": "survey_id", "segment_id": "segment_id"},
    parts=(Part({}),),
    measures={"sent": lambda: Count("pk"), "responded": lambda: Count("response")},
    where=_invitation_where,
    changed_by={Change.Kind.INVITATIONS: DAY_CHANGE},
)

EVENTS = Fact(
    name="events",
    model=EventDaily,
    # Every type named, so a period's events are read through the (type, occurred_at) index.
    source=lambda: Event.objects.filter(type__in=Event.Type.values),
    moment="occurred_at",
    dimensions={name: name for name in ("type", "segment_id", "from_segment_id", "to_segment_id", "reason")},
    parts=(
        Part(
            {
                "flags": Case(When(type=Event.Type.LOST, then=lost_flags()), default=Value(0)),
                "category": Case(
                    When(type=Event.Type.REFERRAL, then=nps_category_at(OuterRef("occurred_at"), customer="referrer")),
                    default=Value(""),
                    output_field=CharField(),
                ),
            }
        ),
    ),
    measures={
        "count": lambda: Count("pk"),
        "value": lambda: Coalesce(Sum("value"), Value(0), output_field=DecimalField(max_digits=18, decimal_places=2)),
    },
    where=_event_where,
    # An answer changes what the losses after it (flags) and the referrals after it (category) say; a
    # complaint and an operational incident event what the losses in the incident window after it say.
    changed_by={
        Change.Kind.EVENTS: (0, INCIDENT_WINDOW_DAYS),
        Change.Kind.RESPONSES: (0, CATEGORY_WINDOW_DAYS),
        Change.Kind.COMPLAINTS: (0, INCIDENT_WINDOW_DAYS),
    },
)


def _through_response_where(prefix: str) -> Callable[[MetricFilters, bool], Q]:
    """The response filters on a table that reaches the response through ``prefix`` (raw rows)."""

    def where(filters: MetricFilters, rollup: bool) -> Q:
        if rollup:
            return _response_where(filters, True)
        q = Q()
        if filters.segment is not None:
            q &= Q(**{f"{prefix}segment_id": filters.segment_id()})
        if filters.survey:
            q &= Q(**{f"{prefix}survey__slug": filters.survey})
        for name in ("survey_type", "touchpoint", "audience"):
            if getattr(filters, name):
                q &= Q(**{f"{prefix}{name}": getattr(filters, name)})
        return q

    return where


def _dimensions_through(prefix: str) -> dict[str, str]:
    return {name: f"{prefix}{name}" for name in RESPONSE_DIMENSIONS}


# Re-analysing comments records their responses' days as changed (comments.services).
COMMENTS = Fact(
    name="comments",
    model=CommentDaily,
    source=CommentAnalysis.objects.all,
    moment="submitted_at",
    dimensions=_dimensions_through("response__"),
    parts=(Part({"language": None, "sentiment": None, "category": nps_category_of("response__nps")}),),
    measures={"n": lambda: Count("pk")},
    where=_through_response_where("response__"),
    changed_by={Change.Kind.RESPONSES: DAY_CHANGE},
)

THEMES = Fact(
    name="themes",
    model=ThemeDaily,
    source=CommentTheme.objects.all,
    moment="analysis__submitted_at",
    dimensions=_dimensions_through("analysis__response__"),
    parts=(
        Part(
            {
                "theme_id": None,
                "sentiment": F("analysis__sentiment"),
                "category": nps_category_of("analysis__response__nps"),
            }
        ),
    ),
    measures={"n": lambda: Count("pk")},
    where=_through_response_where("analysis__response__"),
    changed_by={Change.Kind.RESPONSES: DAY_CHANGE},
)

DAY_FACTS: tuple[Fact, ...] = (SCORES, PAIRS, ATTRIBUTES, INVITATIONS, EVENTS, ADVOCACY, COMMENTS, THEMES)

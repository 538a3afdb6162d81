"""Survey metrics (shared/METRICS.md, "Survey metrics"), aggregated in the database.

Every function takes the filters and respects all of them: the period (``submitted_at``), the
segment snapshot on the response, the survey slug, the survey type, touchpoint and audience
snapshots. A blank answer is left out of that question's denominator (``Count(column)`` counts
non-null values only).

The figures come from the daily rollups (dashboards.models) for the days they cover and from the
raw rows for the others, and are equal to the raw computation (the ``_raw_*`` functions at the end,
the reference the rollup tests hold them to) at every moment.
"""

from __future__ import annotations

import math
import operator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import reduce

import pandas as pd
from django.db import connection
from django.db.models import (
    Count,
    Expression,
    F,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from surveys.models import AttributeScore, Invitation, Response, Survey, SurveyType

from ..filters import GRANULARITIES, MetricFilters, day_start, site_timezone
from ..models import (
    ATTRIBUTE_NPS_COUNTERS,
    COMMENT_COUNTERS,
    PAIR_COUNTERS,
    PAIR_QUESTIONS,
    SCORE_TOTALS,
    AttributeDaily,
    InvitationDaily,
    ResponseDaily,
    RollupDirtyDay,
    RollupState,
    score_counter,
)
from .base import NO_VALUE, bucket_date, buckets, day_ranges, rate, shared, trunc

Z_95 = 1.96

# Satmetrix response-rate benchmarks quoted in METRICS.md, by (audience, survey type).
RESPONSE_RATE_BENCHMARKS: dict[tuple[str, str], float] = {
    ("b2b", SurveyType.RELATIONAL): 32.0,
    ("b2b", SurveyType.TRANSACTIONAL): 23.0,
    ("b2c", SurveyType.RELATIONAL): 13.0,
    ("b2c", SurveyType.TRANSACTIONAL): 16.0,
}

SCALES: dict[str, tuple[int, int]] = {
    "nps": (0, 10),
    "csat": (1, 5),
    "ces": (1, 7),
    "likelihood_switch": (0, 10),
    "likelihood_repurchase": (0, 10),
    "overall": (1, 5),
}
BREAKDOWNS: dict[str, str] = {"segment": "segment__name", "touchpoint": "touchpoint", "survey_type": "survey_type"}


# --- results -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Nps:
    promoters: int
    passives: int
    detractors: int
    responses: int
    score: float | None
    margin_of_error: float | None

    @classmethod
    def from_counts(cls, *, promoters: int, passives: int, detractors: int) -> Nps:
        n = promoters + passives + detractors
        score = rate(promoters - detractors, n)
        se = nps_standard_error(promoters=promoters, detractors=detractors, n=n)
        return cls(promoters, passives, detractors, n, score, None if se is None else Z_95 * se)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class NpsChange:
    current: Nps
    previous: Nps
    change: float | None
    z: float | None
    significant: bool | None


@dataclass(frozen=True)
class Csat:
    score: float | None  # % of answers 4 or 5
    mean: float | None
    responses: int


@dataclass(frozen=True)
class Ces:
    mean: float | None
    easy_pct: float | None  # % of answers 5-7
    responses: int


@dataclass(frozen=True)
class LikelihoodSwitch:
    mean: float | None
    at_risk_pct: float | None  # % of answers 7-10
    responses: int


@dataclass(frozen=True)
class LikelihoodRepurchase:
    mean: float | None
    likely_pct: float | None  # % of answers 9-10
    responses: int


@dataclass(frozen=True)
class Overall:
    mean: float | None
    responses: int


@dataclass(frozen=True)
class SurveyScores:
    """All the score metrics of one set of responses, from one aggregate query."""

    nps: Nps
    csat: Csat
    ces: Ces
    likelihood_switch: LikelihoodSwitch
    likelihood_repurchase: LikelihoodRepurchase
    overall: Overall


@dataclass(frozen=True)
class ResponseRate:
    sent: int
    responses: int
    rate: float | None
    benchmark: float | None  # Satmetrix, when the audience and survey type are known


# --- querysets ---------------------------------------------------------------------------------


def filtered_responses(*, filters: MetricFilters) -> QuerySet[Response]:
    """The responses submitted in the period that match every dimension of the filters."""
    start, end = filters.period()
    qs = Response.objects.filter(submitted_at__gte=start, submitted_at__lt=end)
    if filters.segment is not None:
        qs = qs.filter(segment_id=filters.segment_id())
    if filters.survey:
        qs = qs.filter(survey__slug=filters.survey)
    if filters.survey_type:
        qs = qs.filter(survey_type=filters.survey_type)
    if filters.touchpoint:
        qs = qs.filter(touchpoint=filters.touchpoint)
    if filters.audience:
        qs = qs.filter(audience=filters.audience)
    return qs


def filtered_attribute_scores(*, filters: MetricFilters) -> QuerySet[AttributeScore]:
    start, end = filters.period()
    qs = AttributeScore.objects.filter(submitted_at__gte=start, submitted_at__lt=end)
    if filters.segment is not None:
        qs = qs.filter(segment_id=filters.segment_id())
    if filters.survey:
        qs = qs.filter(survey__slug=filters.survey)
    if filters.survey_type:
        qs = qs.filter(response__survey_type=filters.survey_type)
    if filters.touchpoint:
        qs = qs.filter(response__touchpoint=filters.touchpoint)
    if filters.audience:
        qs = qs.filter(response__audience=filters.audience)
    return qs


def filtered_sent_invitations(*, filters: MetricFilters) -> QuerySet[Invitation]:
    """Invitations sent in the period: status "sent" only (queued, failed and bounced ones were
    not sent), matched on the invitation's segment snapshot and its survey's dimensions."""
    start, end = filters.period()
    qs = Invitation.objects.filter(status=Invitation.Status.SENT, sent_at__gte=start, sent_at__lt=end)
    if filters.segment is not None:
        qs = qs.filter(segment_id=filters.segment_id())
    if filters.survey:
        qs = qs.filter(survey__slug=filters.survey)
    if filters.survey_type:
        qs = qs.filter(survey__survey_type=filters.survey_type)
    if filters.touchpoint:
        qs = qs.filter(survey__touchpoint=filters.touchpoint)
    if filters.audience:
        qs = qs.filter(survey__audience=filters.audience)
    return qs


# --- reading: rolled-up days from the rollups, every other day from the raw rows ------------------
#
# A period splits into the days whose rollups are complete (on or before
# RollupState.rolled_up_through and not marked dirty) and the others (the last day or two, days an
# import changed since the last refresh, everything when the worker never ran). Each metric is ONE
# statement adding up, with UNION ALL, the rollup rows of the first and the raw rows of the others
# (with the very same filters and aggregates as the raw metric), so the result equals the raw
# aggregate, from one snapshot, and a page makes no more queries than before.
#
# The split is planned in Python from the rollup state the previous statement returned, and written
# into the statement as literals: with subqueries instead, PostgreSQL's generic estimates chose
# parallel scans and JIT compilation (10-400 ms for a few thousand rows). The statement returns the
# state as it saw it (same snapshot); the result is used only if that state still supports the plan
# (the rollups cover the planned days, the same dirty marks, the same responses cutoff), else the
# statement runs again with the new state (after a refresh, an import, a rebuild: rarely), and a
# third time planned all raw, which is exact whatever the state. dashboards/rollups.py has the rules
# the writers follow.


@dataclass(frozen=True)
class _State:
    through: date | None = None
    cutoff: datetime | None = None
    # (count, sum of ids) of all dirty marks: ids only grow, so any change of the set changes it.
    marks: tuple = (0, 0)
    dirty: frozenset | None = None  # {(kind, day)} of those marks; None: not read


# The state the last statement returned, per transaction context (see _plan_key).
_last_states: dict[tuple, _State] = {}


@dataclass
class _Source:
    """What a metric aggregates: the rollup rows and the raw rows matching the filters, their group
    keys and totals as expressions (the same names on both sides), and for the response rate the
    invitations answered after the rollups' responses cutoff."""

    kind: str  # RollupDirtyDay.Kind
    rollups: QuerySet
    raw: QuerySet
    moment: str  # the raw rows' timestamp field
    rollup_keys: dict
    raw_keys: dict
    rollup_totals: dict
    raw_totals: dict
    late: QuerySet | None = None
    late_totals: dict | None = None


def _clean_end(filters: MetricFilters, state: _State, *, needs_cutoff: bool) -> date | None:
    """The last day of the period the rollups can give with ``state``; None when none can."""
    if state.through is None or state.through < filters.start or (needs_cutoff and state.cutoff is None):
        return None
    return min(filters.end, state.through)


def _on_days(field: str, days: list[date]) -> Q:
    """Raw rows whose ``field`` falls on one of these local days."""
    return reduce(
        operator.or_,
        (
            Q(**{f"{field}__gte": day_start(first), f"{field}__lt": day_start(last + timedelta(days=1))})
            for first, last in day_ranges(days)
        ),
    )


def _members(source: _Source, filters: MetricFilters, state: _State) -> list[QuerySet]:
    """The parts of the UNION ALL, each as ``.values(keys).annotate(totals)``."""

    def raw(qs: QuerySet) -> QuerySet:
        return qs.values(**source.raw_keys).annotate(**source.raw_totals)

    clean_end = _clean_end(filters, state, needs_cutoff=source.late is not None)
    if clean_end is None:
        return [raw(source.raw)]
    moment = source.moment
    split_at = day_start(clean_end + timedelta(days=1))
    dirty = sorted(day for kind, day in state.dirty if kind == source.kind and filters.start <= day <= clean_end)
    members = [
        source.rollups.filter(day__gte=filters.start, day__lte=clean_end)
        .exclude(day__in=dirty)
        .values(**source.rollup_keys)
        .annotate(**source.rollup_totals),
    ]
    if dirty:
        members.append(raw(source.raw.filter(_on_days(moment, dirty))))
    if clean_end < filters.end:
        members.append(raw(source.raw.filter(**{f"{moment}__gte": split_at})))
    if source.late is not None:
        late = source.late.filter(**{f"{moment}__lt": split_at}, response__submitted_at__gte=state.cutoff)
        if dirty:
            late = late.exclude(_on_days(moment, dirty))
        members.append(late.values(**source.raw_keys).annotate(**source.late_totals))
    return members


def _parse_state(through, cutoff, marks: int, mark_ids) -> _State:
    """The state columns as returned by the cursor (text or naive UTC on SQLite)."""
    if isinstance(through, str):
        through = date.fromisoformat(through)
    if isinstance(cutoff, str):
        cutoff = datetime.fromisoformat(cutoff)
    if cutoff is not None and timezone.is_naive(cutoff):
        cutoff = cutoff.replace(tzinfo=UTC)  # SQLite keeps UTC without an offset
    return _State(through, cutoff, (int(marks or 0), int(mark_ids or 0)))


def _sum_union(members: list[QuerySet], *, keys: list[str], totals: list[str]) -> tuple[dict, _State]:
    """Run the members as one UNION ALL statement and add their totals up per key; also return the
    rollup state as this statement saw it. ({(key values): {total: int}}, state)."""
    sqls, params = [], []
    for member in members:
        sql, member_params = member.order_by().query.sql_with_params()
        sqls.append(sql)
        params.extend(member_params)
    quote = connection.ops.quote_name
    key_sql = ", ".join(quote(k) for k in keys)
    sums = ", ".join(f"SUM({quote(t)}) AS {quote(t)}" for t in totals)
    grouped = f"SELECT {key_sql}, 1 AS present, {sums} FROM ({' UNION ALL '.join(sqls)}) parts GROUP BY {key_sql}"
    sql = (
        "SELECT g.*, s.rolled_up_through, s.responses_cutoff, d.marks, d.mark_ids FROM (SELECT 1 AS one) o "
        f"LEFT JOIN {quote(RollupState._meta.db_table)} s ON s.id = {RollupState.SINGLETON} "
        f"LEFT JOIN (SELECT COUNT(*) AS marks, SUM(id) AS mark_ids FROM {quote(RollupDirtyDay._meta.db_table)}) d "
        f"ON 1 = 1 LEFT JOIN ({grouped}) g ON 1 = 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    width = len(keys)
    groups = {
        tuple(row[:width]): {
            t: int(v or 0) for t, v in zip(totals, row[width + 1 : width + 1 + len(totals)], strict=True)
        }
        for row in rows
        if row[width] is not None
    }
    return groups, _parse_state(*rows[0][-4:])


def _with_dirty_days(state: _State) -> _State:
    """``state`` with the dirty marks read (one small query, after they changed)."""
    marks = list(RollupDirtyDay.objects.values_list("pk", "kind", "day"))
    return replace(
        state,
        marks=(len(marks), sum(pk for pk, _kind, _day in marks)),
        dirty=frozenset((kind, day) for _pk, kind, day in marks),
    )


def _plan_key() -> tuple:
    """Plans are shared by the statements of one transaction context: autocommit (production), or
    one test's transaction, which sees its own rollup state."""
    return (connection.alias, connection.in_atomic_block, tuple(connection.savepoint_ids))


def _read(source: _Source, *, filters: MetricFilters) -> dict[tuple, dict[str, int]]:
    """The totals per group key, rolled-up days and raw days together."""
    needs_cutoff = source.late is not None
    keys, totals = list(source.raw_keys), list(source.raw_totals)
    plan_key = _plan_key()
    for attempt in range(3):
        # The last attempt plans without rollups: all raw, exact whatever the state.
        planned = _last_states.get(plan_key, _State()) if attempt < 2 else _State()
        used = _clean_end(filters, planned, needs_cutoff=needs_cutoff)
        if used is not None and planned.dirty is None:
            planned = _with_dirty_days(planned)
        groups, actual = _sum_union(_members(source, filters, planned), keys=keys, totals=totals)
        if actual.marks == planned.marks:
            actual = replace(actual, dirty=planned.dirty)
        _last_states.clear()  # keep one entry: the current transaction context's
        _last_states[plan_key] = actual
        if used is None:
            return groups  # planned all raw
        if (
            actual.through is not None
            and actual.through >= used
            and actual.marks == planned.marks
            and not (needs_cutoff and actual.cutoff != planned.cutoff)
        ):
            return groups  # the state the statement saw supports the plan
        # Stale plan (a refresh, an import or a rebuild meanwhile): again with the state it returned.
    raise AssertionError("unreachable: the last attempt plans all raw")


def _keys(*expressions) -> dict:
    return {f"key_{i}": expression for i, expression in enumerate(expressions)}


def _by_id(filters: MetricFilters) -> MetricFilters:
    """The filters with a segment name looked up once (the parts of a statement all need the id)."""
    return replace(filters, segment=filters.segment_id()) if isinstance(filters.segment, str) else filters


def _response_source(
    *, filters: MetricFilters, rollup_keys: dict, raw_keys: dict, rollup_totals: dict, raw_totals: dict
) -> _Source:
    filters = _by_id(filters)
    return _Source(
        kind=RollupDirtyDay.Kind.RESPONSE,
        rollups=_rollups(ResponseDaily, filters=filters),
        raw=filtered_responses(filters=filters),
        moment="submitted_at",
        rollup_keys=rollup_keys,
        raw_keys=raw_keys,
        rollup_totals=rollup_totals,
        raw_totals=raw_totals,
    )


def _score_totals(*, filters: MetricFilters, rollup_keys: dict, raw_keys: dict) -> dict[tuple, dict[str, int]]:
    """The reference's score aggregates (``score_aggregates``) per group: {(key values): {name: int}}."""
    groups = _read(
        _response_source(
            filters=filters,
            rollup_keys=rollup_keys,
            raw_keys=raw_keys,
            rollup_totals={f"total_{name}": counter for name, counter in _sums(ResponseDaily, SCORE_TOTALS).items()},
            raw_totals={f"total_{name}": counter for name, counter in _score_counters().items()},
        ),
        filters=filters,
    )
    return {key: {name: totals[f"total_{name}"] for name in SCORE_TOTALS} for key, totals in groups.items()}


def _grouped_scores(*, filters: MetricFilters, rollup_keys: dict, raw_keys: dict) -> dict[tuple, SurveyScores]:
    groups = _score_totals(filters=filters, rollup_keys=rollup_keys, raw_keys=raw_keys)
    return {key: _scores_from_row(totals) for key, totals in groups.items()}


def _rollups(model: type[ResponseDaily] | type[AttributeDaily], *, filters: MetricFilters) -> QuerySet:
    """Response or attribute rollup rows matching every dimension of the filters (any day)."""
    qs = model.objects.all()
    if filters.segment is not None:
        qs = qs.filter(segment_id=filters.segment_id())
    if filters.survey:
        qs = qs.filter(survey__slug=filters.survey)
    if filters.survey_type:
        qs = qs.filter(survey_type=filters.survey_type)
    if filters.touchpoint:
        qs = qs.filter(touchpoint=filters.touchpoint)
    if filters.audience:
        qs = qs.filter(audience=filters.audience)
    return qs


def _invitation_rollups(*, filters: MetricFilters) -> QuerySet[InvitationDaily]:
    """As ``filtered_sent_invitations``: on the survey's current type, touchpoint and audience."""
    qs = InvitationDaily.objects.all()
    if filters.segment is not None:
        qs = qs.filter(segment_id=filters.segment_id())
    if filters.survey:
        qs = qs.filter(survey__slug=filters.survey)
    if filters.survey_type:
        qs = qs.filter(survey__survey_type=filters.survey_type)
    if filters.touchpoint:
        qs = qs.filter(survey__touchpoint=filters.touchpoint)
    if filters.audience:
        qs = qs.filter(survey__audience=filters.audience)
    return qs


_ONE_GROUP = Value(0, output_field=IntegerField())


# --- one function per metric -------------------------------------------------------------------


@shared
def survey_scores(*, filters: MetricFilters) -> SurveyScores:
    """NPS, CSAT, CES, switch, repurchase and overall in one statement."""
    scores = _grouped_scores(filters=filters, rollup_keys=_keys(_ONE_GROUP), raw_keys=_keys(_ONE_GROUP))
    return next(iter(scores.values()), None) or _scores_from_row(_EMPTY_ROW)


def nps_standard_error(*, promoters: int, detractors: int, n: int) -> float | None:
    """SE = 100 × √(var / n), var = p + d − (p − d)²; None for n < 2 (METRICS.md)."""
    if n < 2:
        return None
    p, d = promoters / n, detractors / n
    variance = max(p + d - (p - d) ** 2, 0.0)
    return 100.0 * math.sqrt(variance / n)


def nps(*, filters: MetricFilters) -> Nps:
    """Promoters 9-10, passives 7-8, detractors 0-6; score = 100 × (P − D) / answered; 95 % MoE."""
    return survey_scores(filters=filters).nps


def _nps_change(current: Nps, before: Nps) -> NpsChange:
    change = None if current.score is None or before.score is None else current.score - before.score
    se1 = nps_standard_error(promoters=current.promoters, detractors=current.detractors, n=current.responses)
    se2 = nps_standard_error(promoters=before.promoters, detractors=before.detractors, n=before.responses)
    if change is None or se1 is None or se2 is None or se1 == se2 == 0:
        return NpsChange(current, before, change, None, None)
    z = change / math.sqrt(se1**2 + se2**2)
    return NpsChange(current, before, change, z, abs(z) > Z_95)


def nps_significance(*, filters: MetricFilters, previous: MetricFilters | None = None) -> NpsChange:
    """Compares the NPS of the period with ``previous`` (default: the period just before):
    z = (NPS₁ − NPS₂) / √(SE₁² + SE₂²); significant when |z| > 1.96. z is None when either
    period has fewer than 2 answers or both standard errors are zero."""
    return _nps_change(nps(filters=filters), nps(filters=previous or filters.previous_period()))


def csat(*, filters: MetricFilters) -> Csat:
    """CSAT % = 100 × answers 4-5 / answered, and the mean (1-5)."""
    return survey_scores(filters=filters).csat


def ces(*, filters: MetricFilters) -> Ces:
    """CES mean (1-7) and % easy = 100 × answers 5-7 / answered."""
    return survey_scores(filters=filters).ces


def likelihood_switch(*, filters: MetricFilters) -> LikelihoodSwitch:
    """Mean (0-10) and % at risk = 100 × answers 7-10 / answered."""
    return survey_scores(filters=filters).likelihood_switch


def likelihood_repurchase(*, filters: MetricFilters) -> LikelihoodRepurchase:
    """Mean (0-10) and % likely = 100 × answers 9-10 / answered."""
    return survey_scores(filters=filters).likelihood_repurchase


def overall(*, filters: MetricFilters) -> Overall:
    """Mean overall experience (1-5)."""
    return survey_scores(filters=filters).overall


@shared
def attribute_ratings(*, filters: MetricFilters) -> list[dict]:
    """Mean rating (1-5) per attribute: [{attribute, mean, responses}], by attribute name."""
    filters = _by_id(filters)
    key = _keys(F("attribute"))
    groups = _read(
        _Source(
            kind=RollupDirtyDay.Kind.RESPONSE,
            rollups=_rollups(AttributeDaily, filters=filters),
            raw=filtered_attribute_scores(filters=filters),
            moment="submitted_at",
            rollup_keys=key,
            raw_keys=key,
            rollup_totals={"total_n": Sum("n"), "total_sum": Sum("total")},
            raw_totals={"total_n": Count("pk"), "total_sum": Sum("score")},
        ),
        filters=filters,
    )
    return [
        {"attribute": name, "mean": _mean(t["total_sum"], t["total_n"]), "responses": t["total_n"]}
        for (name,), t in sorted(groups.items())
    ]


COMMENT_CATEGORIES: dict[str, Q] = {
    "promoter": Q(nps__gte=9),
    "passive": Q(nps__gte=7, nps__lte=8),
    "detractor": Q(nps__lte=6),
}


def comment_filter(category: str = "") -> Q:
    """The responses with a comment (of an NPS category: promoter, passive, detractor; "" for all)."""
    return ~Q(comment="") & COMMENT_CATEGORIES.get(category, Q())


@shared
def comment_count(*, filters: MetricFilters, category: str = "") -> int:
    """How many responses in the period carry a comment (of that NPS category)."""
    key = _keys(_ONE_GROUP)
    groups = _read(
        _response_source(
            filters=filters,
            rollup_keys=key,
            raw_keys=key,
            rollup_totals={"total_comments": Sum(COMMENT_COUNTERS[category])},
            raw_totals={"total_comments": Count("pk", filter=comment_filter(category))},
        ),
        filters=filters,
    )
    return next(iter(groups.values()), {}).get("total_comments", 0)


class _Counter(Expression):
    """An aggregate of a UNION member's own table, written as SQL: the counters of the pair tables (the
    165 answer pairs on both sides, the rollups' 55 attribute × NPS sums). As ORM expressions Django
    resolved and compiled each one for every part of the statement: 63 of the 91 ms answer_pairs took
    for a quarter at 1 M responses, 19 ms now. Only in the top-level statements of ``_sum_union``, where
    a table is named by its own name (no alias)."""

    contains_aggregate = True

    def __init__(self, sql: str) -> None:
        super().__init__(output_field=IntegerField())
        self.sql = sql

    def resolve_expression(self, query=None, allow_joins=True, reuse=None, summarize=False, for_save=False):
        return self  # nothing to resolve: no fields, no joins

    def as_sql(self, compiler, connection):
        return self.sql, []

    def get_group_by_cols(self):
        return []


def _column(table: str, column: str) -> str:
    quote = connection.ops.quote_name
    return f"{quote(table)}.{quote(column)}"


def _sums(model, columns: list[str]) -> dict[str, _Counter]:
    """{column: SUM(table.column)} for rollup rows."""
    table = model._meta.db_table
    return {column: _Counter(f"SUM({_column(table, column)})") for column in columns}


def _count_where(conditions: list[tuple[str, str, int]]) -> _Counter:
    """COUNT of the rows where every (table, column) equals its integer: the raw side of a counter, as
    ``Count("pk", filter=Q(column=value, ...))`` counts (NULL never equals)."""
    test = " AND ".join(f"{_column(table, column)} = {int(value)}" for table, column, value in conditions)
    return _Counter(f"COUNT(CASE WHEN {test} THEN 1 END)")


def _score_counters() -> dict[str, _Counter]:
    """``score_aggregates`` (the raw reference, which the rollups are built with) written as SQL over the
    responses: the same counts and sums by the same names. The tests hold the read path that uses these
    to the reference computed with those."""
    t = Response._meta.db_table

    def c(column: str) -> str:
        return _column(t, column)

    def where(test: str) -> _Counter:
        return _Counter(f"COUNT(CASE WHEN {test} THEN 1 END)")

    return {
        "nps_promoters": where(f"{c('nps')} >= 9"),
        "nps_passives": where(f"{c('nps')} >= 7 AND {c('nps')} <= 8"),
        "nps_detractors": where(f"{c('nps')} <= 6"),
        "csat_n": _Counter(f"COUNT({c('csat')})"),
        "csat_satisfied": where(f"{c('csat')} >= 4"),
        "csat_sum": _Counter(f"SUM({c('csat')})"),
        "ces_n": _Counter(f"COUNT({c('ces')})"),
        "ces_easy": where(f"{c('ces')} >= 5"),
        "ces_sum": _Counter(f"SUM({c('ces')})"),
        "switch_n": _Counter(f"COUNT({c('likelihood_switch')})"),
        "switch_at_risk": where(f"{c('likelihood_switch')} >= 7"),
        "switch_sum": _Counter(f"SUM({c('likelihood_switch')})"),
        "repurchase_n": _Counter(f"COUNT({c('likelihood_repurchase')})"),
        "repurchase_likely": where(f"{c('likelihood_repurchase')} >= 9"),
        "repurchase_sum": _Counter(f"SUM({c('likelihood_repurchase')})"),
        "overall_n": _Counter(f"COUNT({c('overall')})"),
        "overall_sum": _Counter(f"SUM({c('overall')})"),
    }


def answer_pairs(*, filters: MetricFilters) -> dict[str, pd.DataFrame]:
    """Per key metric (nps, likelihood_switch, likelihood_repurchase): the distinct (overall, answer)
    pairs of the responses that answered both, with their counts — at most 5 × 11 rows each."""
    key = _keys(_ONE_GROUP)
    responses = Response._meta.db_table
    groups = _read(
        _response_source(
            filters=filters,
            rollup_keys=key,
            raw_keys=key,
            rollup_totals=_sums(ResponseDaily, [column for _x, _q, _y, column in PAIR_COUNTERS]),
            raw_totals={
                column: _count_where([(responses, "overall", x), (responses, q, y)])
                for x, q, y, column in PAIR_COUNTERS
            },
        ),
        filters=filters,
    )
    counts = next(iter(groups.values()), {})
    tables = {}
    for question in PAIR_QUESTIONS:
        rows = [(x, y, counts.get(column, 0)) for x, q, y, column in PAIR_COUNTERS if q == question]
        tables[question] = pd.DataFrame([r for r in rows if r[2]], columns=["overall", question, "count"])
    return tables


def attribute_nps_pairs(*, filters: MetricFilters) -> pd.DataFrame:
    """The distinct (attribute, rating, NPS answer of the same response) triples with their counts."""
    filters = _by_id(filters)
    key = _keys(F("attribute"))
    groups = _read(
        _Source(
            kind=RollupDirtyDay.Kind.RESPONSE,
            rollups=_rollups(AttributeDaily, filters=filters),
            raw=filtered_attribute_scores(filters=filters),
            moment="submitted_at",
            rollup_keys=key,
            raw_keys=key,
            rollup_totals=_sums(AttributeDaily, [column for _s, _n, column in ATTRIBUTE_NPS_COUNTERS]),
            raw_totals={
                column: Count("pk", filter=Q(score=score, response__nps=nps))
                for score, nps, column in ATTRIBUTE_NPS_COUNTERS
            },
        ),
        filters=filters,
    )
    rows = [
        (attribute, score, nps, totals[column])
        for (attribute,), totals in sorted(groups.items())
        for score, nps, column in ATTRIBUTE_NPS_COUNTERS
        if totals[column]
    ]
    return pd.DataFrame(rows, columns=["attribute", "score", "response__nps", "count"])


def response_rate_benchmark(*, audience: str | None, survey_type: str | None) -> float | None:
    return RESPONSE_RATE_BENCHMARKS.get((audience, survey_type)) if audience and survey_type else None


def _response_rate_result(*, filters: MetricFilters, sent: int, responses: int) -> ResponseRate:
    audience, survey_type = filters.audience, filters.survey_type
    if filters.survey:
        survey = Survey.objects.filter(slug=filters.survey).values("audience", "survey_type").first()
        if survey:
            audience, survey_type = audience or survey["audience"], survey_type or survey["survey_type"]
    return ResponseRate(
        sent=sent,
        responses=responses,
        rate=rate(responses, sent),
        benchmark=response_rate_benchmark(audience=audience, survey_type=survey_type),
    )


@shared
def response_rate(*, filters: MetricFilters) -> ResponseRate:
    """100 × responses / invitations sent in the period; a response counts whenever it arrives.
    The benchmark is given when the filters pin down the audience and survey type (directly or
    through the survey)."""
    filters = _by_id(filters)
    key = _keys(_ONE_GROUP)
    raw = filtered_sent_invitations(filters=filters)
    groups = _read(
        _Source(
            kind=RollupDirtyDay.Kind.INVITATION,
            rollups=_invitation_rollups(filters=filters),
            raw=raw,
            moment="sent_at",
            rollup_keys=key,
            raw_keys=key,
            rollup_totals={"total_sent": Sum("sent"), "total_responded": Sum("responded")},
            raw_totals={"total_sent": Count("pk"), "total_responded": Count("pk", filter=Q(response__isnull=False))},
            # Answers submitted since the rollups' responses cutoff to invitations of the rolled-up days:
            # the rollups counted those invitations as not answered (yet).
            late=raw,
            late_totals={"total_sent": _ONE_GROUP, "total_responded": Count("pk")},
        ),
        filters=filters,
    )
    totals = next(iter(groups.values()), None) or {"total_sent": 0, "total_responded": 0}
    return _response_rate_result(filters=filters, sent=totals["total_sent"], responses=totals["total_responded"])


def _trend_rows(filters: MetricFilters, granularity: str, scores_by_bucket: dict[date, SurveyScores]) -> list[dict]:
    result = []
    for day in buckets(filters, granularity):
        scores = scores_by_bucket.get(day) or _scores_from_row(_EMPTY_ROW)
        result.append(
            {
                "bucket": day,
                "nps": scores.nps.score,
                "nps_margin_of_error": scores.nps.margin_of_error,
                "nps_responses": scores.nps.responses,
                "csat": scores.csat.score,
                "csat_responses": scores.csat.responses,
                "ces_mean": scores.ces.mean,
                "ces_responses": scores.ces.responses,
            }
        )
    return result


def _bucket_start(day: date, granularity: str) -> date:
    """The first day of the week (Monday) / month / quarter ``day`` falls in, as Trunc* gives it."""
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


@shared
def survey_trend(*, filters: MetricFilters, granularity: str = "month") -> list[dict]:
    """Per week/month/quarter (local time) of the period, every bucket listed even when empty:
    [{bucket (first day), nps, nps_margin_of_error, nps_responses, csat, csat_responses,
    ces_mean, ces_responses}]."""
    if granularity not in GRANULARITIES:
        raise ValueError(f"Unknown granularity {granularity!r}; use one of {', '.join(GRANULARITIES)}.")
    # Per local day (a rollup's day; the local date of a raw response), bucketed here: a few hundred rows.
    groups = _score_totals(
        filters=filters,
        rollup_keys=_keys(F("day")),
        raw_keys=_keys(TruncDate("submitted_at", tzinfo=site_timezone())),
    )
    by_bucket: dict[date, dict[str, int]] = {}
    for (day,), totals in groups.items():
        bucket = _bucket_start(day if isinstance(day, date) else date.fromisoformat(day), granularity)
        if bucket in by_bucket:
            by_bucket[bucket] = {name: by_bucket[bucket][name] + value for name, value in totals.items()}
        else:
            by_bucket[bucket] = totals
    return _trend_rows(filters, granularity, {bucket: _scores_from_row(t) for bucket, t in by_bucket.items()})


_EMPTY_ROW: dict = {
    "nps_promoters": 0,
    "nps_passives": 0,
    "nps_detractors": 0,
    "csat_n": 0,
    "csat_satisfied": 0,
    "csat_sum": None,
    "ces_n": 0,
    "ces_easy": 0,
    "ces_sum": None,
    "switch_n": 0,
    "switch_at_risk": 0,
    "switch_sum": None,
    "repurchase_n": 0,
    "repurchase_likely": 0,
    "repurchase_sum": None,
    "overall_n": 0,
    "overall_sum": None,
}


def _check_question(question: str) -> tuple[int, int]:
    if question not in SCALES:
        raise ValueError(f"Unknown question {question!r}; use one of {', '.join(SCALES)}.")
    return SCALES[question]


@shared
def score_distribution(*, filters: MetricFilters, question: str = "nps") -> list[dict]:
    """How many answers each score got, every score of the scale listed: [{score, count}]."""
    low, high = _check_question(question)
    scores = range(low, high + 1)
    key = _keys(_ONE_GROUP)
    groups = _read(
        _response_source(
            filters=filters,
            rollup_keys=key,
            raw_keys=key,
            rollup_totals={
                f"total_{s}": _sums(ResponseDaily, [score_counter(question, s)])[score_counter(question, s)]
                for s in scores
            },
            raw_totals={f"total_{s}": _count_where([(Response._meta.db_table, question, s)]) for s in scores},
        ),
        filters=filters,
    )
    counts = next(iter(groups.values()), {})
    return [{"score": s, "count": counts.get(f"total_{s}", 0)} for s in scores]


def _check_breakdown(by: str) -> str:
    if by not in BREAKDOWNS:
        raise ValueError(f"Unknown breakdown {by!r}; use one of {', '.join(BREAKDOWNS)}.")
    return BREAKDOWNS[by]


@shared
def survey_breakdown(*, filters: MetricFilters, by: str) -> list[dict]:
    """NPS (with MoE), CSAT and CES per segment snapshot, touchpoint or survey type:
    [{key, nps: Nps, csat: Csat, ces: Ces}]; a blank segment is keyed NO_VALUE. Segments come
    highest rank first, other keys alphabetically."""
    column = _check_breakdown(by)
    keys = _keys(F(column), F("segment__rank")) if by == "segment" else _keys(F(column))
    groups = _grouped_scores(filters=filters, rollup_keys=keys, raw_keys=keys)
    if by == "segment":
        order = sorted(groups, key=lambda k: (k[1] is None, -(k[1] or 0)))
    else:
        order = sorted(groups, key=lambda k: (k[0] is None, k[0] or ""))
    return [
        {
            "key": NO_VALUE if group[0] is None else group[0],
            "nps": groups[group].nps,
            "csat": groups[group].csat,
            "ces": groups[group].ces,
        }
        for group in order
    ]


def nps_by(*, filters: MetricFilters, by: str) -> dict[str, float | None]:
    """{key: NPS score} for a breakdown (see ``survey_breakdown``)."""
    return {row["key"]: row["nps"].score for row in survey_breakdown(filters=filters, by=by)}


def trend_frame(trend: list[dict]) -> pd.DataFrame:
    """A trend as a DataFrame indexed by bucket start, for the chart builders."""
    frame = pd.DataFrame(trend)
    return frame.set_index("bucket") if not frame.empty else frame


def period_label(day: date, granularity: str) -> str:
    """A short label for a bucket: 2026-W07, 2026-02, 2026-Q1."""
    if granularity == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if granularity == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    return f"{day.year}-{day.month:02d}"


# --- the reference: every metric straight from the raw rows ----------------------------------------
#
# What the functions above computed before the rollups (issue 6), kept as the definition the rollup
# tests compare against, value for value. Means are Σ / n here too (not AVG), so both paths give the
# same float on every database.


def score_aggregates() -> dict:
    """Every count and sum the score metrics need, as aggregate expressions for one query."""
    return {
        "nps_promoters": Count("pk", filter=Q(nps__gte=9)),
        "nps_passives": Count("pk", filter=Q(nps__gte=7, nps__lte=8)),
        "nps_detractors": Count("pk", filter=Q(nps__lte=6)),
        "csat_n": Count("csat"),
        "csat_satisfied": Count("pk", filter=Q(csat__gte=4)),
        "csat_sum": Sum("csat"),
        "ces_n": Count("ces"),
        "ces_easy": Count("pk", filter=Q(ces__gte=5)),
        "ces_sum": Sum("ces"),
        "switch_n": Count("likelihood_switch"),
        "switch_at_risk": Count("pk", filter=Q(likelihood_switch__gte=7)),
        "switch_sum": Sum("likelihood_switch"),
        "repurchase_n": Count("likelihood_repurchase"),
        "repurchase_likely": Count("pk", filter=Q(likelihood_repurchase__gte=9)),
        "repurchase_sum": Sum("likelihood_repurchase"),
        "overall_n": Count("overall"),
        "overall_sum": Sum("overall"),
    }


def _mean(total: int | Decimal | None, n: int) -> float | None:
    """Σ / n as a float (one correctly rounded division), None without answers."""
    return None if not n or total is None else int(total) / n


def _scores_from_row(row: dict) -> SurveyScores:
    return SurveyScores(
        nps=Nps.from_counts(
            promoters=row["nps_promoters"], passives=row["nps_passives"], detractors=row["nps_detractors"]
        ),
        csat=Csat(
            score=rate(row["csat_satisfied"], row["csat_n"]),
            mean=_mean(row["csat_sum"], row["csat_n"]),
            responses=row["csat_n"],
        ),
        ces=Ces(
            mean=_mean(row["ces_sum"], row["ces_n"]),
            easy_pct=rate(row["ces_easy"], row["ces_n"]),
            responses=row["ces_n"],
        ),
        likelihood_switch=LikelihoodSwitch(
            mean=_mean(row["switch_sum"], row["switch_n"]),
            at_risk_pct=rate(row["switch_at_risk"], row["switch_n"]),
            responses=row["switch_n"],
        ),
        likelihood_repurchase=LikelihoodRepurchase(
            mean=_mean(row["repurchase_sum"], row["repurchase_n"]),
            likely_pct=rate(row["repurchase_likely"], row["repurchase_n"]),
            responses=row["repurchase_n"],
        ),
        overall=Overall(mean=_mean(row["overall_sum"], row["overall_n"]), responses=row["overall_n"]),
    )


def _raw_survey_scores(*, filters: MetricFilters) -> SurveyScores:
    return _scores_from_row(filtered_responses(filters=filters).aggregate(**score_aggregates()))


def _raw_nps(*, filters: MetricFilters) -> Nps:
    row = filtered_responses(filters=filters).aggregate(
        promoters=Count("pk", filter=Q(nps__gte=9)),
        passives=Count("pk", filter=Q(nps__gte=7, nps__lte=8)),
        detractors=Count("pk", filter=Q(nps__lte=6)),
    )
    return Nps.from_counts(**row)


def _raw_nps_significance(*, filters: MetricFilters, previous: MetricFilters | None = None) -> NpsChange:
    return _nps_change(_raw_nps(filters=filters), _raw_nps(filters=previous or filters.previous_period()))


def _raw_attribute_ratings(*, filters: MetricFilters) -> list[dict]:
    rows = (
        filtered_attribute_scores(filters=filters)
        .values("attribute")
        .annotate(total=Sum("score"), responses=Count("pk"))
        .order_by("attribute")
    )
    return [
        {"attribute": r["attribute"], "mean": _mean(r["total"], r["responses"]), "responses": r["responses"]}
        for r in rows
    ]


def _raw_response_rate(*, filters: MetricFilters) -> ResponseRate:
    row = filtered_sent_invitations(filters=filters).aggregate(
        sent=Count("pk"), responses=Count("pk", filter=Q(response__isnull=False))
    )
    return _response_rate_result(filters=filters, sent=row["sent"], responses=row["responses"])


def _raw_survey_trend(*, filters: MetricFilters, granularity: str = "month") -> list[dict]:
    rows = (
        filtered_responses(filters=filters)
        .annotate(bucket=trunc("submitted_at", granularity))
        .values("bucket")
        .annotate(**score_aggregates())
        .order_by("bucket")
    )
    return _trend_rows(filters, granularity, {bucket_date(r.pop("bucket")): _scores_from_row(r) for r in rows})


def _raw_score_distribution(*, filters: MetricFilters, question: str = "nps") -> list[dict]:
    low, high = _check_question(question)
    rows = (
        filtered_responses(filters=filters)
        .filter(**{f"{question}__isnull": False})
        .values(question)
        .annotate(count=Count("pk"))
        .order_by(question)
    )
    counts = {r[question]: r["count"] for r in rows}
    return [{"score": s, "count": counts.get(s, 0)} for s in range(low, high + 1)]


def _raw_survey_breakdown(*, filters: MetricFilters, by: str) -> list[dict]:
    column = _check_breakdown(by)
    values = [column, "segment__rank"] if by == "segment" else [column]
    rows = (
        filtered_responses(filters=filters)
        .values(*values)
        .annotate(**score_aggregates())
        .order_by(*([F("segment__rank").desc(nulls_last=True)] if by == "segment" else [column]))
    )
    result = []
    for r in rows:
        key = r.pop(column)
        r.pop("segment__rank", None)
        scores = _scores_from_row(r)
        result.append(
            {"key": NO_VALUE if key is None else key, "nps": scores.nps, "csat": scores.csat, "ces": scores.ces}
        )
    return result

"""What the churn-risk model knows about each active customer at a cutoff (shared/METRICS.md, "Survival and
churn risk"), and whether the customer was lost within the horizon after it (the label).

The history is read once per run in a handful of queries (the customers; their answers; one query per
counted source such as incidents or downgrades), never per customer; the features at every monthly cutoff
are then vectorised aggregates over those arrays (a cutoff is a mask, a count a ``bincount``), so the
thirty-odd cutoffs of a training run cost one read of the history instead of thirty scans of a million
answers. Only what happened before the cutoff is used.

**One feature is one entry in FEATURES.** A count of dated rows in a window before the cutoff (incidents,
downgrades, and complaints once the complaints app exists) is a ``CountFeature`` with the query giving
``(customer_id, moment)`` rows; the other kinds read the answers or the customer row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.db.models import F, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from complaints.models import Complaint
from core.definitions import (
    CHURN_RISK_DOWNGRADE_DAYS,
    CHURN_RISK_HORIZON_DAYS,
    INCIDENT_CES_MAX,
    INCIDENT_CSAT_MAX,
    INCIDENT_EVENT_TYPES,
    INCIDENT_WINDOW_DAYS,
)
from customers.models import Customer, Event
from surveys.models import Response

DAY_NS = 86_400 * 10**9
QUESTIONS = ("nps", "csat", "ces")


def _ns(moment: datetime) -> int:
    return pd.Timestamp(moment).value


def _moments(values) -> np.ndarray:
    """Aware datetimes (None allowed) as int64 nanoseconds since the epoch; missing as the largest int."""
    series = pd.to_datetime(pd.Series(values, dtype=object), utc=True)
    out = series.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    out[series.isna().to_numpy()] = np.iinfo(np.int64).max
    return out


@dataclass
class History:
    """The history the features are computed from, as arrays (one read per run)."""

    customer_ids: np.ndarray  # every customer ever acquired
    acquired: np.ndarray  # ns
    lost: np.ndarray  # ns; int64 max while still a customer
    value: np.ndarray  # annual revenue today (the value when lost for a lost customer)
    rank: np.ndarray  # today's segment rank (NaN without a segment)
    answers: pd.DataFrame  # customer position, at (ns), nps, csat, ces; sorted by customer, at
    moves: pd.DataFrame  # customer position, at, from_rank, to_rank; sorted by customer, at
    counted: dict[str, tuple[np.ndarray, np.ndarray]]  # feature name → (customer positions, ns)


# --- the feature registry ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Feature:
    name: str
    label: object  # lazy text shown beside a customer's risk
    compute: Callable[[History, np.ndarray, int], np.ndarray]  # (history, active positions, cutoff ns)


@dataclass(frozen=True)
class CountFeature:
    """Rows dated in the ``days`` before the cutoff, per customer: ``rows`` gives (customer_id, moment)."""

    name: str
    label: object
    rows: Callable[[], QuerySet]
    days: int


def _incident_events() -> QuerySet:
    return Event.objects.filter(type__in=INCIDENT_EVENT_TYPES).values_list("customer_id", "occurred_at")


def _complaints() -> QuerySet:
    # Complaints only: an inquiry is not an incident (METRICS.md).
    logged = Complaint.objects.filter(kind=Complaint.Kind.COMPLAINT, customer__isnull=False)
    return logged.values_list("customer_id", "received_at")


def _survey_incidents() -> QuerySet:
    # An answer reporting an incident (METRICS.md "lost after an incident"): CSAT ≤ 2 or CES ≤ 3.
    reported = Q(csat__lte=INCIDENT_CSAT_MAX) | Q(ces__lte=INCIDENT_CES_MAX)
    return Response.objects.filter(reported, customer__isnull=False).values_list("customer_id", "submitted_at")


def _downgrades() -> QuerySet:
    return Event.objects.filter(type=Event.Type.SEGMENT_MOVE, to_segment__rank__lt=F("from_segment__rank")).values_list(
        "customer_id", "occurred_at"
    )


def _latest(question: str) -> Callable[[History, np.ndarray, int], np.ndarray]:
    def compute(history: History, active: np.ndarray, cutoff: int) -> np.ndarray:
        return _latest_answers(history, question, active, cutoff)[0]

    return compute


def _change(question: str) -> Callable[[History, np.ndarray, int], np.ndarray]:
    def compute(history: History, active: np.ndarray, cutoff: int) -> np.ndarray:
        latest, previous, _at = _latest_answers(history, question, active, cutoff)
        return latest - previous

    return compute


def _days_since_answer(history: History, active: np.ndarray, cutoff: int) -> np.ndarray:
    at = _latest_rows(history.answers, active, cutoff)["at"].to_numpy(dtype=float)
    return (cutoff - at) / DAY_NS


def _tenure_days(history: History, active: np.ndarray, cutoff: int) -> np.ndarray:
    return (cutoff - history.acquired[active]) / DAY_NS


def _log_value(history: History, active: np.ndarray, cutoff: int) -> np.ndarray:
    return np.log1p(np.maximum(history.value[active], 0.0))


def _segment_rank(history: History, active: np.ndarray, cutoff: int) -> np.ndarray:
    """The rank moved to by the last move before the cutoff; else the rank moved from by the first move
    after it; else today's rank (the customer never moved)."""
    rank = history.rank[active].astype(float)
    moves = history.moves
    if moves.empty:
        return rank
    latest = _latest_rows(moves, active, cutoff)
    before = latest["to_rank"].to_numpy(dtype=float)
    has_before = ~np.isnan(latest["at"].to_numpy(dtype=float))
    later = moves[moves["at"] >= cutoff].drop_duplicates("customer", keep="first")
    after = _on_active(active, later["customer"].to_numpy(), later["from_rank"].to_numpy(dtype=float))
    has_after = _on_active(active, later["customer"].to_numpy(), np.ones(len(later))) == 1
    return np.where(has_before, before, np.where(has_after, after, rank))


FEATURES: tuple[Feature | CountFeature, ...] = (
    Feature("nps_latest", _("latest NPS"), _latest("nps")),
    Feature("nps_change", _("change in NPS since the answer before"), _change("nps")),
    Feature("csat_latest", _("latest CSAT"), _latest("csat")),
    Feature("csat_change", _("change in CSAT since the answer before"), _change("csat")),
    Feature("ces_latest", _("latest CES"), _latest("ces")),
    Feature("ces_change", _("change in CES since the answer before"), _change("ces")),
    Feature("days_since_answer", _("days since the latest answer"), _days_since_answer),
    CountFeature(
        "incident_events_90d", _("operational incidents in the last 90 days"), _incident_events, INCIDENT_WINDOW_DAYS
    ),  # fmt: skip
    CountFeature(
        "survey_incidents_90d",
        _("answers reporting an incident in the last 90 days"),
        _survey_incidents,
        INCIDENT_WINDOW_DAYS,
    ),  # fmt: skip
    CountFeature("complaints_90d", _("complaints in the last 90 days"), _complaints, INCIDENT_WINDOW_DAYS),
    CountFeature("recent_downgrades", _("downgrades in the last year"), _downgrades, CHURN_RISK_DOWNGRADE_DAYS),
    Feature("tenure_days", _("days as a customer"), _tenure_days),
    Feature("log_value", _("annual value (log)"), _log_value),
    Feature("segment_rank", _("segment rank"), _segment_rank),
)
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
# The features that count incidents (a relationship signal when any is above zero).
INCIDENT_FEATURES: tuple[str, ...] = ("incident_events_90d", "survey_incidents_90d", "complaints_90d")


def feature_label(name: str) -> str:
    labels = {f.name: f.label for f in FEATURES}
    return str(labels.get(name, name))


# --- reading the history ----------------------------------------------------------------------------


def history_load() -> History:
    """Every acquired customer, every answer of an identified customer, every segment move and every
    counted source: one query each."""
    customers = list(
        Customer.objects.filter(acquired_at__isnull=False)
        .order_by("pk")
        .values_list("pk", "acquired_at", "lost_at", "value", "segment__rank")
    )
    ids = np.array([c[0] for c in customers], dtype=np.int64)
    index = pd.Index(ids)

    def positions(customer_ids) -> np.ndarray:
        return index.get_indexer(np.asarray(customer_ids, dtype=np.int64))

    rows = list(
        Response.objects.filter(customer__isnull=False)
        .filter(Q(nps__isnull=False) | Q(csat__isnull=False) | Q(ces__isnull=False))
        .values_list("customer_id", "submitted_at", "nps", "csat", "ces")
    )
    answers = pd.DataFrame(
        {
            "customer": positions([r[0] for r in rows]),
            "at": _moments([r[1] for r in rows]),
            **{
                q: pd.array([r[2 + i] for r in rows], dtype="Float64").to_numpy(dtype=float, na_value=np.nan)
                for i, q in enumerate(QUESTIONS)
            },
        }  # fmt: skip
    )
    answers = answers[answers["customer"] >= 0].sort_values(["customer", "at"], kind="stable").reset_index(drop=True)
    move_rows = list(
        Event.objects.filter(type=Event.Type.SEGMENT_MOVE).values_list(
            "customer_id", "occurred_at", "from_segment__rank", "to_segment__rank"
        )
    )
    moves = pd.DataFrame(
        {
            "customer": positions([r[0] for r in move_rows]),
            "at": _moments([r[1] for r in move_rows]),
            "from_rank": np.array([np.nan if r[2] is None else r[2] for r in move_rows], dtype=float),
            "to_rank": np.array([np.nan if r[3] is None else r[3] for r in move_rows], dtype=float),
        }
    )
    moves = moves[moves["customer"] >= 0].sort_values(["customer", "at"], kind="stable").reset_index(drop=True)
    counted = {}
    for feature in FEATURES:
        if isinstance(feature, CountFeature):
            pairs = list(feature.rows())
            found = positions([p[0] for p in pairs])
            at = _moments([p[1] for p in pairs])
            counted[feature.name] = (found[found >= 0], at[found >= 0])
    return History(
        customer_ids=ids,
        acquired=_moments([c[1] for c in customers]),
        lost=_moments([c[2] for c in customers]),
        value=np.array([float(c[3] or 0) for c in customers], dtype=float),
        rank=np.array([np.nan if c[4] is None else c[4] for c in customers], dtype=float),
        answers=answers,
        moves=moves,
        counted=counted,
    )


def _last_before(customer: np.ndarray, at: np.ndarray, cutoff: int) -> tuple[np.ndarray, np.ndarray]:
    """(customer positions, row indexes) of each customer's last row before the cutoff, for rows sorted by
    customer then time: a row is a customer's last one when the next kept row belongs to someone else."""
    kept = np.flatnonzero(at < cutoff)
    owners = customer[kept]
    last = np.ones(len(kept), dtype=bool)
    last[:-1] = owners[1:] != owners[:-1]
    return owners[last], kept[last]


def _on_active(active: np.ndarray, owners: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` of ``owners`` laid out over the active positions, NaN for the others."""
    out = np.full(len(active), np.nan)
    where = np.searchsorted(active, owners)
    inside = where < len(active)
    inside[inside] = active[where[inside]] == owners[inside]
    out[where[inside]] = values[inside]
    return out


def _latest_rows(frame: pd.DataFrame, active: np.ndarray, cutoff: int) -> pd.DataFrame:
    """Each active customer's last row before the cutoff (frame sorted by customer, at), NaN without one."""
    owners, rows = _last_before(frame["customer"].to_numpy(), frame["at"].to_numpy(), cutoff)
    return pd.DataFrame(
        {column: _on_active(active, owners, frame[column].to_numpy(dtype=float)[rows]) for column in frame.columns}
    )


def _answered(history: History, question: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The answers to ``question`` (customer, at, answer, the customer's answer before it), computed once:
    the answer before a row does not depend on the cutoff, as both come before it."""
    cache = history.__dict__.setdefault("_answered", {})
    if question not in cache:
        answered = history.answers[["customer", "at", question]].dropna(subset=[question])
        previous = answered.groupby("customer", sort=False)[question].shift(1)
        cache[question] = (
            answered["customer"].to_numpy(),
            answered["at"].to_numpy(),
            answered[question].to_numpy(dtype=float),
            previous.to_numpy(dtype=float),
        )
    return cache[question]


def _latest_answers(
    history: History, question: str, active: np.ndarray, cutoff: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(latest answer, the answer before it, when the latest came) to ``question`` before the cutoff."""
    customer, at, answer, previous = _answered(history, question)
    owners, rows = _last_before(customer, at, cutoff)
    return (
        _on_active(active, owners, answer[rows]),
        _on_active(active, owners, previous[rows]),
        _on_active(active, owners, at[rows].astype(float)),
    )


def _count(history: History, name: str, days: int, active: np.ndarray, cutoff: int) -> np.ndarray:
    positions, at = history.counted[name]
    inside = (at < cutoff) & (at >= cutoff - days * DAY_NS)
    counts = np.bincount(positions[inside], minlength=len(history.customer_ids))
    return counts[active].astype(float)


# --- features at a cutoff ---------------------------------------------------------------------------


def active_at(history: History, cutoff: int) -> np.ndarray:
    """Positions of the customers acquired before the cutoff and not lost before it."""
    return np.flatnonzero((history.acquired < cutoff) & (history.lost >= cutoff))


def features_at(history: History, cutoff: datetime) -> tuple[np.ndarray, pd.DataFrame]:
    """(active positions, one column per feature in FEATURES order) at the cutoff."""
    moment = _ns(cutoff)
    active = active_at(history, moment)
    columns = {}
    for feature in FEATURES:
        if isinstance(feature, CountFeature):
            columns[feature.name] = _count(history, feature.name, feature.days, active, moment)
        else:
            columns[feature.name] = feature.compute(history, active, moment)
    return active, pd.DataFrame(columns, columns=list(FEATURE_NAMES))


def labels_at(history: History, active: np.ndarray, cutoff: datetime) -> np.ndarray:
    """Lost within CHURN_RISK_HORIZON_DAYS after the cutoff."""
    end = _ns(cutoff + timedelta(days=CHURN_RISK_HORIZON_DAYS))
    return history.lost[active] < end

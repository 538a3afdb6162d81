"""The customer base at 00:00 of every day, by segment and NPS category then (CustomerStateDaily).

The customer-base and combined metrics ask who was an active customer at the start of a day, in which
segment, and with which NPS category (METRICS.md: "customers at start", "NPS category of a customer at
time t", revenue at risk and value by category for a past period). From the raw tables that is a pass
over every customer with a lookup of their segment moves and their latest answer; here it is one row
per day, segment and category, rebuilt from the raw tables by the worker in one statement.

Exactness rules (the read side is ``customer_state_at``):

* A day is only read when ``CustomerStateBuild.generation`` equals ``CustomerChanges.generation``
  (checked in the same statement as the read). Database triggers (dashboards migration 0002) bump the
  generation in the writer's own transaction on every write to the customers' acquisition, loss,
  status, segment and value columns, to the events, and to responses submitted more than
  ``LATE_MINUTES`` before the writing transaction began. Otherwise the metrics read the raw tables.
* The build reads everything from one snapshot taken after it holds the build lock, and records the
  generation of that snapshot. A live answer (stamped "now", committing within ``LATE_MINUTES``) can
  only change days after ``local date of (build time - 2 × LATE_MINUTES)``, so the build holds days up to
  that one (``through``) and no later.
* The definitions are those of dashboards.metrics: a customer counts at t = 00:00 of day D when
  ``acquired_at < t`` and (``lost_at`` is empty or ``>= t``), not a prospect; their segment at t is
  ``customers.segment_at``; their category is that of their latest NPS answer before t within 365
  days (``combined.nps_category_at``). Values are the customers' current values, as the raw metrics sum.

PostgreSQL only (date ranges, triggers); on SQLite ``customer_state_at`` returns None and the metrics
compute from the raw rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from crm_sync.models import Customer, Event
from surveys.models import Response

from .filters import site_timezone
from .models import CustomerChanges, CustomerStateBuild, CustomerStateDaily

# Must match the interval in the response triggers (dashboards/migrations/0002_customer_state.py).
LATE_MINUTES = 15
CATEGORY_WINDOW_DAYS = 365  # as dashboards.metrics.combined
ALL = "all"
CATEGORIES = ("promoter", "passive", "detractor")


@dataclass(frozen=True)
class BuildReport:
    built: bool
    rows: int = 0
    through: date | None = None
    generation: int | None = None
    seconds: float = 0.0


def _tables() -> dict[str, str]:
    return {
        "customers": Customer._meta.db_table,
        "events": Event._meta.db_table,
        "responses": Response._meta.db_table,
        "daily": CustomerStateDaily._meta.db_table,
        "build": CustomerStateBuild._meta.db_table,
        "changes": CustomerChanges._meta.db_table,
    }


def _through(now: datetime) -> date:
    return timezone.localtime(now - timedelta(minutes=2 * LATE_MINUTES), site_timezone()).date()


def _tz_name() -> str:
    return str(settings.TIME_ZONE)


# Per customer: the days they were active (acquired before the day began, not lost before it) cut into
# pieces by segment (from their segment moves, as customers.segment_at), and each piece cut again by
# the NPS category their latest answer gave them. Each piece becomes +1 / +value on its first day and
# -1 / -value on the day after its last; the state of a day is the running sum up to it.
_BUILD_SQL = """
WITH
base AS (
    SELECT id, segment_id, value,
           daterange((acquired_at AT TIME ZONE %(tz)s)::date + 1,
                     CASE WHEN lost_at IS NULL THEN NULL
                          ELSE GREATEST((lost_at AT TIME ZONE %(tz)s)::date + 1,
                                        (acquired_at AT TIME ZONE %(tz)s)::date + 1) END, '[)') AS active
    FROM {customers}
    WHERE status <> 'prospect' AND acquired_at IS NOT NULL
),
moves AS (
    SELECT customer_id, from_segment_id, to_segment_id, d,
           ROW_NUMBER() OVER w AS k, LEAD(d) OVER w AS next_d, LEAD(from_segment_id) OVER w AS next_from
    FROM (SELECT id, customer_id, from_segment_id, to_segment_id, occurred_at,
                 (occurred_at AT TIME ZONE %(tz)s)::date AS d
          FROM {events} WHERE type = 'segment_move') AS m
    WINDOW w AS (PARTITION BY customer_id ORDER BY occurred_at, id)
),
pieces AS (
    -- Up to the day of the first move: the move's origin.
    SELECT b.id, b.value, COALESCE(m.from_segment_id, b.segment_id) AS segment_id,
           b.active * daterange(NULL, m.d + 1, '[)') AS r
    FROM base b JOIN moves m ON m.customer_id = b.id AND m.k = 1
    UNION ALL
    -- After the last move of a day, up to the day of the next move: its target.
    SELECT b.id, b.value, COALESCE(m.to_segment_id, m.next_from, b.segment_id),
           b.active * daterange(m.d + 1, m.next_d + 1, '[)')
    FROM base b JOIN moves m ON m.customer_id = b.id
    WHERE m.next_d IS NULL OR m.next_d > m.d
    UNION ALL
    -- Never moved: their segment.
    SELECT b.id, b.value, b.segment_id, b.active
    FROM base b WHERE NOT EXISTS (SELECT 1 FROM moves m WHERE m.customer_id = b.id)
),
answers AS (
    SELECT customer_id, nps, d, LEAD(d) OVER w AS next_d
    FROM (SELECT id, customer_id, nps, submitted_at, (submitted_at AT TIME ZONE %(tz)s)::date AS d
          FROM {responses} WHERE customer_id IS NOT NULL AND nps IS NOT NULL) AS a
    WINDOW w AS (PARTITION BY customer_id ORDER BY submitted_at, id)
),
spells AS (
    -- From the day after an answer until the day of the next one, or 365 days.
    SELECT customer_id,
           CASE WHEN nps >= 9 THEN 'promoter' WHEN nps >= 7 THEN 'passive' ELSE 'detractor' END AS category,
           daterange(d + 1, LEAST(d + %(window)s, next_d) + 1, '[)') AS r
    FROM answers WHERE next_d IS NULL OR next_d > d
),
parts AS (
    SELECT COALESCE(segment_id, -1) AS segment_key, 'all' AS category, value, r FROM pieces WHERE NOT isempty(r)
    UNION ALL
    SELECT COALESCE(p.segment_id, -1), s.category, p.value, p.r * s.r
    FROM pieces p JOIN spells s ON s.customer_id = p.id AND p.r && s.r
),
deltas AS (
    SELECT day, segment_key, category, SUM(n) AS n, SUM(value) AS value FROM (
        SELECT lower(r) AS day, segment_key, category, 1 AS n, value FROM parts
        UNION ALL
        SELECT upper(r), segment_key, category, -1, -value FROM parts WHERE upper(r) IS NOT NULL
    ) AS signed
    WHERE day <= %(through)s
    GROUP BY 1, 2, 3
),
keys AS (SELECT DISTINCT segment_key, category FROM deltas),
bounds AS (SELECT MIN(day) AS first FROM deltas)
INSERT INTO {daily} (day, segment_id, category, customers, value)
SELECT g.day::date, NULLIF(k.segment_key, -1), k.category,
       SUM(COALESCE(d.n, 0)) OVER running, SUM(COALESCE(d.value, 0)) OVER running
FROM keys k
CROSS JOIN bounds
CROSS JOIN LATERAL generate_series(bounds.first, %(through)s::date, interval '1 day') AS g(day)
LEFT JOIN deltas d ON d.day = g.day::date AND d.segment_key = k.segment_key AND d.category = k.category
WINDOW running AS (PARTITION BY k.segment_key, k.category ORDER BY g.day)
"""


def customer_state_is_current() -> bool:
    """Whether the state holds every change and the days up to today's "through"."""
    if connection.vendor != "postgresql":
        return False
    build = CustomerStateBuild.objects.filter(pk=CustomerStateBuild.SINGLETON).first()
    changes = CustomerChanges.objects.filter(pk=CustomerChanges.SINGLETON).values_list("generation", flat=True).first()
    return bool(build and build.generation == changes and build.through >= _through(timezone.now()))


def customer_state_build(*, now: datetime | None = None, force: bool = False) -> BuildReport:
    """Rebuild CustomerStateDaily from the raw tables (PostgreSQL; a no-op elsewhere). Skipped when it
    is already current, unless ``force``. Safe to run concurrently: builds take turns (a table lock)."""
    if connection.vendor != "postgresql":
        return BuildReport(built=False)
    if not force and customer_state_is_current():
        return BuildReport(built=False)
    started = time.monotonic()
    now = now or timezone.now()
    # The changes row exists before the snapshot (the triggers upsert it too, should it be deleted).
    CustomerChanges.objects.get_or_create(pk=CustomerChanges.SINGLETON, defaults={"generation": 0})
    through = _through(now)
    t = _tables()
    nested = connection.in_atomic_block  # a test's transaction: its snapshot is the caller's
    with transaction.atomic(), connection.cursor() as cursor:
        if not nested:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        # Before any query, so the snapshot is taken once the lock is held: builds take turns, and
        # the readers (ACCESS SHARE) are never blocked.
        cursor.execute(f"LOCK TABLE {t['build']} IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute(f"SELECT generation FROM {t['changes']} WHERE id = %s", [CustomerChanges.SINGLETON])
        row = cursor.fetchone()
        generation = row[0] if row else 0
        cursor.execute(f"DELETE FROM {t['daily']}")
        cursor.execute(_BUILD_SQL.format(**t), {"tz": _tz_name(), "through": through, "window": CATEGORY_WINDOW_DAYS})
        rows = cursor.rowcount
        seconds = time.monotonic() - started
        cursor.execute(
            f"""INSERT INTO {t["build"]} (id, generation, through, built_at, seconds) VALUES (%s, %s, %s, %s, %s)
                ON CONFLICT (id) DO UPDATE SET generation = EXCLUDED.generation, through = EXCLUDED.through,
                built_at = EXCLUDED.built_at, seconds = EXCLUDED.seconds""",
            [CustomerStateBuild.SINGLETON, generation, through, now, seconds],
        )
    return BuildReport(built=True, rows=rows, through=through, generation=generation, seconds=seconds)


def customer_state_at(day: date, *, segment_id: int | None = None) -> dict[str, tuple[int, Decimal]] | None:
    """At 00:00 (site time) of ``day``: {category: (customers, value)} for "all", "promoter",
    "passive", "detractor" and "no_response" (the active customers without a category), in segment
    ``segment_id`` then (any segment when None); None when the state cannot answer (not built, a
    change since, a day it does not hold, SQLite): the caller computes from the raw rows."""
    if connection.vendor != "postgresql":
        return None
    t = _tables()
    segment_sql, params = "", [day, day]
    if segment_id is not None:
        segment_sql, params = " AND d.segment_id = %s", [day, day, segment_id]
    sql = (
        "SELECT v.ok, d.category, SUM(d.customers), SUM(d.value) "
        f"FROM (SELECT (b.generation = c.generation AND b.through >= %s) AS ok FROM {t['build']} b "
        f"JOIN {t['changes']} c ON c.id = {CustomerChanges.SINGLETON} WHERE b.id = {CustomerStateBuild.SINGLETON}) v "
        f"LEFT JOIN {t['daily']} d ON v.ok AND d.day = %s{segment_sql} GROUP BY v.ok, d.category"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows or not rows[0][0]:
        return None
    found = {category: (int(n), Decimal(value)) for _ok, category, n, value in rows if category is not None}
    state = {name: found.get(name, (0, Decimal(0))) for name in (ALL, *CATEGORIES)}
    total_n, total_value = state[ALL]
    state["no_response"] = (
        total_n - sum(state[c][0] for c in CATEGORIES),
        total_value - sum((state[c][1] for c in CATEGORIES), Decimal(0)),
    )
    return state


def state_day(moment: datetime) -> date | None:
    """The day whose 00:00 (site time) is ``moment``, or None when ``moment`` is not a day's start."""
    local = timezone.localtime(moment, site_timezone())
    if (local.hour, local.minute, local.second, local.microsecond) != (0, 0, 0, 0):
        return None
    return local.date()

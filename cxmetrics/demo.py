"""A deterministic, realistic demo data set, generated in bulk.

Each customer has a hidden sentiment that drives everything the product
measures: their survey scores, whether they are lost (detractors leave more
often, and for other reasons), whether they refer others, and whether they
move up or down the value segments. The same seed, size and end date always
give the same data. Arrays are generated with numpy, a whole column at a time;
nothing loops over customers or responses in Python except to stream rows into
the database.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
from django.contrib.auth.models import Group, User
from django.db import connection, transaction
from django.utils import timezone

from comments.bench import PARTS as COMMENT_PARTS
from comments.services import comments_catch_up, complaints_catch_up
from complaints.models import Complaint, ComplaintCategory
from crm_sync.models import Connection
from customers.models import Customer, Event, Segment
from metrics.refresh import rollups_rebuild
from surveys.models import AttributeScore, Invitation, Question, Response, Survey

from .demo_bulk import bulk_insert, indexes_built_after, next_id, sequence_reset
from .demo_comments import CommentWriter

DEMO_CONNECTION = "Demo data"

SEGMENTS = [  # name, rank, share of customers, median annual revenue
    ("Strategic", 4, 0.05, 240_000),
    ("Key", 3, 0.15, 75_000),
    ("Growth", 2, 0.30, 22_000),
    ("Standard", 1, 0.50, 5_500),
]
LOST_REASONS_UNHAPPY = ["Service quality", "Switched to a competitor", "Billing problems", "Product gaps"]
LOST_REASONS_OTHER = ["Price", "No longer needed", "Company closed", "Budget cuts"]
ATTRIBUTES = ["product quality", "delivery speed", "support responsiveness", "value for money"]
ATTRIBUTE_QUESTIONS_ES = {
    "product quality": "¿Cómo valora la calidad de nuestros productos?",
    "delivery speed": "¿Cómo valora la rapidez de nuestras entregas?",
    "support responsiveness": "¿Cómo valora la capacidad de respuesta de nuestro soporte?",
    "value for money": "¿Cómo valora la relación calidad-precio?",
}
ATTRIBUTE_NAMES_ES = {
    "product quality": "calidad del producto",
    "delivery speed": "rapidez de entrega",
    "support responsiveness": "respuesta del soporte",
    "value for money": "relación calidad-precio",
}
NAME_A = ["Acme", "Nova", "Blue", "Iber", "Sol", "Andes", "Norte", "Delta", "Pacific", "Atlas", "Luna", "Vega"]
NAME_B = ["Logistics", "Foods", "Retail", "Health", "Energy", "Textiles", "Motors", "Pharma", "Media", "Labs"]
NAME_C = ["S.A.", "Ltd", "GmbH", "S.L.", "Inc", "Group"]
COUNTRIES_EN = ["US", "GB", "IE", "CA"]
COUNTRIES_ES = ["ES", "MX", "AR", "CO", "CL"]


@dataclass(frozen=True)
class DemoSummary:
    segments: int
    customers: int
    events: int
    surveys: int
    invitations: int
    responses: int


class DemoDataExists(Exception):
    pass


# connection.ops.adapt_datetimefield_value, looked up once per seed_demo: going through the connection
# proxy for each of the ~10 million timestamps of the benchmark's data set took most of a minute.
_adapt_datetime = None


def _db_datetime(moment: datetime):
    """A datetime as the database backend stores it (on SQLite: naive UTC text "YYYY-MM-DD HH:MM:SS",
    which Django's date functions expect), since rows bypass the ORM."""
    return (_adapt_datetime or connection.ops.adapt_datetimefield_value)(moment)


def _iso(seconds: float):
    return _db_datetime(datetime.fromtimestamp(int(seconds), tz=UTC))


def _segment_at(t: np.ndarray, initial: np.ndarray, move_times: np.ndarray, move_to: np.ndarray) -> np.ndarray:
    """Segment rank index of each row at time t, given up to K moves per customer (NaN = no move)."""
    seg = initial.copy()
    for j in range(move_times.shape[1]):
        moved = move_times[:, j] <= t
        seg = np.where(moved, move_to[:, j], seg)
    return seg


def _skip_row_triggers_if_allowed() -> None:
    """On PostgreSQL, skip the per-row foreign-key triggers for this transaction, as pg_restore
    --disable-triggers does: the generator builds consistent rows by construction, and checking
    millions of deferred constraints at COMMIT is most of the load time. Needs a superuser; without
    one the constraints are simply checked as usual."""
    from django.db import DatabaseError

    if connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
    except DatabaseError:
        pass


def demo_folder_ensure() -> Path | None:
    """Create the folder the demo CSV connection reads, so that its scheduled sync finds it on a fresh
    install instead of failing with "the import folder does not exist". None without a demo connection."""
    from crm_sync.connectors.csv_files import CsvFilesConnector

    connection_row = Connection.objects.filter(name=DEMO_CONNECTION, kind=Connection.Kind.CSV).first()
    if connection_row is None:
        return None
    folder = CsvFilesConnector(connection_row).folder()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def demo_users_ensure() -> list[tuple[str, str, str]]:
    """The demo admin and CX manager; returns (role, username, password) for printing."""
    created = []
    group, _ = Group.objects.get_or_create(name="CX managers")
    if not User.objects.filter(username="admin").exists():
        User.objects.create_superuser("admin", "admin@example.com", "admin-demo-2026")
    created.append(("admin (staff, Django admin)", "admin", "admin-demo-2026"))
    manager, made = User.objects.get_or_create(username="manager", defaults={"email": "manager@example.com"})
    if made:
        manager.set_password("manager-demo-2026")
        manager.save()
    manager.groups.add(group)
    created.append(("CX manager (dashboards)", "manager", "manager-demo-2026"))
    return created


def _create_surveys() -> dict[str, tuple[Survey, dict[str, int]]]:
    """The three demo surveys with their questions; returns slug → (survey, kind/attribute → question id)."""
    specs = [
        dict(
            name="Relational NPS",
            title_es="NPS relacional",
            slug="relational-nps",
            survey_type="relational",
            touchpoint="relationship",
            questions=[
                (
                    "nps",
                    "How likely are you to recommend us to a friend or colleague?",
                    "¿Qué probabilidad hay de que nos recomiende a un amigo o colega?",
                    "",
                ),
                (
                    "text",
                    "What is the main reason for your score?",
                    "¿Cuál es el motivo principal de su puntuación?",
                    "",
                ),
                (
                    "likelihood_switch",
                    "How likely are you to switch to a competitor in the next year?",
                    "¿Qué probabilidad hay de que se cambie a un competidor el próximo año?",
                    "",
                ),
                (
                    "likelihood_repurchase",
                    "How likely are you to buy from us again?",
                    "¿Qué probabilidad hay de que vuelva a comprarnos?",
                    "",
                ),
                (
                    "overall",
                    "Overall, how would you rate your experience with us?",
                    "En general, ¿cómo valora su experiencia con nosotros?",
                    "",
                ),
                (
                    "trust",
                    "How much do you trust us to do what is right for you?",
                    "¿Cuánto confía en que hagamos lo correcto por usted?",
                    "",
                ),
            ]
            + [("attribute", f"How do you rate our {a}?", ATTRIBUTE_QUESTIONS_ES[a], a) for a in ATTRIBUTES],
        ),
        dict(
            name="Delivery CSAT",
            title_es="CSAT de entrega",
            slug="delivery-csat",
            survey_type="transactional",
            touchpoint="delivery",
            questions=[
                (
                    "csat",
                    "How satisfied are you with your last delivery?",
                    "¿Qué tan satisfecho está con su última entrega?",
                    "",
                ),
                ("text", "What could we do better?", "¿Qué podríamos mejorar?", ""),
            ],
        ),
        dict(
            name="Support CES",
            title_es="CES de soporte",
            slug="support-ces",
            survey_type="transactional",
            touchpoint="support",
            questions=[
                (
                    "ces",
                    "The company made it easy for me to handle my issue.",
                    "La empresa me facilitó la gestión de mi problema.",
                    "",
                ),
                ("text", "What made it easy or hard?", "¿Qué lo hizo fácil o difícil?", ""),
            ],
        ),
    ]
    out = {}
    for spec in specs:
        survey, _ = Survey.objects.get_or_create(
            slug=spec["slug"],
            defaults=dict(
                name=spec["name"],
                survey_type=spec["survey_type"],
                touchpoint=spec["touchpoint"],
                audience="b2b",
                languages=["en", "es"],
                title_en=spec["name"],
                title_es=spec["title_es"],
                intro_en="It takes less than two minutes. Thank you for helping us improve.",
                intro_es="Le llevará menos de dos minutos. Gracias por ayudarnos a mejorar.",
                thanks_en="Thank you! Your answers have been recorded.",
                thanks_es="¡Gracias! Hemos registrado sus respuestas.",
                allow_public_link=spec["slug"] == "support-ces",
                reminder_delay_days=5,
            ),
        )
        ids: dict[str, int] = {}
        if not survey.questions.exists():
            for order, (kind, text_en, text_es, attribute) in enumerate(spec["questions"]):
                question = Question.objects.create(
                    survey=survey,
                    order=order,
                    kind=kind,
                    text_en=text_en,
                    text_es=text_es,
                    attribute=attribute,
                    attribute_es=ATTRIBUTE_NAMES_ES.get(attribute, ""),
                    required=kind in {"nps", "csat", "ces"},
                )
                ids[attribute or kind] = question.id
        else:
            for question in survey.questions.all():
                ids[question.attribute or question.kind] = question.id
        out[spec["slug"]] = (survey, ids)
    return out


SENTIMENT = (0.0, 1.0)  # mean and spread of the customers' hidden sentiment
YEAR_DAYS = 365.25


def _loss_hazard(sentiment: np.ndarray) -> np.ndarray:
    """Yearly loss hazard by sentiment: 45 % for the unhappiest, 15 % in the middle, 7.5 % for the happiest."""
    return 0.15 + 0.30 * (sentiment < -0.2) - 0.075 * (sentiment > 0.9)


def _hazard_bands() -> list[tuple[float, float, float, float]]:
    """(low, high, share of new customers, yearly hazard) for the three bands of _loss_hazard."""
    mean, spread = SENTIMENT
    cdf = [0.0, *(0.5 * (1 + math.erf((x - mean) / (spread * math.sqrt(2)))) for x in (-0.2, 0.9)), 1.0]
    edges = [-math.inf, -0.2, 0.9, math.inf]
    mids = [-1.0, 0.35, 2.0]
    return [
        (edges[k], edges[k + 1], cdf[k + 1] - cdf[k], float(_loss_hazard(np.array([mids[k]]))[0])) for k in range(3)
    ]


MEAN_LIFETIME_YEARS = sum(share / hazard for _, _, share, hazard in _hazard_bands())  # about 6.0


def existing_share(months: int) -> float:
    """Share of the data set's customers already there when a window of ``months`` opens, for a steady
    base: customers won in the window (a base's worth every MEAN_LIFETIME_YEARS) to those already there."""
    return MEAN_LIFETIME_YEARS / (MEAN_LIFETIME_YEARS + months / 12)


def longer_history(
    *, customers: int, months: int, new_months: int, responses: int | None = None, events: int | None = None
) -> dict:
    """seed_demo's arguments for the same company over ``new_months`` instead of ``months``: the same steady
    base, and the same customers won and lost, answers and segment moves per day. The customers already there
    when the window opens count once however long it is (so do their `new` events); the rest grows with it."""
    base = customers * existing_share(months)
    factor = new_months / months
    return {
        "customers": int(round(base * (1 + new_months / 12 / MEAN_LIFETIME_YEARS))),
        "months": new_months,
        "responses": None if responses is None else int(round(responses * factor)),
        "events": None if events is None else int(round(base + (events - base) * factor)),
    }


def _steady_sentiment(rng: np.random.Generator, count: int) -> np.ndarray:
    """Sentiments of a steady base: the new customers' distribution weighted by each one's expected lifetime,
    drawn per hazard band (a band by its share of the base, then a normal truncated to the band)."""
    bands = _hazard_bands()
    weights = np.array([share / hazard for _, _, share, hazard in bands])
    per_band = rng.multinomial(count, weights / weights.sum())
    parts = []
    for (low, high, share, _), k in zip(bands, per_band, strict=True):
        drawn = np.empty(0)
        while len(drawn) < k:
            more = rng.normal(*SENTIMENT, int(k / share * 1.2) + 16)
            drawn = np.concatenate([drawn, more[(more >= low) & (more < high)]])
        parts.append(drawn[:k])
    return np.concatenate(parts)


def _active_at(moment: float, acquired: np.ndarray, lost_at: np.ndarray, lost_flag: np.ndarray) -> int:
    return int(np.count_nonzero((acquired <= moment) & (~lost_flag | (lost_at > moment))))


def _category(nps: np.ndarray) -> np.ndarray:
    return np.where(nps >= 9, "promoter", np.where(nps >= 7, "passive", "detractor"))


# The demo `make run` loads and `seed_demo` writes by default: three years, so the churn-risk model has a
# year of outcomes before its test cutoff and a year of history before that, and five answers per
# customer, so the latest scores and their changes say something (out-of-time AUC about 0.66-0.70;
# 18 months gave no training history and a weak model).
DEMO_CUSTOMERS = 2000
DEMO_MONTHS = 36
DEMO_RESPONSES_PER_CUSTOMER = 5


def demo_model_train():
    """Train the churn-risk model on the history just seeded, so the Value page shows it at once (a
    site trains it nightly). Returns the run."""
    from churn.services import churn_risk_run_claim, churn_risk_run_start, churn_risk_train

    return churn_risk_train(run=churn_risk_run_claim(run_id=churn_risk_run_start().pk))


def demo_size(customers: int = DEMO_CUSTOMERS) -> dict:
    """``seed_demo``'s arguments for the demo data set of ``customers`` customers."""
    return {"customers": customers, "months": DEMO_MONTHS, "responses": DEMO_RESPONSES_PER_CUSTOMER * customers}


def seed_demo(
    *,
    customers: int = 2000,
    months: int = 18,
    seed: int = 42,
    end: date | None = None,
    responses: int | None = None,
    events: int | None = None,
) -> DemoSummary:
    """Generate the demo data set into an empty customer base.

    ``responses`` sets the approximate number of survey responses (default: what
    the customer base naturally produces, about one per customer per year and survey);
    ``events`` the approximate size of the CRM event log (default: about 1.6 per customer),
    reached by letting customers move between segments more often.
    """
    if customers < 10 or months < 1:
        raise ValueError("seed_demo needs at least 10 customers and 1 month.")
    if Customer.objects.exists():
        raise DemoDataExists("The database already holds customers; seed_demo only fills an empty database.")
    global _adapt_datetime
    _adapt_datetime = connection.ops.adapt_datetimefield_value
    rng = np.random.default_rng(seed)
    end = end or timezone.localdate()
    end_ts = datetime.combine(end, datetime.max.time()).replace(tzinfo=UTC).timestamp() - 3600
    window_days = int(round(months * 30.44))
    start_ts = end_ts - window_days * 86400
    day = 86400.0

    # The tables the load fills are empty: their secondary indexes are built once, after it.
    loaded = [model._meta.db_table for model in (Customer, Event, Invitation, Response, AttributeScore)]
    with transaction.atomic(), indexes_built_after(loaded):
        _skip_row_triggers_if_allowed()
        segments = []
        for name, rank, _share, _median in SEGMENTS:
            seg, _ = Segment.objects.get_or_create(name=name, defaults={"rank": rank})
            segments.append(seg)
        seg_ids = np.array([s.id for s in segments])  # index 0 = highest rank
        connection_row, _ = Connection.objects.get_or_create(
            # No folder of its own: it reads CRM_SYNC_CSV_DIR, an absolute path under the var folder that
            # demo_folder_ensure creates (a relative folder depended on where the worker was started).
            name=DEMO_CONNECTION,
            defaults={"kind": Connection.Kind.CSV, "settings": {}},
        )
        n = customers
        # A steady customer base: the customers already there when the window opens are drawn from the
        # base's long-run mix (happy customers stay longer, so there are more of them than among new
        # ones), and customers are won at the rate they are lost. A longer window at the same base
        # therefore adds history, not a bigger company (see customers_for_months).
        n_existing = int(round(n * existing_share(months)))
        sentiment = np.concatenate([_steady_sentiment(rng, n_existing), rng.normal(*SENTIMENT, n - n_existing)])
        existing = np.arange(n) < n_existing
        order = rng.permutation(n)
        sentiment, existing = sentiment[order], existing[order]
        seg_idx = rng.choice(len(SEGMENTS), size=n, p=[s[2] for s in SEGMENTS])
        medians = np.array([s[3] for s in SEGMENTS], dtype=float)
        value = np.round(medians[seg_idx] * rng.lognormal(0, 0.45, n), 2)
        spanish = rng.random(n) < 0.3
        acquired = np.where(
            existing,
            start_ts - rng.uniform(30, 3 * 365, n) * day,
            start_ts + rng.uniform(0, window_days - 1, n) * day,
        )
        # Loss: a constant yearly hazard, about six times as high for detractor-ish customers as for
        # the happiest ones; nobody leaves in their first 20 days.
        loss_from = np.maximum(acquired + 20 * day, start_ts)
        lost_at = loss_from + rng.exponential(1.0, n) / _loss_hazard(sentiment) * YEAR_DAYS * day
        lost_flag = lost_at < end_ts
        unhappy = sentiment < 0
        reason_idx = rng.integers(0, 4, n)
        lost_reason = np.where(
            unhappy, np.array(LOST_REASONS_UNHAPPY)[reason_idx], np.array(LOST_REASONS_OTHER)[reason_idx]
        )
        # Segment moves: at a constant rate over each customer's time in the window (so a longer
        # history at the same base does not crowd the recent months), upgrades likelier for happy customers.
        life_end = np.where(lost_flag, lost_at, end_ts)
        life_start = np.maximum(acquired, start_ts)
        life_years = np.maximum(life_end - life_start, 0) / (YEAR_DAYS * day)
        # What a real base shows before a loss, planted with a generator of its own (the draws above and
        # below stay as they were): operational incidents (returns and claims) at a rate that grows as
        # sentiment falls, and one more in the months before most "unhappy" losses.
        plant = np.random.default_rng([seed, 21])
        incident_rate = 0.25 + 0.6 * (sentiment < -0.2) + 0.25 * (sentiment < 0.5)
        incident_count = plant.poisson(incident_rate * life_years)
        incident_owner = np.repeat(np.arange(n), incident_count)
        incident_time = life_start[incident_owner] + plant.random(len(incident_owner)) * (
            life_end[incident_owner] - life_start[incident_owner]
        )
        before_loss = np.flatnonzero(lost_flag & unhappy & (plant.random(n) < 0.6))
        before_time = lost_at[before_loss] - plant.uniform(7, 80, len(before_loss)) * day
        kept = before_time > life_start[before_loss]
        incident_owner = np.concatenate([incident_owner, before_loss[kept]])
        incident_time = np.concatenate([incident_time, before_time[kept]])
        incident_type = np.where(plant.random(len(incident_owner)) < 0.5, "return", "claim")
        moves_per_year = 0.27
        if events:
            # What the other events leave: one `new` per customer, the losses, the incidents, and about two
            # referral events (a customer and a prospect) per eight customers won in the window.
            others = n + int(lost_flag.sum()) + 0.24 * (n - n_existing) + len(incident_owner)
            moves_per_year = max(events - others, 0.0) / max(float(life_years.sum()), 1e-9)
        move_count = rng.poisson(moves_per_year * life_years)
        max_moves = max(int(move_count.max()), 1)
        # Each customer's moves at sorted uniform points of their time in the window; unused slots sort last.
        slot_times = rng.random((n, max_moves))
        slot_times[np.arange(max_moves) >= move_count[:, None]] = 2.0
        slot_times.sort(axis=1)
        move_times = np.full((n, max_moves), np.inf)
        move_to = np.zeros((n, max_moves), dtype=np.int8)
        current = seg_idx.copy()
        for j in range(max_moves):
            moves = move_count > j
            t = life_start + slot_times[:, j] * (life_end - life_start)
            up = rng.random(n) < np.clip(0.5 + 0.25 * sentiment, 0.1, 0.9)
            # In the year before a loss most moves are downgrades.
            up &= ~(lost_flag & (t < lost_at) & (lost_at - t < YEAR_DAYS * day) & (plant.random(n) < 0.7))
            target = np.where(up, current - 1, current + 1)  # index 0 is the top segment
            # At the top or the bottom, the only move left is the other way.
            target = np.where(target < 0, current + 1, np.where(target >= len(SEGMENTS), current - 1, target))
            valid = moves & (target >= 0) & (target < len(SEGMENTS)) & (t < life_end)
            move_times[valid, j] = t[valid]
            move_to[valid, j] = target[valid]
            current = np.where(valid, target, current)

        # Referrals: 12 % of customers acquired in the window were referred by a happy customer;
        # as many referred parties again never became customers (prospects).
        first_id = next_id(Customer._meta.db_table)
        cust_ids = np.arange(first_id, first_id + n)
        happy_idx = np.flatnonzero(sentiment > 0.6)
        happy_idx = happy_idx[np.argsort(acquired[happy_idx])]
        happy_acq = acquired[happy_idx]
        referred_mask = (~existing) & (rng.random(n) < 0.12)
        referral_time = acquired - rng.uniform(5, 80, n) * day
        eligible = np.searchsorted(happy_acq, referral_time)
        referred_mask &= eligible > 0
        referrer = np.full(n, -1)
        pick = (rng.random(n) * np.maximum(eligible, 1)).astype(int)
        referrer[referred_mask] = happy_idx[pick[referred_mask]]
        n_prospects = int(referred_mask.sum())
        prospect_referrer = (
            happy_idx[rng.integers(0, len(happy_idx), n_prospects)] if len(happy_idx) else np.zeros(0, dtype=int)
        )
        n_prospects = len(prospect_referrer)
        prospect_time = np.maximum(acquired[prospect_referrer] + 30 * day, start_ts) + rng.random(n_prospects) * (
            end_ts - np.maximum(acquired[prospect_referrer] + 30 * day, start_ts)
        )
        keep = prospect_time < end_ts
        prospect_referrer = np.asarray(prospect_referrer)[keep]
        prospect_time = prospect_time[keep]
        n_prospects = len(prospect_referrer)

        names = [
            f"{NAME_A[a]} {NAME_B[b]} {NAME_C[c]} {i + 1}"
            for i, (a, b, c) in enumerate(
                zip(
                    rng.integers(0, len(NAME_A), n),
                    rng.integers(0, len(NAME_B), n),
                    rng.integers(0, len(NAME_C), n),
                    strict=True,
                )
            )
        ]
        country = np.where(
            spanish, np.array(COUNTRIES_ES)[rng.integers(0, 5, n)], np.array(COUNTRIES_EN)[rng.integers(0, 4, n)]
        )
        now = _db_datetime(timezone.now())
        final_seg = seg_ids[current]
        cust_cols = [
            "id",
            "connection_id",
            "external_id",
            "name",
            "email",
            "language",
            "country",
            "audience",
            "value",
            "segment_id",
            "status",
            "acquired_at",
            "lost_at",
            "lost_reason",
            "referred_by_id",
            "created_at",
            "updated_at",
        ]

        def customer_rows():
            for i in range(n):
                lost = bool(lost_flag[i])
                yield (
                    int(cust_ids[i]),
                    connection_row.id,
                    f"DEMO-{i + 1:06d}",
                    names[i],
                    f"contact{i + 1}@customer{i + 1}.example.com",
                    "es" if spanish[i] else "en",
                    country[i],
                    "b2b",
                    float(value[i]),
                    int(final_seg[i]),
                    "lost" if lost else "active",
                    _iso(acquired[i]),
                    _iso(lost_at[i]) if lost else None,
                    lost_reason[i] if lost else "",
                    int(cust_ids[referrer[i]]) if referrer[i] >= 0 else None,
                    now,
                    now,
                )
            for k in range(n_prospects):
                yield (
                    int(first_id + n + k),
                    connection_row.id,
                    f"PROSPECT-{k + 1:06d}",
                    f"Prospect {k + 1}",
                    f"lead{k + 1}@prospect{k + 1}.example.com",
                    "en",
                    "",
                    "b2b",
                    0.0,
                    None,
                    "prospect",
                    None,
                    None,
                    "",
                    int(cust_ids[prospect_referrer[k]]),
                    now,
                    now,
                )

        bulk_insert(Customer._meta.db_table, cust_cols, customer_rows())

        # The event log.
        ev_cols = [
            "connection_id",
            "source_key",
            "type",
            "occurred_at",
            "customer_id",
            "value",
            "reason",
            "segment_id",
            "from_segment_id",
            "to_segment_id",
            "referrer_id",
            "created_at",
        ]
        conn_id = connection_row.id

        def event_rows():
            for i in range(n):
                cid = int(cust_ids[i])
                ext = f"DEMO-{i + 1:06d}"
                yield (
                    conn_id,
                    f"demo:{ext}:new",
                    "new",
                    _iso(acquired[i]),
                    cid,
                    float(value[i]),
                    "",
                    int(seg_ids[seg_idx[i]]),
                    None,
                    None,
                    None,
                    now,
                )
                before = seg_idx[i]
                for j in range(int(move_count[i])):
                    if np.isfinite(move_times[i, j]):
                        to = move_to[i, j]
                        yield (
                            conn_id,
                            f"demo:{ext}:move:{j}",
                            "segment_move",
                            _iso(move_times[i, j]),
                            cid,
                            float(value[i]),
                            "",
                            int(seg_ids[before]),
                            int(seg_ids[before]),
                            int(seg_ids[to]),
                            None,
                            now,
                        )
                        before = to
                if lost_flag[i]:
                    yield (
                        conn_id,
                        f"demo:{ext}:lost",
                        "lost",
                        _iso(lost_at[i]),
                        cid,
                        float(value[i]),
                        lost_reason[i],
                        int(final_seg[i]),
                        None,
                        None,
                        None,
                        now,
                    )
            io = incident_owner
            incident_seg = _segment_at(incident_time, seg_idx[io], move_times[io], move_to[io])
            for k, (i, moment, kind, seg) in enumerate(
                zip(incident_owner, incident_time, incident_type, incident_seg, strict=True)
            ):
                yield (
                    conn_id,
                    f"demo:DEMO-{i + 1:06d}:{kind}:{k}",
                    str(kind),
                    _iso(moment),
                    int(cust_ids[i]),
                    float(value[i]),
                    "",
                    int(seg_ids[seg]),
                    None,
                    None,
                    None,
                    now,
                )
            referred = np.flatnonzero(referrer >= 0)
            by = referrer[referred]
            ref_seg = _segment_at(referral_time[referred], seg_idx[by], move_times[by], move_to[by])
            for i, r, seg in zip(referred, by, ref_seg, strict=True):
                yield (
                    conn_id,
                    f"demo:referral:DEMO-{r + 1:06d}:DEMO-{i + 1:06d}",
                    "referral",
                    _iso(referral_time[i]),
                    int(cust_ids[i]),
                    None,
                    "",
                    int(seg_ids[seg]),
                    None,
                    None,
                    int(cust_ids[r]),
                    now,
                )
            pr = prospect_referrer.astype(int)
            prospect_seg = _segment_at(prospect_time, seg_idx[pr], move_times[pr], move_to[pr])
            for k in range(n_prospects):
                r = int(prospect_referrer[k])
                yield (
                    conn_id,
                    f"demo:referral:DEMO-{r + 1:06d}:PROSPECT-{k + 1:06d}",
                    "referral",
                    _iso(prospect_time[k]),
                    int(first_id + n + k),
                    None,
                    "",
                    int(seg_ids[prospect_seg[k]]),
                    None,
                    None,
                    int(cust_ids[r]),
                    now,
                )

        events = bulk_insert(Event._meta.db_table, ev_cols, event_rows())

        # Surveys: a rolling relational survey (a third of the quarterly sample every month, so the
        # NPS trend has a point each month) and monthly transactional samples.
        surveys = _create_surveys()
        # The monthly cycle is counted back from the end, so the last weeks look the same however long the
        # window is (a longer history at the same base differs only in what lies further back).
        waves: list[tuple[str, float, float]] = []  # slug, send time, share of active customers invited
        cycles = int((end_ts - 24 * day - (start_ts + 3 * day)) // (30 * day)) + 1
        for k in reversed(range(max(cycles, 0))):
            t = end_ts - 24 * day - k * 30 * day
            waves.append(("relational-nps", t + 7 * day, 0.55 / 3))
            waves.append(("delivery-csat", t, 0.10))
            waves.append(("support-ces", t + 14 * day, 0.06))
        if responses:
            # Scale the invitation shares to reach the requested number of responses; a share above 1
            # becomes several invitations per customer and wave (separate transactions).
            natural = sum(share * _active_at(ts, acquired, lost_at, lost_flag) for _, ts, share in waves) * 0.33
            factor = responses / max(natural, 1.0)
            waves = [(slug, ts, share * factor) for slug, ts, share in waves]

        inv_first = next_id(Invitation._meta.db_table)
        resp_first = next_id(Response._meta.db_table)
        inv_cols = [
            "id",
            "survey_id",
            "customer_id",
            "token",
            "language",
            "segment_id",
            "status",
            "channel",
            "idempotency_key",
            "created_at",
            "sent_at",
            "opened_at",
            "responded_at",
            "reminded_at",
            "attempts",
            "error",
        ]
        resp_cols = [
            "id",
            "survey_id",
            "invitation_id",
            "customer_id",
            "segment_id",
            "survey_type",
            "touchpoint",
            "audience",
            "language",
            "channel",
            "submitted_at",
            "external_id",
            "nps",
            "csat",
            "ces",
            "likelihood_switch",
            "likelihood_repurchase",
            "overall",
            "trust",
            "comment",
            "answers",
        ]
        attr_cols = ["response_id", "attribute", "score", "submitted_at", "survey_id", "segment_id"]
        inv_batches, resp_batches, attr_batches = [], [], []
        inv_next, resp_next = inv_first, resp_first
        for slug, wave_ts, wave_share in waves:
            survey, qids = surveys[slug]
            repeats = max(int(np.ceil(wave_share)), 1)
            share = wave_share / repeats
            for rep in range(repeats):
                send = wave_ts + rep * 2 * day + rng.uniform(0, 2, n) * day
                active = (acquired <= send) & (~lost_flag | (lost_at > send)) & (send < end_ts)
                chosen = np.flatnonzero(active & (rng.random(n) < share))
                if not len(chosen):
                    continue
                m = len(chosen)
                s = sentiment[chosen]
                sent_at = send[chosen]
                status = np.where(rng.random(m) < 0.03, "bounced", np.where(rng.random(m) < 0.01, "failed", "sent"))
                p_resp = np.clip(0.30 + 0.08 * s, 0.05, 0.6)
                delay = rng.exponential(1.8, m) * day + 600
                submitted = sent_at + delay
                answered = (status == "sent") & (rng.random(m) < p_resp) & (submitted < end_ts)
                answered &= ~lost_flag[chosen] | (lost_at[chosen] > submitted)
                opened = answered | ((status == "sent") & (rng.random(m) < 0.2))
                seg_at_send = seg_ids[_segment_at(sent_at, seg_idx[chosen], move_times[chosen], move_to[chosen])]
                seg_at_resp = seg_ids[_segment_at(submitted, seg_idx[chosen], move_times[chosen], move_to[chosen])]
                inv_ids = np.arange(inv_next, inv_next + m)
                inv_next += m
                tokens = os.urandom(16 * m)  # personal links stay unguessable
                inv_batches.append(
                    dict(
                        ids=inv_ids,
                        survey=survey.id,
                        customers=cust_ids[chosen],
                        spanish=spanish[chosen],
                        seg=seg_at_send,
                        status=status,
                        sent_at=sent_at,
                        opened=opened,
                        answered=answered,
                        submitted=submitted,
                        tokens=tokens,
                    )
                )
                idx = np.flatnonzero(answered)
                k = len(idx)
                if not k:
                    continue
                s = s[idx]
                noise = rng.normal(0, 1.1, (6, k))
                scores = {
                    "nps": np.clip(np.rint(7.4 + 2.1 * s + noise[0]), 0, 10),
                    "overall": np.clip(np.rint(3.7 + 0.8 * s + 0.5 * noise[1]), 1, 5),
                    "likelihood_switch": np.clip(np.rint(3.2 - 2.0 * s + noise[2]), 0, 10),
                    "likelihood_repurchase": np.clip(np.rint(7.6 + 1.7 * s + noise[3]), 0, 10),
                    "csat": np.clip(np.rint(3.9 + 0.8 * s + 0.6 * noise[4]), 1, 5),
                    "ces": np.clip(np.rint(5.2 + 1.0 * s + 0.8 * noise[5]), 1, 7),
                    # From the draws above, so the trust answers change no other demo figure.
                    "trust": np.clip(np.rint(3.8 + 0.8 * s + 0.45 * (noise[1] - noise[4])), 1, 5),
                }
                # Scores fall in the months before a loss: the closer the loss, the lower.
                who = chosen[idx]
                to_loss = np.where(lost_flag[who], (lost_at[who] - submitted[idx]) / day, np.inf)
                fall = np.clip(1.0 - to_loss / 240.0, 0.0, 1.0) * (plant.random(k) < 0.8)
                scores["nps"] = np.clip(np.rint(scores["nps"] - 4 * fall), 0, 10)
                scores["csat"] = np.clip(np.rint(scores["csat"] - 1.5 * fall), 1, 5)
                scores["ces"] = np.clip(np.rint(scores["ces"] - 2 * fall), 1, 7)
                attr_scores = {
                    a: np.clip(np.rint(3.6 + w * s + rng.normal(0, 0.8, k)), 1, 5)
                    for a, w in zip(ATTRIBUTES, [0.9, 0.5, 0.8, 0.3], strict=True)
                }
                lang = np.where(spanish[chosen][idx], "es", "en")
                category_basis = (
                    scores["nps"]
                    if survey.survey_type == "relational"
                    else np.where((scores["csat"] >= 4) | (scores["ces"] >= 5), 9, np.where(scores["csat"] == 3, 7, 3))
                )
                cats = _category(category_basis)
                has_comment = rng.random(k) < 0.45
                rng.integers(0, 100, k)  # still drawn: every figure seeded after it stays the same
                resp_ids = np.arange(resp_next, resp_next + k)
                resp_next += k
                resp_batches.append(
                    dict(
                        ids=resp_ids,
                        survey=survey,
                        qids=qids,
                        inv_ids=inv_ids[idx],
                        customers=cust_ids[chosen][idx],
                        seg=seg_at_resp[idx],
                        lang=lang,
                        submitted=submitted[idx],
                        scores=scores,
                        attrs=attr_scores,
                        comment=has_comment,
                        cats=cats,
                    )
                )
                if survey.survey_type == "relational":
                    attr_batches.append((resp_ids, submitted[idx], survey.id, seg_at_resp[idx], attr_scores))

        def invitation_rows():
            for b in inv_batches:
                tokens = b["tokens"]
                for j in range(len(b["ids"])):
                    sent = b["status"][j] == "sent"
                    yield (
                        int(b["ids"][j]),
                        b["survey"],
                        int(b["customers"][j]),
                        tokens[16 * j : 16 * j + 16].hex(),
                        "es" if b["spanish"][j] else "en",
                        int(b["seg"][j]),
                        str(b["status"][j]),
                        "email",
                        "",
                        _iso(b["sent_at"][j] - 60),
                        _iso(b["sent_at"][j]) if sent else None,
                        _iso(b["submitted"][j] - 120) if b["opened"][j] else None,
                        _iso(b["submitted"][j]) if b["answered"][j] else None,
                        None,
                        1,
                        "" if sent else "550 mailbox unavailable" if b["status"][j] == "bounced" else "SMTP timeout",
                    )

        comment_writer = CommentWriter(seed)

        def response_rows():
            for b in resp_batches:
                survey, qids, sc = b["survey"], b["qids"], b["scores"]
                relational = survey.survey_type == "relational"
                for j in range(len(b["ids"])):
                    lang = str(b["lang"][j])
                    comment = comment_writer.write(lang, str(b["cats"][j])) if b["comment"][j] else ""
                    answers = {}
                    values: dict[str, int | None] = dict.fromkeys(
                        ["nps", "csat", "ces", "likelihood_switch", "likelihood_repurchase", "overall", "trust"]
                    )
                    for kind in values:
                        if kind in qids:
                            values[kind] = int(sc[kind][j])
                            answers[str(qids[kind])] = values[kind]
                    if relational:
                        for a in ATTRIBUTES:
                            answers[str(qids[a])] = int(b["attrs"][a][j])
                    if comment and "text" in qids:
                        answers[str(qids["text"])] = comment
                    yield (
                        int(b["ids"][j]),
                        survey.id,
                        int(b["inv_ids"][j]),
                        int(b["customers"][j]),
                        int(b["seg"][j]),
                        survey.survey_type,
                        survey.touchpoint,
                        survey.audience,
                        lang,
                        "email",
                        _iso(b["submitted"][j]),
                        "",
                        values["nps"],
                        values["csat"],
                        values["ces"],
                        values["likelihood_switch"],
                        values["likelihood_repurchase"],
                        values["overall"],
                        values["trust"],
                        comment,
                        json.dumps(answers),
                    )

        def attribute_rows():
            for resp_ids, submitted, survey_id, seg, attrs in attr_batches:
                for j in range(len(resp_ids)):
                    when = _iso(submitted[j])
                    for a in ATTRIBUTES:
                        yield (int(resp_ids[j]), a, int(attrs[a][j]), when, survey_id, int(seg[j]))

        invitations = bulk_insert(Invitation._meta.db_table, inv_cols, invitation_rows())
        responses_count = bulk_insert(Response._meta.db_table, resp_cols, response_rows())
        bulk_insert(AttributeScore._meta.db_table, attr_cols, attribute_rows())
        sequence_reset(
            [
                Customer._meta.db_table,
                Event._meta.db_table,
                Invitation._meta.db_table,
                Response._meta.db_table,
                AttributeScore._meta.db_table,
            ]
        )
    # The comments' languages, themes and sentiment (what the beat task's sweep would do with a worker).
    comments_catch_up(processes=2 if responses_count > 50_000 else 1)
    _seed_complaints(rng, start_ts=start_ts, end_ts=end_ts)
    complaints_catch_up()
    # The rows above bypassed the services (COPY): build the read model from scratch.
    rollups_rebuild()
    return DemoSummary(
        segments=len(SEGMENTS),
        customers=n + n_prospects,
        events=events,
        surveys=len(surveys),
        invitations=invitations,
        responses=responses_count,
    )


# Complaints and inquiries per customer and year, and the share of lost customers who complained in the
# weeks before leaving (complaints are among the most visible danger signs).
COMPLAINTS_PER_YEAR, INQUIRIES_PER_YEAR, COMPLAINED_BEFORE_LOSS = 0.12, 0.08, 0.3


# A complaint's summary by its category: the matching complaint of the comment benchmark's sentences.
_SUMMARY_OF_CATEGORY = {"delivery": 0, "billing": 1, "service": 2, "product quality": 3, "other": 4}


def _complaint_summary(category: str, n: int) -> str:
    """A summary in one of the four languages, chosen by ``n`` (no draw from the demo's generator, so the
    other figures stay as they were)."""
    language = tuple(COMMENT_PARTS)[n % len(COMMENT_PARTS)]
    bad = COMMENT_PARTS[language]["bad"]
    return bad[_SUMMARY_OF_CATEGORY.get(category, n % len(bad))] + "."


def _seed_complaints(rng: np.random.Generator, *, start_ts: float, end_ts: float) -> int:
    """Complaints and inquiries over the window for the demo's customers, each resolved after a few hours
    to a few days (some still open); bypasses the services like the rest of the load (the read model is
    rebuilt after it)."""
    # A previous demo's complaints, left without their customers when those were deleted.
    Complaint.objects.filter(source=Complaint.Source.IMPORT, external_id__startswith="demo-").delete()
    categories = list(ComplaintCategory.objects.filter(active=True).order_by("ordering"))
    if not categories:
        return 0
    channels = Complaint.Channel.values
    rows = Customer.objects.exclude(acquired_at=None).values_list("pk", "acquired_at", "lost_at", "segment_id")
    complaints = []
    years = (end_ts - start_ts) / (365.25 * 86400)
    for pk, acquired, lost, segment in rows:
        first = max(start_ts, acquired.timestamp())
        last = min(end_ts, lost.timestamp() if lost else end_ts)
        if last <= first:
            continue
        moments = [
            (Complaint.Kind.COMPLAINT, t) for t in rng.uniform(first, last, rng.poisson(COMPLAINTS_PER_YEAR * years))
        ]
        moments += [
            (Complaint.Kind.INQUIRY, t) for t in rng.uniform(first, last, rng.poisson(INQUIRIES_PER_YEAR * years))
        ]
        if lost and lost.timestamp() <= end_ts and rng.random() < COMPLAINED_BEFORE_LOSS:
            moments.append((Complaint.Kind.COMPLAINT, max(first, lost.timestamp() - rng.uniform(1, 80) * 86400)))
        for i, (kind, t) in enumerate(moments):
            received = datetime.fromtimestamp(float(t), tz=UTC)
            hours = float(rng.lognormal(3.0, 1.0))
            resolved = datetime.fromtimestamp(float(t) + hours * 3600, tz=UTC)
            # Drawn in this order: the demo's other figures follow from the generator's sequence.
            resolved_at = resolved if resolved.timestamp() < end_ts and rng.random() < 0.9 else None
            channel = channels[int(rng.integers(0, len(channels)))]
            category = categories[int(rng.integers(0, len(categories)))]
            complaints.append(
                Complaint(
                    kind=kind,
                    customer_id=pk,
                    segment_id=segment,
                    received_at=received,
                    resolved_at=resolved_at,
                    channel=channel,
                    category=category,
                    summary=_complaint_summary(category.name, pk + i),
                    source=Complaint.Source.IMPORT,
                    external_id=f"demo-{pk}-{i}",
                )  # fmt: skip
            )
    Complaint.objects.bulk_create(complaints, batch_size=2000)
    return len(complaints)

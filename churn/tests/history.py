"""A generated customer history whose churn signal is known, written straight to the raw tables.

Month by month over four years, each customer may answer (NPS around their own mean) and may have an
operational incident (a return or a claim, at their own rate). With ``signal`` a detractor (latest NPS ≤ 6)
with an incident in the last year leaves with a high monthly hazard and everyone else rarely; without
it every customer leaves with the same hazard whatever their answers (pure noise)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import numpy as np
from django.utils import timezone

from crm_sync.models import Connection
from customers.models import Customer, Event, Segment
from surveys.models import Channel, Response, Survey, SurveyType, Touchpoint

MONTH = timedelta(days=30.4375)


def generate_history(
    *,
    customers: int,
    months: int = 48,
    signal: bool,
    seed: int,
    hazard: float = 0.01,
    memory: int = 12,
    risky_hazard: float = 0.08,
) -> dict:
    rng = np.random.default_rng(seed)
    now = timezone.now()
    start = now - months * MONTH
    connection = Connection.objects.create(kind=Connection.Kind.CSV, name=f"history-{seed}")
    low = Segment.objects.create(name=f"Standard {seed}", rank=1 + 10 * seed)
    high = Segment.objects.create(name=f"Gold {seed}", rank=2 + 10 * seed)
    survey = Survey.objects.create(
        name="Relationship", slug=f"relationship-{seed}", survey_type=SurveyType.RELATIONAL,
        touchpoint=Touchpoint.RELATIONSHIP,
    )  # fmt: skip
    # Acquired over the first 18 months, so every training cutoff has a base to learn from.
    acquired = rng.integers(0, 18, customers)
    mean_nps = np.clip(rng.normal(7.0, 2.2, customers), 0, 10)
    incident_rate = np.where(rng.random(customers) < 0.2, 0.35, 0.01)
    values = np.round(rng.lognormal(8.5, 0.8, customers), 2)
    gold = rng.random(customers) < 0.4
    latest_nps = np.full(customers, np.nan)
    last_incident = np.full(customers, -999)
    lost_month = np.full(customers, -1)
    responses, events = [], []

    def at(month: int, c: int):
        return start + month * MONTH + timedelta(hours=int(rng.integers(0, 24 * 28)))

    for month in range(months):
        here = (acquired <= month) & (lost_month < 0)
        for c in np.flatnonzero(here & (rng.random(customers) < 0.35)):
            nps = int(np.clip(round(rng.normal(mean_nps[c], 0.8)), 0, 10))
            latest_nps[c] = nps
            responses.append((c, at(month, c), nps, int(np.clip(round(nps / 2.5), 1, 5))))
        for c in np.flatnonzero(here & (rng.random(customers) < incident_rate)):
            last_incident[c] = month
            events.append((c, "claim" if rng.random() < 0.5 else "return", at(month, c), None, None))
        for c in np.flatnonzero(here & (acquired < month) & (rng.random(customers) < 0.01)):
            events.append((c, "segment_move", at(month, c), high, low))
        if signal:
            risky = (latest_nps <= 6) & (month - last_incident <= memory)
            monthly = np.where(risky, risky_hazard, 0.0005)
        else:
            monthly = np.full(customers, hazard)
        leaving = here & (acquired < month) & (rng.random(customers) < monthly)
        lost_month[leaving] = month
    rows = []
    for c in range(customers):
        acquired_at = start + int(acquired[c]) * MONTH
        lost_at = at(int(lost_month[c]), c) if lost_month[c] >= 0 else None
        rows.append(
            Customer(
                connection=connection,
                external_id=f"H{seed}-{c}",
                name=f"Customer {c}",
                value=Decimal(str(values[c])),
                segment=high if gold[c] else low,
                status=Customer.Status.LOST if lost_at else Customer.Status.ACTIVE,
                acquired_at=acquired_at,
                lost_at=lost_at,
            )  # fmt: skip
        )
    created = Customer.objects.bulk_create(rows)
    ids = [c.pk for c in created]
    event_rows = [
        Event(connection=connection, source_key=f"new-{ids[c]}", type="new", occurred_at=start + int(acquired[c]) * MONTH,
              customer_id=ids[c], value=Decimal(str(values[c])))
        for c in range(customers)
    ]  # fmt: skip
    event_rows += [
        Event(connection=connection, source_key=f"lost-{ids[c]}", type="lost", occurred_at=created[c].lost_at,
              customer_id=ids[c], value=created[c].value)
        for c in range(customers) if created[c].lost_at
    ]  # fmt: skip
    event_rows += [
        Event(connection=connection, source_key=f"{kind}-{i}", type=kind, occurred_at=moment, customer_id=ids[c],
              from_segment=from_segment, to_segment=to_segment)
        for i, (c, kind, moment, from_segment, to_segment) in enumerate(events)
        if created[c].lost_at is None or moment < created[c].lost_at
    ]  # fmt: skip
    Event.objects.bulk_create(event_rows, batch_size=2000)
    Response.objects.bulk_create(
        [
            Response(survey=survey, customer_id=ids[c], survey_type=SurveyType.RELATIONAL,
                     touchpoint=Touchpoint.RELATIONSHIP, audience="b2b", channel=Channel.EMAIL,
                     submitted_at=moment, nps=nps, csat=csat)
            for c, moment, nps, csat in responses
            if created[c].lost_at is None or moment < created[c].lost_at
        ],
        batch_size=2000,
    )  # fmt: skip
    return {"customers": created, "lost": int((lost_month >= 0).sum())}

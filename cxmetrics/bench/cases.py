"""The Cases pages at the benchmark size: ``cases_seed`` tops the cases up to 50 000 on existing customers,
``measure`` times the Cases list (each view and sort, first and a deep page), a case page and the cases
API through Django's test client (the dashboards phase of ``manage.py bench``)."""

from __future__ import annotations

import random
import statistics
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.utils import timezone

from customers.models import Customer
from followup.models import Case, CaseNote

from .dashboards import _percentile, _timed

OWNERS = 25


def cases_seed(*, cases: int = 50_000, seed: int = 19) -> int:
    """Up to ``cases`` cases spread over the customers and 25 case handlers; a quarter still open, some
    overdue, three timeline entries each on average. Returns the number of cases added."""
    cases -= Case.objects.count()
    if cases <= 0:
        return 0
    rng = random.Random(seed)
    group, _ = Group.objects.get_or_create(name=settings.CASE_HANDLERS_GROUP)
    owners = []
    for i in range(OWNERS):
        user, _ = User.objects.get_or_create(username=f"bench-handler-{i}")
        user.groups.add(group)
        owners.append(user)
    customer_ids = list(Customer.objects.values_list("pk", flat=True))
    now = timezone.now()
    rows, notes = [], []
    for _ in range(cases):
        created = now - timedelta(minutes=rng.randint(0, 365 * 24 * 60))
        due = created + timedelta(hours=rng.choice([8, 24, 48, 72]))
        closed = rng.random() > 0.25
        closed_at = min(now, created + timedelta(hours=rng.randint(1, 200))) if closed else None
        rows.append(
            Case(
                customer_id=rng.choice(customer_ids),
                owner=rng.choice(owners),
                status=Case.Status.CLOSED if closed else rng.choice(["open", "in_progress", "waiting"]),
                priority=rng.choice(["low", "normal", "high"]),
                created_at=created,
                due_at=due,
                first_contact_at=closed_at if closed else None,
                closed_at=closed_at,
                outcome=rng.choice(["contacted", "not_reached", "no_action"]) if closed else "",
            )
        )
    created_cases = Case.objects.bulk_create(rows, batch_size=5000)
    for case in created_cases:
        for k in range(rng.randint(1, 5)):
            notes.append(
                CaseNote(case=case, kind="note", text="Called", created_at=case.created_at + timedelta(hours=k))
            )
    CaseNote.objects.bulk_create(notes, batch_size=5000)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE followup_case; ANALYZE followup_casenote")
    return len(created_cases)


def measure(*, client: Client, repeats: int = 7, warmup: int = 1) -> list[dict]:
    """``client`` is signed in as a CX manager (every case visible: the largest lists)."""
    case = Case.objects.order_by("-pk").first()
    urls = [
        (f"cases {view} by {sort}", f"/cases/?view={view}&sort={sort}")
        for view in ("mine", "team", "overdue", "all")
        for sort in ("due", "-value")
    ]
    urls += [("cases all, page 200", "/cases/?view=all&sort=due&page=200")]
    if case is not None:
        urls += [("case page", f"/cases/{case.pk}/"), ("cases API", "/api/v1/cases/")]
    results = []
    for label, url in urls:

        def get(url=url) -> None:
            response = client.get(url)
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}")

        samples = _timed(get, repeats, warmup)
        results.append(
            {"page": label, "url": url, "median_ms": statistics.median(samples), "p95_ms": _percentile(samples, 95)}
        )
    return results

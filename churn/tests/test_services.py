"""The churn-risk pipeline: features at a cutoff against a hand-made history, the model on generated
histories with a known signal and with none, "not enough history", expected revenue at risk by hand, the
atomic switch to a new run, runs pruned, the command and the one-run-at-a-time rule."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from churn import selectors, services
from churn.features import FEATURE_NAMES, features_at, history_load, labels_at
from churn.models import ChurnRiskRun, ChurnRiskScore
from churn.services import RunBusy, churn_risk_run_claim, churn_risk_run_start, churn_risk_train
from complaints.models import Complaint, ComplaintCategory
from crm_sync.models import Connection
from customers.models import Customer, Event, Segment
from surveys.models import Channel, Response, Survey

from .history import generate_history

pytestmark = pytest.mark.django_db


def train() -> ChurnRiskRun:
    return churn_risk_train(run=churn_risk_run_claim(run_id=churn_risk_run_start().pk))


def test_the_planted_signal_is_found_out_of_time():
    generate_history(customers=1500, signal=True, seed=1)
    run = train()
    assert run.status == ChurnRiskRun.Status.COMPLETE
    assert run.train_losses >= 50 and run.test_losses > 0
    assert run.auc >= 0.75, run.auc
    assert not selectors.is_weak(run.auc)
    assert [d["decile"] for d in run.calibration] == list(range(1, 11))
    assert sum(d["n"] for d in run.calibration) == run.test_rows
    # The riskiest tenth loses far more customers than the safest tenth.
    assert run.calibration[-1]["observed"] > 3 * run.calibration[0]["observed"]
    scores = ChurnRiskScore.objects.filter(run=run)
    assert float(run.expected_revenue_at_risk) == pytest.approx(
        sum(float(s.value) * s.probability for s in scores), abs=0.01
    )
    assert run.signals == sum(1 for s in scores if s.nps_drop is not None or s.downgraded or s.incident) > 0
    active = Customer.objects.filter(lost_at__isnull=True).count()
    assert run.customers_scored == active == ChurnRiskScore.objects.filter(run=run).count()
    # The test cutoff is a month start at least the horizon ago; training cutoffs a horizon before it.
    assert run.test_cutoff <= timezone.now() - timedelta(days=365)
    # What raises the riskiest customers' risk is what was planted: low NPS, recent incidents.
    riskiest = ChurnRiskScore.objects.filter(run=run).order_by("-probability")[:20]
    raised = {t["feature"] for s in riskiest for t in s.top_features}
    assert {"nps_latest", "incident_events_90d"} & raised
    assert selectors.current_run() == run


def test_a_run_leaves_the_planner_statistics_of_its_scores_fresh():
    """PostgreSQL only: the pages read the new scores right after the switch, planned on statistics
    that count them."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("planner statistics are PostgreSQL's")
    generate_history(customers=1500, signal=True, seed=2)
    run = train()
    assert run.status == ChurnRiskRun.Status.COMPLETE
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'churn_churnriskscore'::regclass")
        assert cursor.fetchone()[0] == ChurnRiskScore.objects.count() > 0


def test_pure_noise_stays_near_one_half_and_is_weak():
    generate_history(customers=1500, signal=False, seed=2, hazard=0.012)
    run = train()
    assert run.status == ChurnRiskRun.Status.COMPLETE
    assert abs(run.auc - 0.5) < 0.1, run.auc
    assert selectors.is_weak(run.auc)


def test_fewer_than_the_minimum_losses_is_not_enough_history():
    made = generate_history(customers=150, signal=False, seed=3, hazard=0.002)
    assert made["lost"] < 50
    run = train()
    assert run.status == ChurnRiskRun.Status.NOT_ENOUGH_HISTORY
    assert run.train_losses < 50 and run.auc is None
    assert not ChurnRiskScore.objects.exists()
    assert selectors.current_run() == run
    assert selectors.expected_revenue_at_risk(run) is None
    assert selectors.customer_risk(customer_id=made["customers"][0].pk) is None


def test_an_empty_site_is_not_enough_history():
    run = train()
    assert run.status == ChurnRiskRun.Status.NOT_ENOUGH_HISTORY and run.train_rows == 0


@pytest.fixture
def base():
    connection = Connection.objects.create(kind=Connection.Kind.CSV, name="c")
    gold, silver = Segment.objects.create(name="Gold", rank=2), Segment.objects.create(name="Silver", rank=1)
    survey = Survey.objects.create(name="R", slug="r", survey_type="relational", touchpoint="relationship")
    return connection, gold, silver, survey


def test_features_at_a_cutoff_by_hand(base):
    connection, gold, silver, survey = base
    cutoff = timezone.now() - timedelta(days=400)
    day = timedelta(days=1)
    one = Customer.objects.create(connection=connection, external_id="1", value=Decimal("1000"), segment=silver,
                                  acquired_at=cutoff - 800 * day)  # fmt: skip
    two = Customer.objects.create(connection=connection, external_id="2", value=Decimal("0"), segment=gold,
                                  acquired_at=cutoff - 10 * day, lost_at=cutoff + 200 * day, status="lost")  # fmt: skip
    Customer.objects.create(connection=connection, external_id="3", acquired_at=cutoff + day)  # not yet a customer
    Customer.objects.create(connection=connection, external_id="4", acquired_at=cutoff - 99 * day, lost_at=cutoff - day)

    def answer(customer, days_before, **scores):
        Response.objects.create(survey=survey, customer=customer, survey_type="relational", touchpoint="relationship",
                                audience="b2b", channel=Channel.EMAIL, submitted_at=cutoff - days_before * day, **scores)  # fmt: skip

    def event(customer, kind, days_before, **extra):
        Event.objects.create(connection=connection, source_key=f"{kind}{customer.pk}{days_before}", type=kind,
                             customer=customer, occurred_at=cutoff - days_before * day, **extra)  # fmt: skip

    answer(one, 300, nps=9, csat=5)
    answer(one, 40, nps=4, ces=2)  # an answer reporting an incident (CES ≤ 3)
    answer(one, -5, nps=0)  # after the cutoff: not known yet
    event(one, "claim", 30)
    event(one, "return", 120)  # outside the 90 days
    event(one, "segment_move", 200, from_segment=gold, to_segment=silver)  # a downgrade
    event(two, "segment_move", -50, from_segment=silver, to_segment=gold)  # after the cutoff: was Silver
    billing = ComplaintCategory.objects.get(name="billing")
    for days_before, kind in ((10, "complaint"), (20, "inquiry"), (100, "complaint")):  # one counts
        Complaint.objects.create(customer=one, kind=kind, received_at=cutoff - days_before * day, channel="phone",
                                 category=billing, source="form")  # fmt: skip

    active, frame = features_at(history_load(), cutoff)
    ids = history_load().customer_ids[active].tolist()
    assert ids == [one.pk, two.pk]
    first, second = frame.iloc[0], frame.iloc[1]
    assert (first.nps_latest, first.nps_change) == (4, -5)
    assert (first.csat_latest, np.isnan(first.csat_change)) == (5, True)
    assert first.ces_latest == 2
    assert first.days_since_answer == pytest.approx(40)
    assert (first.incident_events_90d, first.survey_incidents_90d, first.recent_downgrades) == (1, 1, 1)
    assert (first.complaints_90d, second.complaints_90d) == (1, 0)
    assert first.tenure_days == pytest.approx(800)
    assert first.log_value == pytest.approx(np.log1p(1000))
    assert first.segment_rank == 1
    assert np.isnan(second.nps_latest) and np.isnan(second.days_since_answer)
    assert second.segment_rank == 1  # the rank it moved from after the cutoff
    assert list(labels_at(history_load(), active, cutoff)) == [False, True]
    assert list(frame.columns) == list(FEATURE_NAMES)


def _run_with_scores(customers, probabilities, **fields) -> ChurnRiskRun:
    run = ChurnRiskRun.objects.create(status=ChurnRiskRun.Status.COMPLETE, finished_at=timezone.now(), **fields)
    ChurnRiskScore.objects.bulk_create(
        ChurnRiskScore(run=run, customer=c, probability=p, value=c.value, value_at_risk=float(c.value) * p)
        for c, p in zip(customers, probabilities, strict=True)
    )
    return run


def test_expected_revenue_at_risk_by_hand(base):
    connection = base[0]
    customers = [
        Customer.objects.create(connection=connection, external_id=str(i), value=Decimal(v), acquired_at=timezone.now())
        for i, v in enumerate(["1000.00", "2500.00", "400.00"])
    ]
    run = _run_with_scores(customers, [0.1, 0.4, 0.5])
    # 1000 × 0.1 + 2500 × 0.4 + 400 × 0.5 = 100 + 1000 + 200
    assert selectors.scores_value_at_risk(run) == pytest.approx(1300.0)


def test_a_new_run_switches_in_one_update_and_a_failed_one_changes_nothing(monkeypatch):
    generate_history(customers=1500, signal=True, seed=4)
    old = train()
    written = services.churn_risk_scores_write
    seen = {}

    def watching(*, run, **kwargs):
        count = written(run=run, **kwargs)
        # Every score of the new run is written, and the pages still read the old run.
        seen["scores"] = ChurnRiskScore.objects.filter(run=run).count()
        seen["current"] = selectors.current_run()
        return count

    monkeypatch.setattr(services, "churn_risk_scores_write", watching)
    new = train()
    assert seen["current"] == old and seen["scores"] == new.customers_scored > 0
    assert selectors.current_run() == new

    def failing(*, run, **kwargs):
        written(run=run, **kwargs)
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "churn_risk_scores_write", failing)
    with pytest.raises(RuntimeError):
        train()
    failed = ChurnRiskRun.objects.get(status=ChurnRiskRun.Status.FAILED)
    assert "disk full" in failed.error and not ChurnRiskScore.objects.filter(run=failed).exists()
    assert selectors.current_run() == new


def test_old_runs_are_pruned_but_never_the_current_one(base):
    customer = Customer.objects.create(connection=base[0], external_id="1", value=1, acquired_at=timezone.now())
    runs = [_run_with_scores([customer], [0.5]) for _ in range(3)]
    for _ in range(4):
        ChurnRiskRun.objects.create(status=ChurnRiskRun.Status.FAILED, finished_at=timezone.now())
    services.churn_risk_runs_prune()
    assert ChurnRiskRun.objects.filter(status=ChurnRiskRun.Status.COMPLETE).get() == runs[-1]
    assert ChurnRiskRun.objects.count() == 4
    assert ChurnRiskScore.objects.filter(run__in=runs[:2]).count() == 0


def test_one_run_at_a_time_and_the_command(capsys):
    queued = churn_risk_run_start()
    with pytest.raises(RunBusy):
        churn_risk_run_start()
    with pytest.raises(CommandError, match="already queued"):
        call_command("churn_train")
    assert churn_risk_run_claim(run_id=queued.pk) is not None
    assert churn_risk_run_claim(run_id=queued.pk) is None  # claimed once only
    ChurnRiskRun.objects.filter(pk=queued.pk).update(status=ChurnRiskRun.Status.FAILED)
    call_command("churn_train")
    assert "not enough history" in capsys.readouterr().out

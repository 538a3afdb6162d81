"""Alert rules: conditions, evaluation by the sweep (each pair once, imports left out, old answers only
marked), the command for imports, the owner emails' hourly cap and its summary, the webhook extension."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from core.definitions import ALERT_OWNER_EMAILS_PER_HOUR
from cxmetrics.celery import app
from followup import services
from followup.models import AlertEvaluation, AlertFiring, Case
from followup.services.alerts import rule_matches
from followup.tasks import alerts_sweep_task
from followup.tests.factories import UserFactory
from metrics.tests.factories import CustomerFactory, ResponseFactory, SegmentFactory, SurveyFactory
from webhooks.models import WebhookDelivery
from webhooks.services import webhook_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return UserFactory(username="olga", email="olga@example.com")


@pytest.fixture
def detractor_rule(owner):
    return services.alert_rule_create(name="Detractors", owner=owner, nps_at_most=6, sla_hours=24)


def _sweep():
    return services.alerts_sweep()


def test_the_beat_sweep_queues_the_next_batch_of_a_burst(detractor_rule, monkeypatch):
    """More new answers than one batch (a large mailing answered at once): a full batch queues the next
    (eagerly run here), each in its own transaction, so the burst is not swept one batch a minute."""
    monkeypatch.setattr("followup.services.alerts.SWEEP_BATCH", 2)
    monkeypatch.setattr("followup.services.SWEEP_BATCH", 2)
    monkeypatch.setattr(app.conf, "task_always_eager", True)
    ResponseFactory.create_batch(5, nps=2)
    assert alerts_sweep_task() == 2  # then 2 and 1 by the tasks it queued
    assert Case.objects.count() == 5
    assert alerts_sweep_task() == 0


def test_the_sweep_can_start_after_the_stored_history(detractor_rule):
    """A rule added over years of answers (or a benchmark's seeded base) fires on what arrives next, not
    on the history; alerts_evaluate --since still reaches the history when asked."""
    old = ResponseFactory(nps=1)
    services.alerts_sweep_skip_history()
    new = ResponseFactory(nps=2)
    assert _sweep() == 1
    assert list(Case.objects.values_list("response", flat=True)) == [new.pk]
    services.alerts_evaluate_since(since=timezone.localdate(old.submitted_at))
    assert set(Case.objects.values_list("response", flat=True)) == {old.pk, new.pk}


def test_rule_needs_a_condition_and_an_action(owner):
    with pytest.raises(ValidationError):
        services.alert_rule_create(name="Nothing", owner=owner)
    with pytest.raises(ValidationError):
        services.alert_rule_create(name="No action", owner=owner, nps_at_most=6, open_case=False)
    with pytest.raises(ValidationError):
        services.alert_rule_create(name="Off scale", owner=owner, csat_at_most=9)


def test_every_condition_must_hold(owner):
    gold = SegmentFactory(name="Gold", rank=5)
    survey = SurveyFactory(slug="onboarding")
    rule = services.alert_rule_create(
        name="Gold onboarding",
        owner=owner,
        nps_at_most=6,
        keyword="CALL",
        survey=survey,
        segment=gold,
        min_customer_value=Decimal("1000"),
    )
    rich = CustomerFactory(segment=gold, value=Decimal("5000"))
    poor = CustomerFactory(segment=gold, value=Decimal("10"))
    assert rule_matches(rule, ResponseFactory(survey=survey, customer=rich, nps=3, comment="nobody called back"))
    assert not rule_matches(rule, ResponseFactory(survey=survey, customer=rich, nps=7, comment="please call"))
    assert not rule_matches(rule, ResponseFactory(survey=survey, customer=rich, nps=3, comment="fine"))
    assert not rule_matches(rule, ResponseFactory(survey=survey, customer=poor, nps=3, comment="call me"))
    assert not rule_matches(rule, ResponseFactory(customer=rich, nps=3, comment="call me"))
    assert not rule_matches(rule, ResponseFactory(survey=survey, customer=rich, nps=None, comment="call me"))


def test_sweep_opens_one_case_per_detractor_and_fires_once(detractor_rule, owner):
    detractor = ResponseFactory(nps=3)
    ResponseFactory(nps=9)
    assert _sweep() == 2
    case = Case.objects.get()
    assert (case.response, case.owner, case.opened_by_rule) == (detractor, owner, detractor_rule)
    assert case.due_at - case.created_at == timedelta(hours=24)
    # A later sweep, a command over the same days and a second evaluation do not fire again.
    assert _sweep() == 0
    call_command("alerts_evaluate", "--since", "2000-01-01")
    services.alerts_evaluate(response_ids=[detractor.pk])
    assert Case.objects.count() == 1
    assert AlertFiring.objects.count() == 1


def test_sweep_leaves_imports_and_the_command_fires_them_when_asked(detractor_rule):
    imported = ResponseFactory(nps=1, channel="import", submitted_at=timezone.now() - timedelta(days=30))
    _sweep()
    assert not Case.objects.exists()
    assert not AlertEvaluation.objects.filter(response=imported).exists()
    call_command("alerts_evaluate", "--since", (timezone.localdate() - timedelta(days=60)).isoformat())
    assert not Case.objects.exists()
    call_command("alerts_evaluate", "--since", (timezone.localdate() - timedelta(days=60)).isoformat(), "--imported")
    assert Case.objects.get().response == imported


def test_sweep_marks_old_answers_without_firing(detractor_rule):
    old = ResponseFactory(nps=0, submitted_at=timezone.now() - timedelta(days=10))
    _sweep()
    assert AlertEvaluation.objects.filter(response=old).exists()
    assert not Case.objects.exists()


def test_command_rejects_a_bad_date():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("alerts_evaluate", "--since", "yesterday")


def test_anonymous_answer_emails_the_owner_without_a_case(owner):
    services.alert_rule_create(name="Email", owner=owner, nps_at_most=6, email_owner=True)
    ResponseFactory(nps=2, customer=None, comment="awful")
    queued = services.alerts_evaluate(response_ids=_all_ids())
    assert not Case.objects.exists()
    assert [services.alert_owner_email_send(firing_id=f) for f in queued] == [True]
    assert services.alert_owner_email_send(firing_id=queued[0]) is False  # sent at most once
    assert len(mail.outbox) == 1 and "awful" in mail.outbox[0].body


def _all_ids():
    from surveys.models import Response

    return list(Response.objects.values_list("pk", flat=True))


def test_owner_cap_folds_the_excess_into_one_summary(owner):
    services.alert_rule_create(name="Email", owner=owner, nps_at_most=6, email_owner=True)
    extra = 3
    for _ in range(ALERT_OWNER_EMAILS_PER_HOUR + extra):
        ResponseFactory(nps=1)
    queued = services.alerts_evaluate(response_ids=_all_ids())
    assert len(queued) == ALERT_OWNER_EMAILS_PER_HOUR
    for firing_id in queued:
        services.alert_owner_email_send(firing_id=firing_id)
    assert services.alert_summaries_send() == 1
    assert len(mail.outbox) == ALERT_OWNER_EMAILS_PER_HOUR + 1
    summary = mail.outbox[-1]
    assert summary.subject.startswith(str(extra))
    assert summary.to == ["olga@example.com"]
    # More overflow within the hour waits for the next summary; nothing is summarised twice.
    ResponseFactory(nps=1)
    services.alerts_evaluate(response_ids=_all_ids())
    assert services.alert_summaries_send() == 0
    later = timezone.now() + timedelta(hours=1, minutes=1)
    assert services.alert_summaries_send(now=later) == 1
    assert "1 " in mail.outbox[-1].subject


def test_a_webhook_action_needs_its_webhook(owner):
    with pytest.raises(ValidationError) as raised:
        services.alert_rule_create(name="Hook", owner=owner, nps_at_most=6, open_case=False, post_webhook=True)
    assert "webhook" in raised.value.message_dict


def test_the_webhook_gets_each_alert_once_with_the_rule_and_case(owner, settings):
    settings.WEBHOOK_ALLOW_LOCAL_HTTP = True
    webhook, _secret = webhook_create(name="Ops", url="http://127.0.0.1:9/hook")
    rule = services.alert_rule_create(name="Hook", owner=owner, nps_at_most=6, post_webhook=True, webhook=webhook)
    response = ResponseFactory(nps=1, customer=CustomerFactory(name="Gamma"))
    services.alerts_evaluate(response_ids=_all_ids())
    services.alerts_evaluate(response_ids=_all_ids())  # the same pair again: nothing more
    delivery = WebhookDelivery.objects.get()
    assert delivery.key == f"alert:{rule.pk}:{response.pk}" and delivery.event == "alert.fired"
    assert "Gamma" in delivery.text
    assert delivery.body["case"]["id"] == Case.objects.get().pk


def test_webhook_body_is_slack_compatible(detractor_rule):
    from followup.services.alerts import alert_webhook_body

    response = ResponseFactory(nps=2, customer=CustomerFactory(name="Beta"), comment="slow")
    body = alert_webhook_body(rule=detractor_rule, response=response, case=None)
    assert "Beta" in body["text"] and "NPS 2" in body["text"]
    assert body["response"]["comment"] == "slow"


def test_lost_email_tasks_are_queued_again_and_sent_once(owner, monkeypatch):
    from followup.services import alerts as alerts_module

    services.alert_rule_create(name="Email", owner=owner, nps_at_most=6, email_owner=True)
    ResponseFactory(nps=1)
    [firing_id] = services.alerts_evaluate(response_ids=_all_ids())
    sent = []
    monkeypatch.setattr(alerts_module, "_send_queued", lambda ids: sent.extend(ids))
    assert services.alert_owner_emails_requeue() == 0  # just fired: its task may still be on its way
    later = timezone.now() + timedelta(minutes=11)
    assert services.alert_owner_emails_requeue(now=later) == 1 and sent == [firing_id]
    assert services.alert_owner_email_send(firing_id=firing_id) is True
    assert services.alert_owner_email_send(firing_id=firing_id) is False
    assert services.alert_owner_emails_requeue(now=later) == 0
    assert len(mail.outbox) == 1


def test_sweep_task_runs_the_sweep_requeue_and_summaries(detractor_rule):
    ResponseFactory(nps=2)
    assert alerts_sweep_task() == 1
    assert Case.objects.count() == 1

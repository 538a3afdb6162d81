"""The Celery entry points and the admin's "Train now": one run at a time, claimed once."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.urls import reverse

from churn.models import ChurnRiskRun
from churn.tasks import churn_risk_nightly_task, churn_risk_train_task

pytestmark = pytest.mark.django_db


def test_the_nightly_task_is_scheduled_and_routed():
    assert settings.CELERY_BEAT_SCHEDULE["churn-risk-nightly"]["task"] == "churn.tasks.churn_risk_nightly_task"
    assert churn_risk_nightly_task.name == "churn.tasks.churn_risk_nightly_task"


def test_the_nightly_task_queues_one_run_and_the_worker_trains_it_once(django_capture_on_commit_callbacks, monkeypatch):
    queued = []
    monkeypatch.setattr(churn_risk_train_task, "delay", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        churn_risk_nightly_task()
        churn_risk_nightly_task()  # a run is already queued: nothing more
    run = ChurnRiskRun.objects.get()
    assert queued == [run.pk] and run.status == ChurnRiskRun.Status.QUEUED
    churn_risk_train_task(run.pk)
    run.refresh_from_db()
    assert run.status == ChurnRiskRun.Status.NOT_ENOUGH_HISTORY and run.started_at and run.finished_at
    churn_risk_train_task(run.pk)  # a redelivery: already claimed, left alone
    assert ChurnRiskRun.objects.get().finished_at == run.finished_at


def test_admin_train_now_queues_a_run_after_commit(client, django_capture_on_commit_callbacks, monkeypatch):
    queued = []
    monkeypatch.setattr(churn_risk_train_task, "delay", queued.append)
    client.force_login(User.objects.create_superuser("root", "root@example.com", "x"))
    url = reverse("admin:churn_churnriskrun_train")
    assert client.get(url).status_code == 405
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, follow=True)
    assert "Churn-risk training queued" in response.content.decode() and len(queued) == 1
    assert "Train now" in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, follow=True)
    assert "already queued or training" in response.content.decode() and len(queued) == 1
    assert ChurnRiskRun.objects.count() == 1

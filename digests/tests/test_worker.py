"""A real worker sending digests through a real SMTP server, killed while the mail server hangs on one
of them: the others go out on the next run and no digest reaches anyone twice."""

from __future__ import annotations

from datetime import date

import pytest

from cxmetrics.tests.factories import cx_manager
from cxmetrics.tests.worker import wait_for
from digests.models import DigestDelivery
from digests.services import digest_subscription_set, digests_schedule
from digests.tasks import digest_send_task

from .smtp_server import SmtpServer

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_worker_killed_mid_digest_resumes_without_sending_anything_twice(worker_factory):
    users = [cx_manager(name) for name in ("ana", "ben", "cy")]
    for user in users:
        digest_subscription_set(user=user, frequency="monthly", language="en")
    queued = digests_schedule(day=date(2026, 12, 3)).queued
    stuck = users[1]
    with SmtpServer(hang_for=stuck.email) as smtp:
        mail = {
            "TEST_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp.port),
            "EMAIL_TIMEOUT": "60",
        }
        first = worker_factory(**mail)
        for pk in queued:
            first.send(digest_send_task, pk)
        assert smtp.hanging.wait(90), "the stuck digest never reached the mail server"
        first.kill()
        assert smtp.recipients() == [users[0].email]

        second = worker_factory(**mail)
        # The next beat run: what is still pending is handed out again, then the killed worker's own
        # messages come back too (late acknowledgement); neither sends anything twice.
        for pk in digests_schedule(day=date(2026, 12, 3)).queued + queued:
            second.send(digest_send_task, pk)
        wait_for(lambda: len(smtp.messages) >= 2, timeout=90, what="the third digest")
        wait_for(lambda: not DigestDelivery.objects.filter(status="pending").exists(), timeout=60, what="the queue")
        second.stop()
    assert smtp.recipients() == sorted([users[0].email, users[2].email])
    assert DigestDelivery.objects.get(user=stuck).status == "sending"

"""Benchmark phase: train the churn-risk model on the whole history and score every active customer,
timed (prints JSON). Used by `bench`."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from churn.selectors import current_run
from churn.services import churn_risk_run_claim, churn_risk_run_start, churn_risk_train


class Command(BaseCommand):
    help = __doc__.splitlines()[0]

    def handle(self, *args, **options):
        timings: dict = {}
        run = churn_risk_train(run=churn_risk_run_claim(run_id=churn_risk_run_start().pk), timings=timings)
        self.stdout.write(
            json.dumps(
                {
                    **timings,
                    "status": run.status,
                    "auc": run.auc,
                    "train_rows": run.train_rows,
                    "customers_scored": run.customers_scored,
                    "current": current_run() == run,
                }
            )
        )

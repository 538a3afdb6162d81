"""``manage.py churn_train``: train the churn-risk model and score today's active customers now, in this
process (the nightly Celery task does the same)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from churn.services import RunBusy, churn_risk_run_claim, churn_risk_run_start, churn_risk_train


class Command(BaseCommand):
    help = "Train the churn-risk model on the site's history and score the active customers."

    def handle(self, *args, **options) -> None:
        try:
            run = churn_risk_run_claim(run_id=churn_risk_run_start().pk)
        except RunBusy as error:
            raise CommandError(f"{error}; see the churn-risk runs in admin") from error
        try:
            run = churn_risk_train(run=run)
        except Exception as error:
            raise CommandError(f"training failed: {error!r}") from error
        auc = "no data" if run.auc is None else f"{run.auc:.3f}"
        self.stdout.write(
            f"run {run.pk}: {run.get_status_display()}; out-of-time AUC {auc}; "
            f"{run.train_losses} customers lost in the training window; {run.customers_scored} customers scored; "
            f"expected revenue at risk {run.expected_revenue_at_risk if run.expected_revenue_at_risk is not None else 'no data'}"
        )

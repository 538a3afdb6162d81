import time

from django.core.management.base import BaseCommand, CommandError

from cxmetrics.demo import DemoDataExists, seed_demo


class Command(BaseCommand):
    help = "Fill an empty database with a deterministic, realistic demo data set."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=2000)
        parser.add_argument("--months", type=int, default=18)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--responses",
            type=int,
            default=None,
            help="Approximate number of survey responses (default: what the customer base produces).",
        )
        parser.add_argument(
            "--events",
            type=int,
            default=None,
            help="Approximate number of CRM events (default: about 1.6 per customer).",
        )

    def handle(self, *args, customers, months, seed, responses, events, **options):
        started = time.monotonic()
        try:
            summary = seed_demo(customers=customers, months=months, seed=seed, responses=responses, events=events)
        except (DemoDataExists, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data: {summary.customers} customers, {summary.events} events, {summary.surveys} surveys, "
                f"{summary.invitations} invitations, {summary.responses} responses in {elapsed:.1f} s."
            )
        )
        # The churn-risk model learns from the history just seeded, so the Value page shows it at once.
        from churn.services import churn_risk_run_claim, churn_risk_run_start, churn_risk_train

        run = churn_risk_train(run=churn_risk_run_claim(run_id=churn_risk_run_start().pk))
        auc = "no data" if run.auc is None else f"{run.auc:.2f}"
        self.stdout.write(f"Churn-risk model: {run.get_status_display()}, out-of-time AUC {auc}.")

import time

from django.core.management.base import BaseCommand, CommandError

from cxmetrics.demo import (
    DEMO_CUSTOMERS,
    DEMO_MONTHS,
    DEMO_RESPONSES_PER_CUSTOMER,
    DemoDataExists,
    demo_model_train,
    seed_demo,
)


class Command(BaseCommand):
    help = "Fill an empty database with a deterministic, realistic demo data set."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=DEMO_CUSTOMERS)
        parser.add_argument("--months", type=int, default=DEMO_MONTHS)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--responses",
            type=int,
            default=None,
            help=f"Approximate number of survey responses (default: {DEMO_RESPONSES_PER_CUSTOMER} per customer).",
        )
        parser.add_argument(
            "--events",
            type=int,
            default=None,
            help="Approximate number of CRM events (default: about 1.6 per customer).",
        )

    def handle(self, *args, customers, months, seed, responses, events, **options):
        started = time.monotonic()
        if responses is None:
            responses = DEMO_RESPONSES_PER_CUSTOMER * customers
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
        run = demo_model_train()
        auc = "no data" if run.auc is None else f"{run.auc:.2f}"
        self.stdout.write(f"Churn-risk model: {run.get_status_display()}, out-of-time AUC {auc}.")

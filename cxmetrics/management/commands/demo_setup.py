from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from customers.models import Customer
from cxmetrics.demo import demo_folder_ensure, demo_model_train, demo_size, demo_users_ensure, seed_demo


class Command(BaseCommand):
    help = "Create the demo users and, when the database is empty, load the demo data (used by `make run`)."

    def handle(self, *args, **options):
        # The demo users' passwords are published (README, this command's output): never on a real site.
        if not settings.DEMO_ALLOWED:
            raise CommandError(
                "demo_setup creates users with published passwords and runs only with the local or test settings "
                "(DEMO_ALLOWED); these settings do not allow it."
            )
        for role, username, password in demo_users_ensure():
            self.stdout.write(f"  {role}: username {username!r}, password {password!r}")
        if Customer.objects.exists():
            self.stdout.write("Database already has data; demo data not loaded again.")
        else:
            self.stdout.write("Loading demo data (first run only)...")
            summary = seed_demo(**demo_size())
            self.stdout.write(
                self.style.SUCCESS(
                    f"Loaded {summary.customers} customers, {summary.events} events and {summary.responses} responses."
                )
            )
            run = demo_model_train()
            auc = "no data" if run.auc is None else f"{run.auc:.2f}"
            self.stdout.write(f"Churn-risk model: {run.get_status_display()}, out-of-time AUC {auc}.")
        folder = demo_folder_ensure()
        if folder:
            self.stdout.write(f"The demo CSV connection reads the files dropped in {folder}")
        self.stdout.write(f"Open {settings.SITE_URL}/ and sign in.")

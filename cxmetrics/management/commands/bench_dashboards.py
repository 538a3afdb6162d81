import json

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand
from django.test import Client

from cxmetrics.bench import cases, dashboards


class Command(BaseCommand):
    help = "Benchmark phase: time every dashboard page and the JSON API (prints JSON). Used by `bench`."

    def add_arguments(self, parser):
        parser.add_argument("--repeats", type=int, default=7)
        parser.add_argument("--warmup", type=int, default=1)
        parser.add_argument(
            "--cases", dest="cases_total", type=int, default=50_000, help="Cases to top the data set up to first."
        )
        parser.add_argument(
            "--overview-only",
            action="store_true",
            help='Only the overview over the last quarter: {"samples_ms": [...]}.',
        )

    def handle(self, *args, repeats, warmup, cases_total, overview_only=False, **options):
        user, _ = User.objects.get_or_create(username="bench", defaults={"is_staff": True})
        client = Client()
        client.force_login(user)
        if overview_only:
            samples = dashboards.overview_samples(client=client, repeats=repeats, warmup=max(warmup, 2))
            self.stdout.write(json.dumps({"samples_ms": samples}))
            return
        count_ms = dashboards.full_count_ms()
        pages = dashboards.measure(client=client, repeats=repeats, warmup=warmup)
        cases.cases_seed(cases=cases_total)
        records = dashboards.measure_records(client=client, repeats=repeats, warmup=warmup)
        records += cases.measure(client=client, repeats=repeats, warmup=warmup)
        count_after_ms = dashboards.full_count_ms()
        self.stdout.write(
            json.dumps({"full_count_ms": (count_ms + count_after_ms) / 2, "pages": pages, "records": records})
        )

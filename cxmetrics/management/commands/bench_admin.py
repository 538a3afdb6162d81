import json

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand
from django.test import Client

from cxmetrics.bench import admin


class Command(BaseCommand):
    help = "Benchmark phase: time every admin list and change page (prints JSON). Used by `bench`."

    def add_arguments(self, parser):
        parser.add_argument("--repeats", type=int, default=5)
        parser.add_argument("--warmup", type=int, default=1)

    def handle(self, *args, repeats, warmup, **options):
        user, _ = User.objects.get_or_create(username="bench-admin", defaults={"is_staff": True, "is_superuser": True})
        client = Client()
        client.force_login(user)
        self.stdout.write(json.dumps({"pages": admin.measure(client=client, repeats=repeats, warmup=warmup)}))

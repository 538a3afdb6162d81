"""``manage.py customers_nps_rebuild``

Recomputes every customer's latest NPS answer (Customer.last_nps / last_nps_at) from the responses:
after a bulk load that bypassed the survey services (seed_demo does it itself), deleting responses,
or to repair.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from crm_sync.rollups import customers_nps_rebuild


class Command(BaseCommand):
    help = "Recompute every customer's latest NPS answer from the survey responses."

    def handle(self, *args, **options) -> None:
        started = time.monotonic()
        changed = customers_nps_rebuild()
        self.stdout.write(f"{changed} customer rows written in {time.monotonic() - started:.1f} s")

"""``manage.py rollups_rebuild``

Drops the read model's rollups and rebuilds them from the raw rows: after a bulk load that bypassed the
services (a restore, a load straight into the database) or a change of TIME_ZONE. The figures stay
exact while it runs (the days not rolled up again yet are read raw).
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from metrics.refresh import rollups_rebuild


class Command(BaseCommand):
    help = "Rebuild every rollup of the read model from the raw rows."

    def handle(self, *args, **options) -> None:
        started = time.monotonic()
        report = rollups_rebuild()
        days = sum(report.days_rolled_up.values())
        self.stdout.write(
            f"rolled up {days} fact-days and {report.customers} customers in {time.monotonic() - started:.1f} s"
        )

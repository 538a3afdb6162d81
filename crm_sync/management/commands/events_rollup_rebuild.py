"""``manage.py events_rollup_rebuild``

Recomputes every daily event rollup (crm_sync.EventDaily) from the raw events: after a bulk load that
bypassed the apply service (seed_demo, a restore), deleting customers, or a change of TIME_ZONE. The
dashboards stay exact while it runs (the days not rolled up again yet are read raw).
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from crm_sync.rollups import events_rollup_rebuild


class Command(BaseCommand):
    help = "Recompute every daily CRM event rollup from the raw events."

    def handle(self, *args, **options) -> None:
        started = time.monotonic()
        report = events_rollup_rebuild()
        self.stdout.write(
            f"rolled up {report.days_rolled_up} days through {report.rolled_up_through} "
            f"in {time.monotonic() - started:.1f} s"
        )

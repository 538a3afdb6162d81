"""``manage.py rollups_rebuild``

Recomputes every daily survey rollup from the raw rows: after a bulk load that bypassed the services
(seed_demo, a restore) or a change of TIME_ZONE; then the customer state per day (PostgreSQL). The dashboards stay exact while it runs.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from dashboards.customer_state import customer_state_build
from dashboards.rollups import rollups_rebuild


class Command(BaseCommand):
    help = "Recompute every daily survey rollup from the raw responses and invitations."

    def handle(self, *args, **options) -> None:
        started = time.monotonic()
        report = rollups_rebuild()
        self.stdout.write(
            f"rolled up {report.days_rolled_up} days through {report.rolled_up_through} "
            f"in {time.monotonic() - started:.1f} s"
        )
        state = customer_state_build(force=True)
        if state.built:
            self.stdout.write(
                f"customer state per day: {state.rows} rows through {state.through} in {state.seconds:.1f} s"
            )

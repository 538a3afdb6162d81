from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from crm_sync.connectors import ConnectorError
from crm_sync.models import Connection
from crm_sync.services import SyncAlreadyRunning, crm_sync_run


class Command(BaseCommand):
    help = "Sync the enabled CRM connections now (or one, even if disabled), in this process."

    def add_arguments(self, parser):
        parser.add_argument("--connection", metavar="NAME", help="Sync only this connection.")
        parser.add_argument("--full", action="store_true", help="Re-read everything instead of from the checkpoint.")

    def handle(self, *args, connection: str | None = None, full: bool = False, **options):
        if connection:
            connections = list(Connection.objects.filter(name=connection))
            if not connections:
                names = ", ".join(Connection.objects.order_by("name").values_list("name", flat=True)) or "none"
                raise CommandError(f"No connection named {connection!r} (connections: {names})")
        else:
            connections = list(Connection.objects.filter(enabled=True).order_by("name"))
        failures = 0
        for item in connections:
            try:
                run = crm_sync_run(connection=item, full=full)
            except SyncAlreadyRunning as exc:
                self.stderr.write(f"{item}: {exc}")
                failures += 1
                continue
            except ConnectorError as exc:
                self.stderr.write(f"{item}: failed: {exc.message}")
                failures += 1
                continue
            self.stdout.write(
                f"{item}: {run.pages} pages, {run.records} records, {run.events_created} events created, "
                f"{run.quarantined} quarantined"
            )
        if failures:
            raise CommandError(f"{failures} of {len(connections)} connections failed")

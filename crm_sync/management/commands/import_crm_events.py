from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.csvfiles import MappingError, csv_import_arguments, csv_import_options
from crm_sync.connectors import ConnectorError
from crm_sync.models import Connection
from crm_sync.services import SyncAlreadyRunning, crm_events_import


class Command(BaseCommand):
    help = (
        "Apply an events.csv history (event_id, type, occurred_at, customer_id, customer_name, customer_email, "
        "segment, value, reason, referrer_id, from_segment, to_segment). A type is new, lost, referral, "
        "segment_move, return, claim, invoice_correction, service_change or support_contact. An event other than "
        "new or referral for a customer the site does not know is held until it is. Malformed rows are quarantined and "
        "listed; the exit status is 1 if any was."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--connection", metavar="NAME", help='The CSV connection to import into (default: "CSV files").'
        )
        csv_import_arguments(parser)

    def handle(self, *args, file: Path, connection: str | None = None, **options):
        if not file.is_file():
            raise CommandError(f"{file} is not a file")
        try:
            mapping, empty = csv_import_options(options)
        except MappingError as exc:
            raise CommandError(str(exc)) from exc
        target = None
        if connection:
            target = Connection.objects.filter(name=connection).first()
            if target is None:
                raise CommandError(f"No connection named {connection!r}")
        try:
            result = crm_events_import(
                connection=target, path=file, mapping=mapping, empty=empty, date_format=options.get("date_format")
            )
        except (ConnectorError, SyncAlreadyRunning) as exc:
            raise CommandError(str(exc)) from None
        if result.already_processed:
            self.stdout.write(f"{file.name} was already imported (same checksum): nothing to do.")
            return
        run = result.run
        self.stdout.write(
            f"{file.name}: {run.records} rows, {run.records - run.quarantined - run.held - result.suppressed} applied, "
            f"{run.events_created} events created, {run.quarantined} quarantined"
            + (f", {run.held} held (customer not known)" if run.held else "")
            + (f", {result.suppressed} skipped (erased at the subject's request)" if result.suppressed else "")
        )
        if run.held:
            self.stdout.write(
                f"  {run.held} events name a customer the site does not know: held with the reason under "
                "Customers > events for unknown customers, and applied once the customer is known."
            )
        if result.held_applied:
            self.stdout.write(f"  {result.held_applied} held events applied: their customer is known now.")
        if result.segments_created:
            self.stdout.write(
                f"  New value segments: {', '.join(result.segments_created)}, ranked by their customers' mean "
                "value. Confirm the ranks under Customers > value segments."
            )
        for source, reason in result.quarantined:
            self.stderr.write(f"  line {source.rsplit(':', 1)[-1]}: {reason}")
        if run.quarantined:
            raise CommandError(f"{run.quarantined} rows were quarantined (see CRM connections > quarantined records)")

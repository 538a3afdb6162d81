"""Evaluate the alert rules on answers since a day. The beat sweep never looks at imported history; this
is how an import alerts (``import_responses`` then ``alerts_evaluate --since <first day> --imported``)."""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from followup.services import alerts_evaluate_since


class Command(BaseCommand):
    help = "Evaluate the alert rules on the answers submitted since DATE that no sweep has looked at."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--since", required=True, help="First day (YYYY-MM-DD, site time).")
        parser.add_argument("--imported", action="store_true", help="Include imported answers.")

    def handle(self, *args, since: str, imported: bool, **options) -> None:
        try:
            day = date.fromisoformat(since)
        except ValueError as exc:
            raise CommandError(f"--since must be a date as YYYY-MM-DD, not {since!r}.") from exc
        count = alerts_evaluate_since(since=day, imported=imported)
        self.stdout.write(f"Evaluated {count} answers.")

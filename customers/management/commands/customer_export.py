"""Everything held about one customer (a subject access request), as JSON on stdout or in a file."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from customers.selectors import customer_export_json, customer_find, subject_erased


class Command(BaseCommand):
    help = (
        "Export everything held about one customer as JSON: their record, events, responses with comments "
        "and answers, invitations (without tokens) and quarantined CRM records mentioning them. Find them by "
        "--connection and --external-id, or by --email."
    )

    def add_arguments(self, parser):
        parser.add_argument("--connection", metavar="NAME", default="", help="The CRM connection's name.")
        parser.add_argument("--external-id", metavar="ID", default="", help="The customer's id in that CRM.")
        parser.add_argument("--email", default="", help="The customer's email (instead of connection and id).")
        parser.add_argument("--output", "-o", type=Path, help="Write to this file instead of stdout.")

    def handle(self, *args, connection: str, external_id: str, email: str, output: Path | None, **options):
        if bool(external_id) == bool(email):
            raise CommandError("Give either --connection and --external-id, or --email.")
        if external_id and not connection:
            raise CommandError("--external-id needs --connection (a CRM id is only unique within its connection).")
        customer = customer_find(connection_name=connection, external_id=external_id.strip(), email=email)
        if customer is None:
            if subject_erased(external_id=external_id.strip(), email=email):
                raise CommandError(
                    "This customer's personal data was erased at their request: nothing about them is held "
                    "under that id or email (only on the suppression list, as a keyed hash)."
                )
            raise CommandError("No customer with that connection and id, or that email.")
        text = customer_export_json(customer=customer)
        if output:
            output.write_text(text, encoding="utf-8")
            self.stderr.write(f"Wrote {output}")
        else:
            self.stdout.write(text)

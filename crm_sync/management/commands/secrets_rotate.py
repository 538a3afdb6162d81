from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from crm_sync.services import connection_secrets_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret (CRM connection tokens) with the first key of SECRETS_KEYS. "
        "Run it after putting a new key first; then the old keys can be removed."
    )

    def handle(self, *args, **options):
        result = connection_secrets_rotate()
        self.stdout.write(f"{result.rotated} secret(s) re-encrypted with the first key of SECRETS_KEYS.")
        if result.undecryptable:
            raise CommandError(
                f"{len(result.undecryptable)} secret(s) cannot be decrypted with the configured keys and were left "
                f"as they are (connections: {', '.join(result.undecryptable)}); set those tokens again in the "
                "admin, or add the key they were encrypted with to SECRETS_KEYS and run this again."
            )

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from crm_sync.services import connection_secrets_rotate
from webhooks.services import webhook_secrets_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret (CRM connection tokens, webhook signing secrets) with the first key of "
        "SECRETS_KEYS. Run it after putting a new key first; then the old keys can be removed."
    )

    def handle(self, *args, **options):
        result = connection_secrets_rotate()
        webhooks = webhook_secrets_rotate()
        self.stdout.write(
            f"{result.rotated + webhooks.rotated} secret(s) re-encrypted with the first key of SECRETS_KEYS."
        )
        problems = []
        if result.undecryptable:
            problems.append(f"connections: {', '.join(result.undecryptable)}")
        if webhooks.undecryptable:
            problems.append(f"webhooks: {', '.join(webhooks.undecryptable)}")
        if problems:
            count = len(result.undecryptable) + len(webhooks.undecryptable)
            raise CommandError(
                f"{count} secret(s) cannot be decrypted with the configured keys and were left as they are "
                f"({'; '.join(problems)}); set those tokens again in the admin (rotate a webhook's secret), or "
                "add the key they were encrypted with to SECRETS_KEYS and run this again."
            )

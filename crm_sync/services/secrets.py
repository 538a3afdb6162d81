"""Re-encrypting the stored CRM tokens with the current first key of settings.SECRETS_KEYS."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.secrets import SecretError, secret_rotate
from crm_sync.models import Connection


@dataclass
class SecretsRotation:
    rotated: int = 0
    # Connections whose token no configured key decrypts: left as they are.
    undecryptable: list[str] = field(default_factory=list)


def connection_secrets_rotate() -> SecretsRotation:
    result = SecretsRotation()
    rows = Connection.objects.exclude(secret_token="").order_by("name")
    for pk, name, stored in rows.values_list("pk", "name", "secret_token"):
        try:
            rotated = secret_rotate(stored)
        except SecretError:
            result.undecryptable.append(name)
            continue
        # Only if unchanged since read: a token set meanwhile in the admin is already under the first key.
        result.rotated += Connection.objects.filter(pk=pk, secret_token=stored).update(secret_token=rotated)
    return result

"""Encrypts the CRM tokens stored in plain text with the first of settings.SECRETS_KEYS.

Self-contained (cryptography's Fernet, as core.secrets uses it) so that later changes to the app's code
cannot change what this migration did. Reversible: going back decrypts them again, for code that reads
them in plain text."""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import migrations


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.SECRETS_KEYS])


def encrypt_tokens(apps, schema_editor):
    Connection = apps.get_model("crm_sync", "Connection")
    rows = Connection.objects.exclude(secret_token="")
    if not rows.exists():
        return
    fernet = _fernet()
    for connection in rows.only("pk", "secret_token"):
        encrypted = fernet.encrypt(connection.secret_token.encode()).decode("ascii")
        Connection.objects.filter(pk=connection.pk).update(secret_token=encrypted)


def decrypt_tokens(apps, schema_editor):
    Connection = apps.get_model("crm_sync", "Connection")
    rows = Connection.objects.exclude(secret_token="")
    if not rows.exists():
        return
    fernet = _fernet()
    for connection in rows.only("pk", "name", "secret_token"):
        try:
            plain = fernet.decrypt(connection.secret_token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise RuntimeError(
                f"The token of CRM connection {connection.name!r} cannot be decrypted with the configured "
                "SECRETS_KEYS; nothing was changed."
            ) from None
        Connection.objects.filter(pk=connection.pk).update(secret_token=plain)


class Migration(migrations.Migration):
    dependencies = [("crm_sync", "0001_initial")]

    # Each row is its own UPDATE inside the migration's transaction: all or none.
    operations = [migrations.RunPython(encrypt_tokens, decrypt_tokens, elidable=False)]

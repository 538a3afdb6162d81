"""Secrets stored in the database, encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`).

The keys are settings.SECRETS_KEYS (environment SECRETS_KEYS or SECRETS_KEYS_FILE): the first key encrypts,
every key decrypts. Rotation: put a new key first, keep the old ones after it, run
`manage.py secrets_rotate`, then drop the old keys.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretError(Exception):
    """A stored secret that the configured keys cannot decrypt (a key removed too early, or a value
    written without encryption)."""

    def __init__(self, message: str = "the secret cannot be decrypted with the configured keys") -> None:
        super().__init__(message)
        self.message = message


def _fernet() -> MultiFernet:
    keys = settings.SECRETS_KEYS
    if not keys:
        raise SecretError("no key to encrypt secrets with is configured (SECRETS_KEYS)")
    return MultiFernet([Fernet(key) for key in keys])


def secret_encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode("ascii")


def secret_decrypt(ciphertext: str) -> str:
    try:
        return _fernet().decrypt(ciphertext.encode("ascii")).decode()
    except (InvalidToken, UnicodeError):
        raise SecretError() from None


def secret_rotate(ciphertext: str) -> str:
    """The same secret encrypted with the first key (raises SecretError if no key decrypts it)."""
    try:
        return _fernet().rotate(ciphertext.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError):
        raise SecretError() from None

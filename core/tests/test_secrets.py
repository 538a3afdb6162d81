"""Secrets at rest: Fernet with the keys of SECRETS_KEYS; the first encrypts, all decrypt."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from core.secrets import SecretError, secret_decrypt, secret_encrypt, secret_rotate

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def test_a_secret_round_trips_and_is_not_stored_readable(settings):
    settings.SECRETS_KEYS = [NEW]
    stored = secret_encrypt("pat-na1-secret")
    assert "pat-na1-secret" not in stored
    assert secret_encrypt("pat-na1-secret") != stored  # a fresh IV each time
    assert secret_decrypt(stored) == "pat-na1-secret"


def test_the_first_key_encrypts_and_every_key_decrypts(settings):
    settings.SECRETS_KEYS = [OLD]
    under_old = secret_encrypt("s")
    settings.SECRETS_KEYS = [NEW, OLD]
    assert secret_decrypt(under_old) == "s"
    rotated = secret_rotate(under_old)
    settings.SECRETS_KEYS = [NEW]
    assert secret_decrypt(rotated) == "s"
    with pytest.raises(SecretError):
        secret_decrypt(under_old)


def test_a_value_no_key_decrypts_is_a_clear_error(settings):
    settings.SECRETS_KEYS = [NEW]
    for stored in ("plain-text-token", Fernet(OLD).encrypt(b"s").decode(), "é"):
        with pytest.raises(SecretError, match="cannot be decrypted with the configured keys"):
            secret_decrypt(stored)
        with pytest.raises(SecretError):
            secret_rotate(stored)


def test_without_keys_nothing_is_encrypted(settings):
    settings.SECRETS_KEYS = []
    with pytest.raises(SecretError, match="SECRETS_KEYS"):
        secret_encrypt("s")

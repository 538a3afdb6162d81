"""The one place settings read the environment.

Helpers are strict: a value that cannot be parsed stops start-up with
ImproperlyConfigured naming the variable, instead of silently meaning "off".
"""

from __future__ import annotations

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_str(name: str, default: str | None = None) -> str:
    """Read NAME, or the contents of the file named by NAME_FILE (Docker/K8s secrets)."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            return Path(file_path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_path} cannot be read: {exc}") from exc
    value = os.environ.get(name)
    if value is None or value == "":
        if default is None:
            raise ImproperlyConfigured(f"The environment variable {name} is required.")
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use true/false, yes/no, on/off or 1/0.")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_database(name: str, default: str) -> dict:
    raw = env_str(name, default)
    try:
        config = environ.Env.db_url_config(raw)
    except Exception as exc:  # environ raises several types for bad URLs
        raise ImproperlyConfigured(f"{name} is not a valid database URL: {exc}") from exc
    if "." not in config.get("ENGINE", ""):  # environ passes unknown schemes through as the engine
        raise ImproperlyConfigured(f"{name} uses an unsupported database scheme; use postgres:// or sqlite:///.")
    return config


def env_fernet_keys(name: str, default: list[str] | None = None) -> list[str]:
    """Comma-separated Fernet keys from NAME (or NAME_FILE): the first encrypts, every one decrypts.

    A key that is not a Fernet key stops start-up here, naming its position (never its value)."""
    from cryptography.fernet import Fernet

    raw = env_str(name, "" if default is not None else None)
    keys = [item.strip() for item in raw.split(",") if item.strip()]
    if not keys:
        if default is None:
            raise ImproperlyConfigured(f"The environment variable {name} is required.")
        return default
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ImproperlyConfigured(
                f"{name}: key {position} is not a Fernet key (32 url-safe base64-encoded bytes); generate one with "
                "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'."
            ) from None
    return keys


def fernet_key_derived(secret: str) -> str:
    """A Fernet key derived from SECRET_KEY, for local use and tests only (production sets its own keys)."""
    import base64
    import hashlib

    return base64.urlsafe_b64encode(hashlib.sha256(f"cxmetrics-secrets:{secret}".encode()).digest()).decode()

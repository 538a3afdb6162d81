"""Deployment checks of the customers app (``manage.py check --deploy``)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def suppression_key_check(app_configs, **kwargs) -> list[Warning]:
    if getattr(settings, "SUPPRESSION_HASH_KEY", ""):
        return []
    return [
        Warning(
            "SUPPRESSION_HASH_KEY is not set: the suppression list's hashes are keyed with SECRET_KEY, so "
            "rotating SECRET_KEY would stop them matching and let the CRM re-create erased customers.",
            hint="Set SUPPRESSION_HASH_KEY once to a long random string, before the first erasure, and never "
            "change it.",
            id="customers.W001",
        )
    ]

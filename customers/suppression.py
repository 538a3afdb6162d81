"""The suppression list's keyed hashes, and the reads every outside write path makes before storing or
inviting anyone.

A plain SHA-256 of an email address is found again by hashing guesses (a name list, a company's
address pattern), so the hashes are HMAC-SHA256 with a key kept outside the database
(``SUPPRESSION_HASH_KEY``, else ``SECRET_KEY``): a copy of the database alone does not tell whose
data was erased. A CRM id's hash includes its connection, as ids are only unique per connection.

Each read takes a whole batch and costs one query per 5,000 hashes, never one per record.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from customers.models import Suppression

CHUNK = 5000
Kind = Suppression.Kind


def _key() -> bytes:
    return (getattr(settings, "SUPPRESSION_HASH_KEY", "") or settings.SECRET_KEY).encode()


def key_id() -> str:
    """A short fingerprint of the current key (not the key): entries with another one no longer match."""
    return hmac.new(_key(), b"customers.suppression.key-id", hashlib.sha256).hexdigest()[:16]


def normalised_email(email: str) -> str:
    return (email or "").strip().lower()


def normalised_crm_id(external_id: str) -> str:
    return (external_id or "").strip()


def _digest(kind: str, text: str) -> str:
    return hmac.new(_key(), f"customers.suppression:{kind}:{text}".encode(), hashlib.sha256).hexdigest()


def email_digest(email: str) -> str | None:
    email = normalised_email(email)
    return _digest(Kind.EMAIL, email) if email else None


def crm_id_digest(connection_id: int, external_id: str) -> str | None:
    external_id = normalised_crm_id(external_id)
    return _digest(Kind.CRM_ID, f"{connection_id}:{external_id}") if external_id else None


def suppressed_digests(digests: Iterable[str | None], *, blocked: bool = True) -> set[str]:
    """Those of ``digests`` on the list. ``blocked``: the caller is refusing something because of them,
    so their entries' block count and time move (one update, only when some matched)."""
    wanted = sorted({d for d in digests if d})
    found: set[str] = set()
    for i in range(0, len(wanted), CHUNK):
        found.update(Suppression.objects.filter(digest__in=wanted[i : i + CHUNK]).values_list("digest", flat=True))
    if found and blocked:
        Suppression.objects.filter(digest__in=found).update(
            times_blocked=F("times_blocked") + 1, last_blocked_at=timezone.now()
        )
    return found


def suppressed_emails(*, emails: Iterable[str], blocked: bool = True) -> set[str]:
    """Of ``emails``, the normalised ones on the suppression list."""
    by_digest = {email_digest(e): normalised_email(e) for e in emails if normalised_email(e)}
    return {by_digest[d] for d in suppressed_digests(by_digest, blocked=blocked)}


def suppressed_crm_ids(
    *, external_ids: Iterable[str], connection_ids: Iterable[int] | None = None, blocked: bool = True
) -> set[str]:
    """Of ``external_ids``, the normalised ones on the list for any of ``connection_ids``; None: for any
    connection (an import or an API call that names customers without their connection)."""
    if connection_ids is None:
        connection_ids = (
            Suppression.objects.filter(kind=Kind.CRM_ID, connection__isnull=False)
            .values_list("connection_id", flat=True)
            .distinct()
        )
    connection_ids = list(connection_ids)
    by_digest = {
        crm_id_digest(c, e): normalised_crm_id(e) for e in external_ids if normalised_crm_id(e) for c in connection_ids
    }
    return {by_digest[d] for d in suppressed_digests(by_digest, blocked=blocked)}

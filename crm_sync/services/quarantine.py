"""Quarantined records of one subject: found for their data export, deleted when their data is erased.

A quarantined payload is the record as the connector saw it (a CSV line, HubSpot's JSON, or a
normalised record that failed to apply), so a subject is recognised by their email anywhere in it, and
by their CRM id only where the id is marked as one (a HubSpot source, a record's id field): a bare id
such as "12" also matches unrelated numbers in a line, and another person's record must never be
exported or deleted for it.
"""

from __future__ import annotations

from django.db.models import Q

from crm_sync.models import QuarantinedRecord


def _mentioning(*, connection_id: int, external_id: str, email: str) -> Q | None:
    query = Q()
    if email:
        query |= Q(payload__icontains=email)
    if external_id:
        query |= Q(source__endswith=f":{external_id}", source__startswith="hubspot:")
        for field in ("external_id", "customer_id", "referred_by", "referrer_id"):
            query |= Q(payload__contains=f"{field}={external_id!r}")
        query |= Q(payload__contains=f'"id": "{external_id}"')
    return Q(connection_id=connection_id) & query if query else None


def quarantined_records_mentioning(*, connection_id: int, external_id: str, email: str) -> list[dict]:
    query = _mentioning(connection_id=connection_id, external_id=external_id, email=email)
    if query is None:
        return []
    return list(
        QuarantinedRecord.objects.filter(query)
        .order_by("created_at", "pk")
        .values("source", "reason", "payload", "created_at")
    )


def quarantined_records_erase(*, subjects: list[tuple[int, str, str]]) -> int:
    """Delete the quarantined records that mention these (connection id, CRM id, email) subjects: they
    hold the subject's personal data, and an erased subject's record is never applied anyway."""
    query = Q(pk__in=[])
    for connection_id, external_id, email in subjects:
        query |= _mentioning(connection_id=connection_id, external_id=external_id, email=email) or Q(pk__in=[])
    deleted, _ = QuarantinedRecord.objects.filter(query).delete()
    return deleted

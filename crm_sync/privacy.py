"""What crm_sync holds of a customer's personal data: quarantined CRM records that mention them (see
``customers.privacy``)."""

from __future__ import annotations

from customers.privacy import Subject

from .services import quarantined_records_erase, quarantined_records_mentioning


def erase(*, subjects: list[Subject]) -> dict[str, int]:
    erased = quarantined_records_erase(subjects=[(s.connection_id, s.external_id, s.email) for s in subjects])
    return {"quarantined_records": erased}


def export(*, subject: Subject) -> dict[str, list]:
    records = quarantined_records_mentioning(
        connection_id=subject.connection_id, external_id=subject.external_id, email=subject.email
    )
    return {"quarantined_records": records}

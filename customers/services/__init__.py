"""Writes of the customers app. The CRM sync, the admin and the commands call these; nothing else writes."""

from customers.services.apply import ApplyResult, SegmentCache, crm_records_apply
from customers.services.customers import (
    EDITABLE_FIELDS,
    customer_anonymise,
    customer_unsubscribe,
    customer_update,
    customers_delete,
    event_correct,
    segments_delete,
)

__all__ = [
    "EDITABLE_FIELDS",
    "ApplyResult",
    "SegmentCache",
    "crm_records_apply",
    "customer_anonymise",
    "customer_unsubscribe",
    "customer_update",
    "customers_delete",
    "event_correct",
    "segments_delete",
]

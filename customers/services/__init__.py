"""Writes of the customers app. The CRM sync, the admin and the commands call these; nothing else writes."""

from customers.services.apply import ApplyResult, SegmentCache, crm_records_apply, customers_resolve
from customers.services.customers import (
    EDITABLE_FIELDS,
    customer_unsubscribe,
    customer_update,
    customers_delete,
    event_correct,
    segments_delete,
)
from customers.services.erasure import ErasureResult, customers_erase
from customers.services.held import held_events_apply
from customers.services.merge import MergeResult, connection_duplicates_merge
from customers.services.segments import segments_rank_by_value, segments_ranks_confirm

__all__ = [
    "EDITABLE_FIELDS",
    "ApplyResult",
    "ErasureResult",
    "MergeResult",
    "SegmentCache",
    "crm_records_apply",
    "customers_resolve",
    "held_events_apply",
    "segments_rank_by_value",
    "segments_ranks_confirm",
    "connection_duplicates_merge",
    "customer_unsubscribe",
    "customer_update",
    "customers_delete",
    "customers_erase",
    "event_correct",
    "segments_delete",
]

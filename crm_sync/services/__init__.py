"""Writes of the crm_sync app: sync runs, imports, and applying normalised records."""

from crm_sync.services.quarantine import quarantined_records_erase, quarantined_records_mentioning
from crm_sync.services.runs import (
    FileImportResult,
    SyncAlreadyRunning,
    connection_default_csv,
    crm_events_import,
    crm_file_import,
    crm_sync_run,
)

__all__ = [
    "FileImportResult",
    "SyncAlreadyRunning",
    "connection_default_csv",
    "crm_events_import",
    "crm_file_import",
    "crm_sync_run",
    "quarantined_records_erase",
    "quarantined_records_mentioning",
]

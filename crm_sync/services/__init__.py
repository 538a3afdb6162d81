"""Writes of the crm_sync app: sync runs, imports, and applying normalised records."""

from crm_sync.services.matching import connection_matching_error, connection_matching_set
from crm_sync.services.quarantine import quarantined_records_erase, quarantined_records_mentioning
from crm_sync.services.runs import (
    FileImportResult,
    SyncAlreadyRunning,
    connection_default_csv,
    crm_events_import,
    crm_file_import,
    crm_sync_run,
    sync_run_record_skipped,
    sync_runs_fail_dead,
)
from crm_sync.services.secrets import SecretsRotation, connection_secrets_rotate

__all__ = [
    "FileImportResult",
    "SecretsRotation",
    "SyncAlreadyRunning",
    "connection_default_csv",
    "connection_matching_error",
    "connection_matching_set",
    "connection_secrets_rotate",
    "crm_events_import",
    "crm_file_import",
    "crm_sync_run",
    "sync_run_record_skipped",
    "sync_runs_fail_dead",
    "quarantined_records_erase",
    "quarantined_records_mentioning",
]

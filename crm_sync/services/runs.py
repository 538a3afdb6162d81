"""Sync runs: one connection at a time, page by page, each page committed with its checkpoint."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db import connection as db_connection
from django.db import connections as db_connections
from django.db.models import F, Q
from django.utils import timezone

from core.csvfiles import empty_tokens
from crm_sync.connectors import Connector, ConnectorError, connector_for
from crm_sync.connectors.base import Page, prefetched
from crm_sync.connectors.csv_files import file_fingerprint, file_pages
from crm_sync.models import Connection, ProcessedFile, QuarantinedRecord, SyncRun
from customers.models import Customer, Event, HeldEvent
from customers.records import RejectedRecord
from customers.services import SegmentCache, crm_records_apply, held_events_apply, segments_rank_by_value

log = logging.getLogger(__name__)

DEFAULT_CSV_CONNECTION = "CSV files"
# TableStatistics: a table is analysed again once a run has added this many rows more than it held.
ANALYZE_AFTER_ROWS = 1000


class SyncAlreadyRunning(Exception):
    """Another run of the connection is running and alive; ``active`` is that run (None if it ended since)."""

    def __init__(self, message: str, *, active: SyncRun | None = None) -> None:
        super().__init__(message)
        self.active = active


def dead_after_seconds() -> int:
    """A "running" run whose heartbeat is older than this belongs to a worker that stopped (killed, out of
    memory, its machine gone): a live run beats every ``heartbeat_seconds()`` whatever it is doing."""
    return max(10, int(getattr(settings, "CRM_SYNC_DEAD_AFTER_SECONDS", 240)))


def heartbeat_seconds() -> float:
    """Four beats within the dead-after time: one slow beat (a busy database) is not taken for death."""
    return max(1.0, min(60.0, dead_after_seconds() / 4))


def _when(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S %Z") if moment else "–"


def _dead(cutoff) -> Q:
    return Q(status=SyncRun.Status.RUNNING) & (
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    )


def sync_runs_fail_dead(*, connection: Connection | None = None) -> list[SyncRun]:
    """Mark failed the running runs (of ``connection``, or of every connection) whose worker stopped, so
    the next sync proceeds. Each row is taken with a conditional UPDATE: of two callers at once, one
    marks it. Returns the runs this call marked."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=dead_after_seconds())
    candidates = SyncRun.objects.filter(_dead(cutoff))
    if connection is not None:
        candidates = candidates.filter(connection=connection)
    marked = []
    for run in candidates.select_related("connection"):
        last_sign = run.heartbeat_at or run.started_at
        error = (
            f"The worker stopped: no heartbeat since {_when(last_sign)}. "
            "The next sync resumes from the last committed page."
        )
        if SyncRun.objects.filter(_dead(cutoff), pk=run.pk).update(
            status=SyncRun.Status.FAILED, finished_at=now, error=error
        ):
            log.warning("Sync run %s of %s: %s", run.pk, run.connection, error)
            run.status, run.finished_at, run.error = SyncRun.Status.FAILED, now, error
            marked.append(run)
    return marked


def sync_run_start(*, connection: Connection, full: bool = False) -> SyncRun:
    sync_runs_fail_dead(connection=connection)
    try:
        with transaction.atomic():
            return SyncRun.objects.create(connection=connection, full=full, heartbeat_at=timezone.now())
    except IntegrityError:
        active = SyncRun.objects.filter(connection=connection, status=SyncRun.Status.RUNNING).first()
        raise SyncAlreadyRunning(f"Another sync of {connection} is running", active=active) from None


def sync_run_record_skipped(*, connection: Connection, active: SyncRun | None) -> SyncRun:
    """A queued sync that found another run active and alive: kept as a "skipped" run, so the admin
    lists it with the runs (and warns on the connection's page) instead of it vanishing into a log."""
    now = timezone.now()
    if active is not None:
        error = (
            f"Skipped: the run started at {_when(active.started_at)} is still active "
            f"(last heartbeat {_when(active.heartbeat_at)})."
        )
    else:
        error = "Skipped: another run was active."
    return SyncRun.objects.create(connection=connection, status=SyncRun.Status.SKIPPED, finished_at=now, error=error)


class RunHeartbeat:
    """Moves the run's heartbeat every ``heartbeat_seconds()`` from a thread of its own while the run
    works, so a long page (a slow CRM answer and its retries, a big page's writes, the parsing of a large
    file) never looks like a dead worker, while a killed worker stops beating with it. A worker that hangs
    alive keeps beating until Celery's hard time limit kills it. The thread has its own database
    connection and closes it."""

    def __init__(self, run: SyncRun) -> None:
        self.run_id = run.pk
        self.interval = heartbeat_seconds()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"sync-run-{run.pk}-heartbeat", daemon=True)

    def __enter__(self) -> RunHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _beat(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    SyncRun.objects.filter(pk=self.run_id, status=SyncRun.Status.RUNNING).update(
                        heartbeat_at=timezone.now()
                    )
                except Exception:  # a busy or restarting database: the next beat tries again
                    log.warning("Heartbeat of sync run %s not recorded", self.run_id, exc_info=True)
        finally:
            db_connections.close_all()  # this thread's connections only


def _run_finish(run: SyncRun, *, error: str = "") -> None:
    run.refresh_from_db()
    run.status = SyncRun.Status.FAILED if error else SyncRun.Status.SUCCEEDED
    run.error = error
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at"])


@dataclass
class PagesSummary:
    quarantined: list[tuple[str, str]] = field(default_factory=list)  # (source, reason), the first 1000
    # Records of subjects whose data was erased at their request (the suppression list): skipped, and
    # neither stored nor quarantined. Counted here and logged; the run row has no column for them.
    suppressed: int = 0
    # Events held because their customer is unknown (customers.HeldEvent), and held events (of any run)
    # applied at the end of this one because their customer became known.
    held: int = 0
    held_applied: int = 0
    # Value segments created from names the files or the CRM used, ranked by their customers' mean value.
    segments_created: list[str] = field(default_factory=list)


class TableStatistics:
    """Keeps PostgreSQL's planner statistics of the customer and event tables up to date while a run
    grows them: a table whose size has doubled since it was last analysed is analysed again after the
    page that did it (as autovacuum would, but within the run rather than up to a minute later).

    Without it, the first sync into empty tables is planned with the statistics of empty tables: the
    lookups of a page's customers and events by key filter every row of the connection instead of
    probing the unique index, and each page costs more than the one before it."""

    def __init__(self) -> None:
        self.enabled = db_connection.vendor == "postgresql"
        self.tables = {model: self._rows(model) for model in (Customer, Event)} if self.enabled else {}
        self.added = dict.fromkeys(self.tables, 0)

    @staticmethod
    def _rows(model) -> float:
        with db_connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [model._meta.db_table])
            row = cursor.fetchone()
        return max(0.0, float(row[0])) if row else 0.0  # -1: never analysed

    def grew(self, *, customers: int, events: int) -> None:
        if not self.enabled:
            return
        self.added[Customer] += customers
        self.added[Event] += events
        for model, rows in self.tables.items():
            if self.added[model] > ANALYZE_AFTER_ROWS + rows:
                with db_connection.cursor() as cursor:
                    cursor.execute(f"ANALYZE {db_connection.ops.quote_name(model._meta.db_table)}")
                self.tables[model] = self._rows(model)
                self.added[model] = 0


def _pages_apply(*, run: SyncRun, connection: Connection, pages: Iterable[Page]) -> PagesSummary:
    summary = PagesSummary()
    segments = SegmentCache()
    summary.segments_created = segments.created  # the same list: filled as the pages create segments
    statistics = TableStatistics()
    for page in pages:
        with transaction.atomic():
            _page_commit_asynchronous()
            result = crm_records_apply(connection=connection, records=page.records, segments=segments)
            rejected = page.rejected + result.rejected
            _quarantine(connection=connection, run=run, rejected=rejected)
            SyncRun.objects.filter(pk=run.pk).update(
                pages=F("pages") + 1,
                records=F("records") + len(page.records) + len(page.rejected),
                events_created=F("events_created") + result.events_created,
                quarantined=F("quarantined") + len(rejected),
                held=F("held") + result.held,
                heartbeat_at=timezone.now(),
            )
            if page.checkpoint is not None:
                Connection.objects.filter(pk=connection.pk).update(checkpoint=page.checkpoint)
                connection.checkpoint = page.checkpoint
            if page.completed_file is not None:
                done = page.completed_file
                ProcessedFile.objects.create(
                    connection=connection, checksum=done.checksum, name=done.name, kind=done.kind, rows=done.rows
                )
        statistics.grew(customers=result.customers_created, events=result.events_created)
        summary.suppressed += result.suppressed
        summary.held += result.held
        if len(summary.quarantined) < 1000:
            summary.quarantined.extend((r.source, r.reason) for r in rejected)
    return summary


def _after_pages(summary: PagesSummary, *, connection: Connection) -> None:
    """What a run does once its pages are in: apply the held events whose customer is known now (in any
    connection: this run may have brought the customer another connection matches on), and rank the
    value segments whose ranks nobody confirmed yet by their customers' mean value."""
    segments = SegmentCache()
    # A connection another run is syncing now is left to that run's end.
    busy = SyncRun.objects.filter(status=SyncRun.Status.RUNNING).exclude(connection=connection).values("connection")
    held_in = Connection.objects.filter(pk__in=HeldEvent.objects.values("connection")).exclude(pk__in=busy)
    for other in held_in.select_related("match_connection"):
        summary.held_applied += held_events_apply(connection=other, segments=segments)
    summary.segments_created += segments.created
    segments_created = summary.segments_created
    ranked = segments_rank_by_value()
    if segments_created:
        log.warning(
            "Created the value segments %s, ranked by their customers' mean value (%s): confirm the ranks in admin",
            ", ".join(segments_created), ", ".join(s.name for s in ranked),
        )  # fmt: skip


def _page_commit_asynchronous() -> None:
    """PostgreSQL: the page's COMMIT does not wait for its WAL to reach the disk (``synchronous_commit``
    off, for this transaction only). A crash of the database server can then lose the last pages
    committed, but each page is one transaction with its checkpoint (and a file's last page with its
    ProcessedFile row), so what is lost is lost together and the next run reads it again from the
    checkpoint: idempotent, as after a killed worker. The run's final status is an ordinary commit,
    which makes every page before it durable. Waiting for the disk once per page was most of a page's
    time while other databases on the server were writing."""
    if db_connection.vendor == "postgresql":
        with db_connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _quarantine(*, connection: Connection, run: SyncRun, rejected: list[RejectedRecord]) -> None:
    """Store the rejected records, except those already quarantined unchanged (a replay re-reads them)."""
    if not rejected:
        return
    known = set(
        QuarantinedRecord.objects.filter(connection=connection, source__in={r.source[:200] for r in rejected})
        .values_list("source", "reason", "payload")
    )  # fmt: skip
    fresh: dict[tuple[str, str, str], QuarantinedRecord] = {}
    for r in rejected:
        identity = (r.source[:200], r.reason, r.payload)
        if identity not in known:
            fresh.setdefault(identity, QuarantinedRecord(connection=connection, run=run, source=r.source[:200],
                                                         payload=r.payload, reason=r.reason))  # fmt: skip
    QuarantinedRecord.objects.bulk_create(fresh.values(), batch_size=500)


def _run(*, run: SyncRun, connection: Connection, pages: Iterable[Page]) -> PagesSummary:
    try:
        with RunHeartbeat(run):
            summary = _pages_apply(run=run, connection=connection, pages=pages)
            _after_pages(summary, connection=connection)
    except ConnectorError as exc:
        _run_finish(run, error=exc.message)
        raise
    except BaseException as exc:
        # Includes Celery's soft time limit; the details are in the worker log, not the admin.
        _run_finish(run, error=f"Internal error ({type(exc).__name__}); see the worker log")
        raise
    _run_finish(run)
    if summary.suppressed:
        log.info(
            "%s: %d records skipped, their subjects erased at their request (suppression list)",
            connection, summary.suppressed,
        )  # fmt: skip
    return summary


def crm_sync_run(*, connection: Connection, full: bool = False, connector: Connector | None = None) -> SyncRun:
    """Sync one connection from its checkpoint (or everything with ``full``).

    Raises SyncAlreadyRunning, or ConnectorError (the run is then marked failed with its message).
    """
    run = sync_run_start(connection=connection, full=full)
    try:
        connector = connector or connector_for(connection)
    except ConnectorError as exc:
        _run_finish(run, error=exc.message)
        raise
    pages = connector.pages(checkpoint=dict(connection.checkpoint), full=full)
    try:
        _run(run=run, connection=connection, pages=pages)
    finally:
        if hasattr(pages, "close"):
            pages.close()  # stops a prefetching thread before its HTTP session goes
        connector.close()
    now = timezone.now()
    Connection.objects.filter(pk=connection.pk).update(
        last_synced_at=now, next_sync_at=now + timedelta(minutes=connection.sync_interval_minutes)
    )
    run.refresh_from_db()
    log.info(
        "Synced %s: %d pages, %d records, %d events, %d quarantined",
        connection, run.pages, run.records, run.events_created, run.quarantined,
    )  # fmt: skip
    return run


@dataclass
class FileImportResult:
    name: str
    already_processed: bool = False
    run: SyncRun | None = None
    quarantined: list[tuple[str, str]] = field(default_factory=list)
    suppressed: int = 0  # rows of erased subjects, skipped (PagesSummary)
    held_applied: int = 0  # held events of earlier files applied now that their customer is known
    segments_created: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.run.records if self.run else 0

    @property
    def events_created(self) -> int:
        return self.run.events_created if self.run else 0


def connection_default_csv() -> Connection:
    connection, _ = Connection.objects.get_or_create(
        name=DEFAULT_CSV_CONNECTION, defaults={"kind": Connection.Kind.CSV, "enabled": False}
    )
    return connection


def crm_file_import(
    *,
    connection: Connection,
    stream: BinaryIO,
    name: str,
    kind: str,
    mapping: dict[str, str] | None = None,
    empty: list[str] | tuple[str, ...] = (),
    date_format: str | None = None,
) -> FileImportResult:
    """Apply one customers.csv or events.csv (an admin upload, a command): the same pages and the same
    apply path as a folder sync. A file already applied (same checksum) is skipped. ``mapping``, ``empty``
    and ``date_format`` read a file whose columns, empty values or dates are written otherwise."""
    checksum, encoding = file_fingerprint(stream)
    if ProcessedFile.objects.filter(connection=connection, checksum=checksum).exists():
        return FileImportResult(name=name, already_processed=True)
    run = sync_run_start(connection=connection)
    # Parsing the next page overlaps writing this one (the database releases the GIL while it works).
    pages = prefetched(
        file_pages(
            stream=stream,
            name=name,
            kind=kind,
            checksum=checksum,
            encoding=encoding,
            mapping=mapping,
            empty=empty_tokens(empty),
            date_format=date_format,
        ),
        name="csv-prefetch",
    )
    try:
        summary = _run(run=run, connection=connection, pages=pages)
    finally:
        pages.close()  # stops the reading thread before the caller closes the stream
    run.refresh_from_db()
    return FileImportResult(
        name=name,
        run=run,
        quarantined=summary.quarantined,
        suppressed=summary.suppressed,
        held_applied=summary.held_applied,
        segments_created=summary.segments_created,
    )


def crm_events_import(
    *,
    connection: Connection | None = None,
    path: Path | str,
    mapping: dict[str, str] | None = None,
    empty: list[str] | tuple[str, ...] = (),
    date_format: str | None = None,
) -> FileImportResult:
    path = Path(path)
    with path.open("rb") as stream:
        return crm_file_import(
            connection=connection or connection_default_csv(),
            stream=stream,
            name=path.name,
            kind="events",
            mapping=mapping,
            empty=empty,
            date_format=date_format,
        )

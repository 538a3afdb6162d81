"""Where reads go. With a read replica configured (``DATABASE_REPLICA_URL``), the dashboards and the
metrics API read inside ``replica_reads()`` and the router sends those reads to it; every write, the
survey pages and any read that must see its own writes stay on the primary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db import OperationalError, connections
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

# PostgreSQL's SQLSTATE for a statement cancelled by statement_timeout.
QUERY_CANCELED = "57014"

_replica_reads: ContextVar[bool] = ContextVar("replica_reads", default=False)


def read_alias() -> str:
    """The database the reads of the current context go to."""
    replica = getattr(settings, "REPLICA_DATABASE", None)
    return replica if replica and _replica_reads.get() else "default"


@contextmanager
def replica_reads() -> Iterator[str]:
    """Send this block's reads to the replica, when there is one; yields the alias they go to."""
    token = _replica_reads.set(True)
    try:
        yield read_alias()
    finally:
        _replica_reads.reset(token)


class ReplicaRouter:
    def db_for_read(self, model, **hints) -> str | None:
        return read_alias() if _replica_reads.get() else None

    def db_for_write(self, model, **hints) -> str | None:
        return "default"

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool:
        return db == "default"


class StatementTimeoutMiddleware:
    """A web request's queries end with the request: PostgreSQL cancels any statement running longer
    than ``WEB_STATEMENT_TIMEOUT_SECONDS`` (keep it below the web server's worker timeout, or the worker
    is killed while its query goes on running). Workers and commands never pass through here, so
    long rebuilds and imports keep no limit. A cancelled statement answers 503 with a plain message."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.milliseconds = settings.WEB_STATEMENT_TIMEOUT_SECONDS * 1000
        self.aliases = ["default", *([settings.REPLICA_DATABASE] if settings.REPLICA_DATABASE else [])]

    def __call__(self, request):
        if not self.milliseconds:
            return self.get_response(request)
        with ExitStack() as stack:
            for alias in self.aliases:
                if connections[alias].vendor == "postgresql":
                    stack.enter_context(connections[alias].execute_wrapper(self._before_first_query))
            return self.get_response(request)

    def _before_first_query(self, execute, sql, params, many, context):
        """Set the limit when the request first reaches the database (a request that needs none opens no
        connection), once per database session: sessions persist with CONN_MAX_AGE."""
        wrapper = context["connection"]
        if getattr(wrapper, "_web_statement_timeout_on", None) is wrapper.connection:
            return execute(sql, params, many, context)
        if not wrapper.in_atomic_block:
            self._set_timeout(wrapper)
            wrapper._web_statement_timeout_on = wrapper.connection
            return execute(sql, params, many, context)
        # Inside a transaction the first statement may have to come first (SET TRANSACTION ISOLATION
        # LEVEL), and a rollback would take the setting back: set it after, and again next request.
        result = execute(sql, params, many, context)
        self._set_timeout(wrapper)
        return result

    def _set_timeout(self, wrapper) -> None:
        # On the driver's own cursor, which passes no wrapper (this one included).
        with wrapper.connection.cursor() as cursor:
            cursor.execute("SELECT set_config('statement_timeout', %s, false)", [f"{self.milliseconds}ms"])

    def process_exception(self, request, exception):
        if isinstance(exception, OperationalError) and getattr(exception.__cause__, "pgcode", None) == QUERY_CANCELED:
            seconds = settings.WEB_STATEMENT_TIMEOUT_SECONDS
            if request.path.startswith("/api/"):
                message = _("The database did not answer within %(seconds)s seconds.") % {"seconds": seconds}
                return JsonResponse({"error": message}, status=503)
            return render(request, "503.html", {"seconds": seconds}, status=503)
        return None


def statistics_refresh(model) -> None:
    """Refresh PostgreSQL's planner statistics of ``model``'s table after a bulk write, so the next reads
    are planned for the rows just written rather than for the table autovacuum last saw (other databases
    plan without them)."""
    connection = connections["default"]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")

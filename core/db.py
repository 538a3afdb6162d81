"""Where reads go. With a read replica configured (``DATABASE_REPLICA_URL``), the dashboards and the
metrics API read inside ``replica_reads()`` and the router sends those reads to it; every write, the
survey pages and any read that must see its own writes stay on the primary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings

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

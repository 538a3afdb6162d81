"""Ingest rate and peak memory of a HubSpot sync against the fake server.

    DATABASE_URL=postgres://... python -m crm_sync.bench --records 100000
    DATABASE_URL=postgres://... python -m crm_sync.bench --records 2000 --latency 0.15 [--history-concurrency 1]

The fake server runs in a separate process so the peak RSS measured is the sync's own. The sync
writes to a throwaway database (test_<name>_bench, or a temporary SQLite file) that is dropped after.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import tempfile
import time


def _serve(size: int, page_size: int, latency: float, ready) -> None:
    from crm_sync.connectors.hubspot import HubSpotConnector
    from crm_sync.models import Connection
    from crm_sync.tests.fake_hubspot import TOKEN, FakeHubSpot
    from crm_sync.tests.hubspot_data import CompanyDataset, connection_settings

    server = FakeHubSpot(CompanyDataset(size), latency=latency).start()
    # Before the clock starts: the sorted index, and every object serialised as the sync will ask for it
    # (the properties of this connection's settings), so the fake's share of the cores is small.
    server._search_order()
    connector = HubSpotConnector(
        Connection(kind="hubspot", token=TOKEN, settings=connection_settings(server.url, page_size=page_size))
    )
    server.prerender(connector._properties, connector._history_properties)
    ready.put(server.url)
    while True:
        time.sleep(3600)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def bench(records: int = 100_000, page_size: int = 200, latency: float = 0.0, history_concurrency: int = 4) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxmetrics.settings.test")
    import django

    django.setup()
    # Fork the server before any database connection exists.
    context = multiprocessing.get_context("fork")
    ready = context.Queue()
    server = context.Process(target=_serve, args=(records, page_size, latency, ready), daemon=True)
    server.start()
    url = ready.get(timeout=300)

    from django.db import connection

    if connection.vendor == "sqlite":
        # A file, not the in-memory test database, whose pages would count in this process's RSS.
        scratch = tempfile.TemporaryDirectory(prefix="crm-bench-")
        connection.settings_dict["TEST"]["NAME"] = os.path.join(scratch.name, "bench.sqlite3")
    else:
        connection.settings_dict["TEST"]["NAME"] = f"test_{connection.settings_dict['NAME']}_bench"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from crm_sync.models import Connection
        from crm_sync.services import crm_sync_run
        from crm_sync.tests.fake_hubspot import TOKEN
        from crm_sync.tests.hubspot_data import connection_settings
        from customers.models import Customer, Event

        settings = connection_settings(url, page_size=page_size, history_concurrency=history_concurrency)
        hubspot = Connection.objects.create(kind="hubspot", name="bench", token=TOKEN, settings=settings)
        rss_before = _rss_mb()
        started = time.perf_counter()
        run = crm_sync_run(connection=hubspot)
        seconds = time.perf_counter() - started
        result = {
            "database": connection.vendor,
            "records": run.records,
            "customers": Customer.objects.count(),
            "events": Event.objects.count(),
            "quarantined": run.quarantined,
            "seconds": round(seconds, 1),
            "records_per_second": round(run.records / seconds),
            "rss_before_sync_mb": round(rss_before, 1),
            "peak_rss_mb": round(_rss_mb(), 1),
        }
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        server.terminate()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=200, help="Search page size (HubSpot's maximum: 200).")
    parser.add_argument("--latency", type=float, default=0.0, help="Seconds the fake waits before each answer.")
    parser.add_argument("--history-concurrency", type=int, default=4, help="The connection's history_concurrency.")
    options = parser.parse_args()
    result = bench(options.records, options.page_size, options.latency, options.history_concurrency)
    print(json.dumps(result, indent=2))  # noqa: T201 - a command-line tool


if __name__ == "__main__":
    main()

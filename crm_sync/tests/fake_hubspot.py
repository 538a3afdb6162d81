"""A fake HubSpot CRM v3 API: real HTTP on loopback, served from a thread.

It implements what the connector uses (search with the 10 000-result cap, list, batch read with
propertiesWithHistory, the owners list), checks the bearer token, and can be told to misbehave: answer 429 with
Retry-After, 500, 401, 403, or be slow.

Objects come from a store: ``DictStore`` for hand-written tests, or any object with the same three
methods (``hubspot_data.CompanyDataset`` renders 100 000 companies lazily).
"""

from __future__ import annotations

import bisect
import json
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

TOKEN = "pat-na1-test-secret-token"


@lru_cache(maxsize=4096)
def _iso_day(days: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=days)).isoformat()


def iso_ms(ms: int) -> str:
    """HubSpot's timestamp format, 2024-01-01T00:00:00.000Z. The fake's hottest function (every
    timestamp of every object served), hence arithmetic rather than datetime formatting."""
    days, milliseconds = divmod(ms, 86_400_000)
    seconds, milli = divmod(milliseconds, 1000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return f"{_iso_day(days)}T{hour:02d}:{minute:02d}:{second:02d}.{milli:03d}Z"


class Rendered(str):
    """One object's JSON, serialised ahead of time (``FakeHubSpot.prerender``)."""


def dumps(answer: dict) -> str:
    """``json.dumps(answer)``, with the pre-serialised objects of ``answer["results"]`` spliced in."""
    results = answer.get("results")
    if not results or not any(isinstance(r, Rendered) for r in results):
        return json.dumps(answer)
    rest = json.dumps({k: v for k, v in answer.items() if k != "results"})[:-1]
    items = ", ".join(r if isinstance(r, Rendered) else json.dumps(r) for r in results)
    return f'{rest}{", " if len(rest) > 1 else ""}"results": [{items}]}}'


def to_ms(value: datetime | int) -> int:
    return value if isinstance(value, int) else int(value.timestamp() * 1000)


class DictStore:
    """Objects as dicts: {"id": "1", "properties": {...}, "history": {prop: [(when, value), ...]},
    "createdAt": when}. History is oldest first; ``when`` is a datetime or epoch milliseconds."""

    def __init__(self, modified_property: str = "hs_lastmodifieddate") -> None:
        self.modified_property = modified_property
        self._objects: dict[str, dict] = {}

    def put(self, obj: dict) -> None:
        self._objects[str(obj["id"])] = obj

    def ids(self) -> list[str]:
        return sorted(self._objects, key=lambda i: (len(i), i))

    def modified_ms(self, object_id: str) -> int:
        raw = self._objects[object_id]["properties"].get(self.modified_property)
        return int(datetime.fromisoformat(raw).timestamp() * 1000) if raw else 0

    def get(self, object_id: str) -> dict | None:
        return self._objects.get(object_id)


@dataclass
class Fault:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    path_contains: str = ""
    delay: float = 0.0


class FakeHubSpot:
    def __init__(self, store, *, token: str = TOKEN, search_cap: int = 10_000, latency: float = 0.0) -> None:
        self.store = store
        # The portal's owners as /crm/v3/owners/ returns them: {"id": "41629779", "email": ..., ...}.
        self.owners: list[dict] = []
        self.token = token
        self.search_cap = search_cap
        self.latency = latency
        self.missing_scopes = False
        self.faults: deque[Fault] = deque()
        self.requests: list[tuple[str, str, dict | None]] = []
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests the fake was answering at once
        self._lock = threading.Lock()
        self._sorted: list[tuple[int, int, str]] | None = None
        self._rendered: dict[tuple[str, tuple[str, ...], tuple[str, ...]], Rendered] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # Control

    def fail(self, status: int, *, times: int = 1, headers: dict | None = None, path_contains: str = "",
             delay: float = 0.0) -> None:  # fmt: skip
        for _ in range(times):
            self.faults.append(Fault(status, headers or {}, path_contains, delay))

    def changed(self) -> None:
        """Call after changing the store's objects, so the search order is rebuilt."""
        with self._lock:
            self._sorted = None
            self._rendered = {}

    def prerender(self, properties: Iterable[str], with_history: Iterable[str] = ()) -> None:
        """Serialise every object as it will be asked for (search and list with ``properties``, batch
        read with ``properties=[]`` and ``with_history``), so that serving a page costs the fake
        almost nothing: the benchmark then measures the sync, not the fixture, on a machine where both
        share the cores (HubSpot's own work is done on HubSpot's machines)."""
        shapes = [(tuple(properties), ()), ((), tuple(with_history))]
        rendered = {
            (object_id, props, history): Rendered(json.dumps(self._public(self.store.get(object_id), props, history)))
            for object_id in self.store.ids()
            for props, history in shapes
        }  # fmt: skip
        with self._lock:
            self._rendered = rendered

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeHubSpot:
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-hubspot", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeHubSpot:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def paths(self, method: str | None = None) -> list[str]:
        return [path for m, path, _ in self.requests if method is None or m == method]

    # Serving

    def _search_order(self) -> list[tuple[int, int, str]]:
        with self._lock:
            if self._sorted is None:
                self._sorted = sorted((self.store.modified_ms(i), int(i), i) for i in self.store.ids())
            return self._sorted

    def _object(self, object_id: str, properties: list[str], with_history: list[str] = ()) -> dict | Rendered | None:
        """The object as the API returns it: pre-serialised if ``prerender`` covered this shape."""
        rendered = self._rendered.get((object_id, tuple(properties), tuple(with_history)))
        if rendered is not None:
            return rendered
        obj = self.store.get(object_id)
        return None if obj is None else self._public(obj, properties, with_history)

    def _public(self, obj: dict, properties: Iterable[str], with_history: Iterable[str] = ()) -> dict:
        props = obj["properties"]
        result = {
            "id": str(obj["id"]),
            "properties": {name: props.get(name) for name in properties},
            "createdAt": iso_ms(to_ms(obj.get("createdAt", 0))),
            "updatedAt": props.get(self.store.modified_property) or iso_ms(0),
            "archived": False,
        }
        if with_history:
            history = obj.get("history", {})
            result["propertiesWithHistory"] = {
                name: [
                    {"value": value, "timestamp": iso_ms(to_ms(when)), "sourceType": "CRM_UI"}
                    for when, value in reversed(history.get(name, []))  # HubSpot: newest first
                ]
                for name in with_history
            }
        return result

    def handle(self, method: str, path: str, query: dict, body: dict | None) -> tuple[int, dict, dict]:
        parts = path.strip("/").split("/")
        if method == "GET" and parts == ["crm", "v3", "owners"]:
            return self._owners(query)
        if parts[:3] != ["crm", "v3", "objects"] or len(parts) < 4:
            return 404, {}, {"status": "error", "message": "not found"}
        rest = parts[4:]
        if method == "POST" and rest == ["search"]:
            return self._search(body or {})
        if method == "POST" and rest == ["batch", "read"]:
            return self._batch_read(body or {})
        if method == "GET" and not rest:
            return self._list(query)
        return 404, {}, {"status": "error", "message": "not found"}

    def _search(self, body: dict) -> tuple[int, dict, dict]:
        after = int(body.get("after") or 0)
        limit = min(int(body.get("limit") or 10), 200)
        if after >= self.search_cap:
            return (
                400,
                {},
                {
                    "status": "error",
                    "category": "VALIDATION_ERROR",
                    "message": f"Search results are limited to {self.search_cap} records; 'after' is {after}",
                },
            )
        anchor = 0
        for group in body.get("filterGroups") or []:
            for item in group.get("filters") or []:
                if item.get("operator") == "GTE":
                    anchor = int(item["value"])
        order = self._search_order()
        start = bisect.bisect_left(order, (anchor, -1, ""))
        window = order[start + after : start + after + limit]
        properties = body.get("properties") or []
        results = [self._object(object_id, properties) for _, _, object_id in window]
        answer: dict = {"total": len(order) - start, "results": results}
        if start + after + limit < len(order):
            answer["paging"] = {"next": {"after": str(after + limit)}}
        return 200, {}, answer

    def _list(self, query: dict) -> tuple[int, dict, dict]:
        limit = min(int(query.get("limit", ["10"])[0]), 100)
        after = query.get("after", [""])[0]
        properties = [p for p in query.get("properties", [""])[0].split(",") if p]
        ids = self.store.ids()
        start = 0
        if after:
            start = bisect.bisect_right([(len(i), i) for i in ids], (len(after), after))
        chunk = ids[start : start + limit]
        answer: dict = {"results": [self._object(i, properties) for i in chunk]}
        if start + limit < len(ids):
            answer["paging"] = {"next": {"after": chunk[-1], "link": "?after=" + chunk[-1]}}
        return 200, {}, answer

    def _owners(self, query: dict) -> tuple[int, dict, dict]:
        limit = min(int(query.get("limit", ["100"])[0]), 500)
        start = int(query.get("after", ["0"])[0] or 0)
        answer: dict = {"results": self.owners[start : start + limit]}
        if start + limit < len(self.owners):
            answer["paging"] = {"next": {"after": str(start + limit), "link": f"?after={start + limit}"}}
        return 200, {}, answer

    def _batch_read(self, body: dict) -> tuple[int, dict, dict]:
        properties = body.get("properties") or []
        with_history = body.get("propertiesWithHistory") or []
        results = []
        for item in body.get("inputs") or []:
            obj = self._object(str(item.get("id")), properties, with_history)
            if obj is not None:
                results.append(obj)
        return 200, {}, {"status": "COMPLETE", "results": results}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without this, Nagle's algorithm and delayed ACKs
    # add 40 ms to every keep-alive response.
    disable_nagle_algorithm = True
    server_fake: FakeHubSpot

    def log_message(self, format, *args) -> None:
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        fake = self.server_fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        parsed = urlparse(self.path)
        body = json.loads(raw) if raw else None
        fake.requests.append((method, parsed.path, body))
        with fake._lock:
            fake.in_flight += 1
            fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
        try:
            self._answer(fake, method, parsed, body)
        finally:
            with fake._lock:
                fake.in_flight -= 1

    def _answer(self, fake: FakeHubSpot, method: str, parsed, body: dict | None) -> None:
        if fake.latency:
            time.sleep(fake.latency)
        if self.headers.get("Authorization") != f"Bearer {fake.token}":
            return self._send(401, {}, {"status": "error", "category": "INVALID_AUTHENTICATION",
                                        "message": "Authentication credentials not found."})  # fmt: skip
        if fake.missing_scopes:
            return self._send(403, {}, {"status": "error", "category": "MISSING_SCOPES",
                                        "message": "This app hasn't been granted all required scopes."})  # fmt: skip
        fault = None
        with fake._lock:
            for candidate in fake.faults:
                if candidate.path_contains in parsed.path:
                    fault = candidate
                    fake.faults.remove(candidate)
                    break
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            return self._send(fault.status, fault.headers, {"status": "error", "message": f"fault {fault.status}"})
        status, headers, answer = fake.handle(method, parsed.path, parse_qs(parsed.query), body)
        self._send(status, headers, answer)

    def _send(self, status: int, headers: dict, answer: dict) -> None:
        payload = dumps(answer).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass

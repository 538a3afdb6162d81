"""HubSpot CRM v3 (private-app bearer token).

Connection.settings (all optional except where noted):

    object_type       "companies" (B2B, default) or "contacts" (B2C)
    base_url          default https://api.hubapi.com; https:// only, except http:// to this machine
                      (127.0.0.1, ::1, localhost: the tests' fake server)
    page_size         search page size, default and at most 200 (the list endpoint of a full sync
                      reads at most 100 per page: HubSpot's limits)
    overlap_minutes   the incremental search starts this long before the checkpoint, default 10
    history           read propertiesWithHistory for event times, default true
    history_concurrency  history batch reads of one page sent at once, default 4 (1: one after
                      the other); each waits out its own 429s, and 4 keeps a page's burst far
                      below HubSpot's 100-190 requests per 10 seconds
    customer_stages   lifecycle stages that mean "customer", default ["customer", "evangelist"]
    lost_stages       lifecycle stages that mean "lost", default []
    segment_map       {"CRM value": "Segment name"}, default: the CRM value is the segment name
    operational_properties  {"event type": "HubSpot date property"}, default {}: HubSpot has no standard
                      object for returns, claims or invoice corrections, so a portal that records them
                      keeps the date of the latest one in a property of the company or contact (set by
                      hand, a workflow or the ERP integration), e.g. {"return": "cx_last_return_date",
                      "support_contact": "notes_last_contacted"}. Each date the property has held (its
                      history, or its current value when history is off) is one event of that type.
                      Types: return, claim, invoice_correction, service_change, support_contact.
    properties        which HubSpot property holds what (defaults below), e.g.
                      {"segment": "tier", "value": "annualrevenue", "lost_flag": "churned", ...}
                      "account_owner" names a property holding a HubSpot owner id (default
                      hubspot_owner_id, "" for none); the owner's email is read from the owners API
                      (/crm/v3/owners, scope crm.objects.owners.read) once per sync run, when the
                      first record with an owner comes in. A token without that scope syncs the
                      rest and stores no account owner (a warning is logged).

Incremental syncs use the search endpoint sorted by the last-modified property in ascending order,
so the checkpoint (the newest modification committed) only ever covers complete data. The search
API refuses to page past 10 000 results: the filter is then re-anchored at the last timestamp seen.
A full sync reads the list endpoint, and its cursor is checkpointed so an interrupted full sync
resumes where it stopped.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from urllib.parse import urlsplit

from django.utils import timezone
from django.utils.translation import gettext as _

from core.days import implausible_moment
from core.definitions import OPERATIONAL_EVENT_TYPES
from core.inputs import NUL, shown_nul
from core.secrets import SecretError
from crm_sync.connectors.base import (
    Connector,
    ConnectorError,
    Page,
    prefetched,
)
from crm_sync.connectors.parsing import (
    clean_country,
    clean_email,
    clean_language,
    parse_bool,
    parse_datetime,
    parse_decimal,
    text,
)
from crm_sync.http import HttpClient
from customers.records import CustomerRecord, HistoryEntry, RejectedRecord

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.hubapi.com"
SEARCH_RESULT_CAP = 10_000  # HubSpot's search endpoint refuses `after` at or beyond this
SEARCH_PAGE_LIMIT = 200  # HubSpot's search endpoint returns at most this many results per page
LIST_PAGE_LIMIT = 100  # and its list endpoint at most this many
OWNERS_PAGE_LIMIT = 500  # the owners endpoint's largest page

DEFAULT_PROPERTIES = {
    "companies": {
        "name": "name",
        "email": "",
        "contact_name": "",  # a company property holding the contact person, when the portal keeps one
        "account_owner": "hubspot_owner_id",  # an owner id: its email comes from the owners API
        "language": "",
        "country": "country",
        "value": "annualrevenue",
        "segment": "cx_segment",
        "lifecycle_stage": "lifecyclestage",
        "customer_since": "hs_lifecyclestage_customer_date",
        "lost_flag": "cx_lost",
        "lost_date": "cx_lost_date",
        "lost_reason": "cx_lost_reason",
        "referred_by": "cx_referred_by",
    },
    "contacts": {
        "name": "",  # firstname + lastname
        "email": "email",
        "contact_name": "",  # a contact is the person: greeted by their own name
        "account_owner": "hubspot_owner_id",
        "language": "hs_language",
        "country": "country",
        "value": "annualrevenue",
        "segment": "cx_segment",
        "lifecycle_stage": "lifecyclestage",
        "customer_since": "hs_lifecyclestage_customer_date",
        "lost_flag": "cx_lost",
        "lost_date": "cx_lost_date",
        "lost_reason": "cx_lost_reason",
        "referred_by": "cx_referred_by",
    },
}
MODIFIED_PROPERTY = {"contacts": "lastmodifieddate", "companies": "hs_lastmodifieddate", "deals": "hs_lastmodifieddate"}
HISTORY_KEYS = ("segment", "lifecycle_stage", "lost_flag", "referred_by")


LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}


def base_url_error(base_url: object) -> str | None:
    """Why base_url cannot be used, or None. The token travels in every request, so only https://
    leaves this machine; plain http:// is for a server on this machine (a test double)."""
    if not isinstance(base_url, str):
        return _("base_url must be a URL starting with https://.")
    parts = urlsplit(base_url)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return None
    if parts.scheme == "http":
        return _("base_url must start with https://: the token would travel unencrypted over http://.")
    return _("base_url must start with https://.")


def operational_properties(config: object) -> dict[str, str]:
    """The operational_properties setting, checked: {event type: HubSpot property}."""
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise ValueError(
            'operational_properties maps event types to HubSpot date properties, e.g. {"return": "cx_last_return_date"}'
        )
    unknown = sorted(str(k) for k in config if k not in OPERATIONAL_EVENT_TYPES)
    if unknown:
        raise ValueError(
            f"operational_properties: {', '.join(unknown)} is not an operational event type "
            f"({', '.join(OPERATIONAL_EVENT_TYPES)})"
        )
    if not all(isinstance(v, str) and v.strip() for v in config.values()):
        raise ValueError("operational_properties: each type needs the name of a HubSpot property")
    return {k: v.strip() for k, v in config.items()}


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


class HubSpotConnector(Connector):
    def __init__(self, connection, *, client: HttpClient | None = None) -> None:
        super().__init__(connection)
        try:
            self._configure(connection.settings or {}, client)
        except (ValueError, TypeError, AttributeError) as exc:
            raise ConnectorError(f"The connection's settings are invalid: {exc}", retryable=False) from None

    def _configure(self, config: dict, client: HttpClient | None) -> None:
        connection = self.connection
        self.object_type = config.get("object_type", "companies")
        if self.object_type not in DEFAULT_PROPERTIES:
            raise ConnectorError(
                f"object_type must be 'companies' or 'contacts', not {self.object_type!r}", retryable=False
            )
        self.audience = "b2c" if self.object_type == "contacts" else "b2b"
        self.page_size = max(1, min(int(config.get("page_size", SEARCH_PAGE_LIMIT)), SEARCH_PAGE_LIMIT))
        self.overlap_ms = int(float(config.get("overlap_minutes", 10)) * 60_000)
        self.history = bool(config.get("history", True))
        self.prefetch = bool(config.get("prefetch", True))
        self.search_cap = int(config.get("search_result_cap", SEARCH_RESULT_CAP))
        self.history_batch_size = max(1, min(int(config.get("history_batch_size", 50)), 100))
        self.history_concurrency = max(1, min(int(config.get("history_concurrency", 4)), 8))
        self.customer_stages = {s.lower() for s in config.get("customer_stages", ["customer", "evangelist"])}
        self.lost_stages = {s.lower() for s in config.get("lost_stages", [])}
        self.segment_map = {str(k).strip().lower(): str(v) for k, v in (config.get("segment_map") or {}).items()}
        self.props = {**DEFAULT_PROPERTIES[self.object_type], **(config.get("properties") or {})}
        self.operational = operational_properties(config.get("operational_properties"))
        self.modified_property = MODIFIED_PROPERTY[self.object_type]
        base_url = config.get("base_url") or DEFAULT_BASE_URL
        if (error := base_url_error(base_url)) is not None:
            raise ConnectorError(error, retryable=False)
        try:
            token = connection.token
        except SecretError as exc:
            raise ConnectorError(
                f"HubSpot token: {exc.message}; set the token again in the admin, or put the key it was "
                "encrypted with back in SECRETS_KEYS",
                retryable=False,
            ) from None
        if not token and client is None:
            raise ConnectorError("No HubSpot token is set on this connection", retryable=False)
        self._client_options = {
            "base_url": base_url,
            "token": token,
            "service": "HubSpot",
            "timeout": (float(config.get("connect_timeout", 5)), float(config.get("read_timeout", 30))),
            "max_attempts": int(config.get("max_attempts", 5)),
            "backoff_seconds": float(config.get("backoff_seconds", 1.0)),
        }
        if client is not None:
            self.history_concurrency = 1  # a client given by the caller is the only one
        self.client = client or HttpClient(**self._client_options)
        # Concurrent history reads: a pool of threads, each with its own HTTP session (a requests
        # Session is not meant to be shared between threads). Made on first use.
        self._pool: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._pool_clients: list[HttpClient] = []
        self._pool_lock = threading.Lock()
        # Owner id -> email, read once per run (a connector serves one run) when first needed.
        self._owners: dict[str, str] | None = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        for client in self._pool_clients:
            client.close()
        self._pool_clients.clear()
        self.client.close()

    # Reading

    @property
    def _properties(self) -> list[str]:
        names = {p for p in self.props.values() if p} | {self.modified_property} | set(self.operational.values())
        if self.object_type == "contacts":
            names |= {"firstname", "lastname"}
        return sorted(names)

    @property
    def _history_properties(self) -> list[str]:
        return sorted({self.props[key] for key in HISTORY_KEYS if self.props.get(key)} | set(self.operational.values()))

    def pages(self, *, checkpoint: dict, full: bool) -> Iterator[Page]:
        if full or "full_after" in checkpoint:
            pages = self._full_pages(checkpoint)
        else:
            pages = self._incremental_pages(checkpoint)
        return prefetched(pages, name=f"hubspot-{self.connection.pk}") if self.prefetch else pages

    def _incremental_pages(self, checkpoint: dict) -> Iterator[Page]:
        committed_ms = int(checkpoint.get("modified_ms", 0))
        anchor = max(0, committed_ms - self.overlap_ms) if committed_ms else 0
        after: str | None = None
        newest_ms = committed_ms
        path = f"/crm/v3/objects/{self.object_type}/search"
        while True:
            body = {
                "filterGroups": [
                    {"filters": [{"propertyName": self.modified_property, "operator": "GTE", "value": str(anchor)}]}
                ],
                "sorts": [{"propertyName": self.modified_property, "direction": "ASCENDING"}],
                "properties": self._properties,
                "limit": self.page_size,
            }
            if after:
                body["after"] = after
            answer = self.client.post(path, json=body)
            results = answer.get("results") or []
            page = self._page(results)
            for raw in results:
                modified = self._modified_ms(raw)
                if modified is not None:
                    newest_ms = max(newest_ms, modified)
            page.checkpoint = {"modified_ms": newest_ms}
            yield page
            after = ((answer.get("paging") or {}).get("next") or {}).get("after")
            if not after or not results:
                return
            if int(after) >= self.search_cap:
                # Sorted ascending, so everything before the newest timestamp seen has been read:
                # start a new search from there (records at that very timestamp are read again).
                if newest_ms <= anchor:
                    raise ConnectorError(
                        f"More than {self.search_cap} HubSpot records share the modification time "
                        f"{datetime.fromtimestamp(anchor / 1000, tz=UTC):%Y-%m-%d %H:%M:%S.%f}; run a full sync",
                        retryable=False,
                    )
                anchor, after = newest_ms, None

    def _full_pages(self, checkpoint: dict) -> Iterator[Page]:
        started_ms = int(checkpoint.get("full_started_ms") or _ms(timezone.now()))
        after = checkpoint.get("full_after") or None
        path = f"/crm/v3/objects/{self.object_type}"
        while True:
            params = {
                "limit": min(self.page_size, LIST_PAGE_LIMIT),
                "properties": ",".join(self._properties),
                "archived": "false",
            }
            if after:
                params["after"] = after
            answer = self.client.get(path, params=params)
            results = answer.get("results") or []
            page = self._page(results)
            after = ((answer.get("paging") or {}).get("next") or {}).get("after")
            if after and results:
                page.checkpoint = {"full_after": after, "full_started_ms": started_ms}
                yield page
                continue
            # Everything modified before the full read began has been read; the next incremental
            # sync starts there (minus the overlap).
            page.checkpoint = {"modified_ms": started_ms}
            yield page
            return

    def _modified_ms(self, raw: dict) -> int | None:
        try:
            value = parse_datetime((raw.get("properties") or {}).get(self.modified_property) or raw.get("updatedAt"))
        except ValueError:
            return None
        # A modification time far off (the record is quarantined for it) must not move the checkpoint:
        # one in year 9999 would make every later sync skip everything.
        if value is None or implausible_moment(value, name="last modified"):
            return None
        return _ms(value)

    def _page(self, results: list) -> Page:
        histories = self._histories([str(r.get("id")) for r in results if isinstance(r, dict) and r.get("id")])
        page = Page()
        for raw in results:
            object_id = shown_nul(str(raw.get("id") if isinstance(raw, dict) else ""))
            try:
                page.records.append(self.record_from(raw, histories.get(object_id, {})))
            except (ValueError, TypeError, AttributeError) as exc:
                page.rejected.append(
                    RejectedRecord(
                        source=f"hubspot:{self.object_type}:{object_id or '?'}",
                        payload=json.dumps(raw, default=str)[:20_000],
                        reason=str(exc) or type(exc).__name__,
                    )
                )
        return page

    def _histories(self, ids: list[str]) -> dict[str, dict[str, list]]:
        """propertiesWithHistory for a page of ids, through batch read (search does not return it)."""
        if not self.history or not ids or not self._history_properties:
            return {}
        size = self.history_batch_size
        chunks = [ids[start : start + size] for start in range(0, len(ids), size)]
        if self.history_concurrency > 1 and len(chunks) > 1:
            # In order; the first failure (after its own retries) is raised here, as it would be serially.
            answers = list(self._history_pool().map(self._history_read, chunks))
        else:
            answers = [self._history_read(chunk, self.client) for chunk in chunks]
        histories: dict[str, dict[str, list]] = {}
        for answer in answers:
            for result in answer.get("results") or []:
                if isinstance(result, dict) and result.get("id"):
                    histories[str(result["id"])] = result.get("propertiesWithHistory") or {}
        return histories

    def _history_read(self, chunk: list[str], client: HttpClient | None = None) -> dict:
        return (client or self._thread_client()).post(
            f"/crm/v3/objects/{self.object_type}/batch/read",
            json={
                "inputs": [{"id": object_id} for object_id in chunk],
                "properties": [],
                "propertiesWithHistory": self._history_properties,
            },
        )

    def _history_pool(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.history_concurrency, thread_name_prefix=f"crm-history-{self.connection.pk}"
                )
            return self._pool

    def _thread_client(self) -> HttpClient:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = HttpClient(**self._client_options)
            with self._pool_lock:
                self._pool_clients.append(client)
        return client

    def owner_emails(self) -> dict[str, str]:
        """The portal's owners, {owner id: email}: read on first use, then kept for the run."""
        if self._owners is not None:
            return self._owners
        owners: dict[str, str] = {}
        after = None
        try:
            while True:
                params = {"limit": OWNERS_PAGE_LIMIT, "archived": "false"}
                if after:
                    params["after"] = after
                answer = self.client.get("/crm/v3/owners/", params=params)
                for owner in answer.get("results") or []:
                    if isinstance(owner, dict) and owner.get("id") is not None:
                        email = clean_email(owner.get("email"))
                        if email:
                            owners[str(owner["id"])] = email
                after = ((answer.get("paging") or {}).get("next") or {}).get("after")
                if not after:
                    break
        except ConnectorError as exc:
            if exc.retryable:
                raise
            # The token lacks the owners scope (or the endpoint refused): the customers still sync.
            log.warning("HubSpot owners not read, no account owners stored: %s", exc.message)
            owners = {}
        self._owners = owners
        return owners

    def _account_owner_email(self, value: object) -> str:
        owner_id = text(value, max_length=40)
        return self.owner_emails().get(owner_id, "") if owner_id else ""

    # Normalising

    def _segment_name(self, value: object) -> str:
        raw = text(value, max_length=80)
        return self.segment_map.get(raw.lower(), raw) if raw else ""

    def _history(self, histories: dict, key: str) -> list[HistoryEntry]:
        """One property's history, oldest first; entries with an unreadable timestamp are skipped."""
        prop = self.props.get(key)
        entries = []
        for entry in (histories.get(prop) or []) if prop else []:
            if not isinstance(entry, dict):
                continue
            try:
                at = parse_datetime(entry.get("timestamp"))
            except ValueError:
                continue
            if at is not None:
                entries.append(HistoryEntry(at=at, value=text(entry.get("value"))))
        entries.sort(key=lambda e: e.at)
        return entries

    def record_from(self, raw: dict, histories: dict) -> CustomerRecord:
        """Normalise one HubSpot object. Raises ValueError with the reason when it is unusable."""
        if not isinstance(raw, dict):
            raise ValueError("the record is not a JSON object")
        object_id = text(raw.get("id"), max_length=100)
        if not object_id:
            raise ValueError("the record has no id")
        if NUL in object_id:
            raise ValueError("the record id contains a NUL character")
        props = raw.get("properties")
        if not isinstance(props, dict):
            raise ValueError("the record has no properties")
        p = self.props

        def prop(key: str) -> object:
            return props.get(p[key]) if p.get(key) else None

        if self.object_type == "contacts" and not p.get("name"):
            name = " ".join(filter(None, [text(props.get("firstname")), text(props.get("lastname"))]))
        else:
            name = text(prop("name"))
        email = clean_email(prop("email"))
        stage = text(prop("lifecycle_stage")).lower()
        stage_history = self._history(histories, "lifecycle_stage")
        lost = parse_bool(prop("lost_flag"), field=p["lost_flag"] or "lost") or stage in self.lost_stages
        lost_at = parse_datetime(prop("lost_date"), field=p["lost_date"] or "lost date")
        if lost and lost_at is None:
            lost_at = self._latest_true(self._history(histories, "lost_flag"))
        if lost and lost_at is None and stage in self.lost_stages:
            lost_at = next((e.at for e in reversed(stage_history) if e.value.lower() in self.lost_stages), None)
        customer_since = parse_datetime(prop("customer_since"), field=p["customer_since"] or "customer since")
        if customer_since is None:
            customer_since = self._customer_streak_start(stage_history)
        referred_by = text(prop("referred_by"), max_length=100)
        referred_at = None
        if referred_by:
            referred_at = next(
                (e.at for e in reversed(self._history(histories, "referred_by")) if e.value == referred_by), None
            )
        segment_history = tuple(
            HistoryEntry(at=e.at, value=self._segment_name(e.value)) for e in self._history(histories, "segment")
        )
        operational = self._operational(props, histories)
        created = parse_datetime(raw.get("createdAt"), field="createdAt")
        modified = parse_datetime(props.get(self.modified_property) or raw.get("updatedAt"), field="last modified")
        return CustomerRecord(
            external_id=object_id,
            source=f"hubspot:{self.object_type}:{object_id}",
            name=name[:200],
            email=email,
            contact_name=text(prop("contact_name"))[:200],
            account_owner_email=self._account_owner_email(prop("account_owner")),
            language=clean_language(prop("language")),
            country=clean_country(prop("country")),
            audience=self.audience,
            value=parse_decimal(prop("value"), field=p["value"] or "value"),
            segment=self._segment_name(prop("segment")),
            is_customer=stage in self.customer_stages,
            customer_since=customer_since,
            lost=lost,
            lost_at=lost_at,
            lost_reason=text(prop("lost_reason"), max_length=200),
            referred_by=referred_by,
            referred_at=referred_at,
            created_at=created,
            modified_at=modified,
            segment_history=segment_history,
            operational=operational,
        )

    def _operational(self, props: dict, histories: dict) -> tuple[tuple[str, datetime], ...]:
        """(type, date) of every date each operational property held: its history's values and its
        current value. A history value that is no date is skipped (a property once used otherwise); a
        current one is refused with the record."""
        found: set[tuple[str, datetime]] = set()
        for kind, prop in self.operational.items():
            for entry in histories.get(prop) or []:
                try:
                    at = parse_datetime(entry.get("value")) if isinstance(entry, dict) else None
                except ValueError:
                    continue
                if at is not None:
                    found.add((kind, at))
            at = parse_datetime(props.get(prop), field=prop)
            if at is not None:
                found.add((kind, at))
        return tuple(sorted(found, key=lambda pair: (pair[1], pair[0])))

    def _customer_streak_start(self, stage_history: list[HistoryEntry]) -> datetime | None:
        """When the latest stretch of "customer" lifecycle stages began (a re-won customer's restart)."""
        start = None
        previous_customer = False
        for entry in stage_history:
            is_customer = entry.value.lower() in self.customer_stages
            if is_customer and not previous_customer:
                start = entry.at
            previous_customer = is_customer
        return start

    @staticmethod
    def _latest_true(entries: list[HistoryEntry]) -> datetime | None:
        for entry in reversed(entries):
            try:
                if parse_bool(entry.value):
                    return entry.at
            except ValueError:
                continue
        return None

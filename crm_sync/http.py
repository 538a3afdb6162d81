"""The one place crm_sync makes outbound HTTP calls.

It owns timeouts, retries and the translation of HTTP failures into ConnectorError:
429 waits for Retry-After (or HubSpot's rate-limit interval) and goes on; 5xx, timeouts and dropped
connections back off exponentially and then give up with a retryable error; 401/403 fail at once.
The token lives only in the session's Authorization header: it is never logged, and every message
built from a response is scrubbed of it.
"""

from __future__ import annotations

import logging
import random
import time
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from django.utils import timezone

from crm_sync.connectors.base import ConnectorError

log = logging.getLogger(__name__)

# Tests replace this to observe the waits without sleeping.
sleep = time.sleep


class HttpClient:
    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        service: str,
        timeout: tuple[float, float] = (5.0, 30.0),
        max_attempts: int = 5,
        backoff_seconds: float = 1.0,
        max_wait_seconds: float = 120.0,
        max_rate_limit_waits: int = 50,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.service = service
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.backoff_seconds = backoff_seconds
        self.max_wait_seconds = max_wait_seconds
        self.max_rate_limit_waits = max_rate_limit_waits
        self._token = token
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/json", "User-Agent": "cx-metrics-crm-sync/1"})
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        # The environment (HTTPS_PROXY / NO_PROXY, REQUESTS_CA_BUNDLE) is read once for the service's URL,
        # not on every request, where requests would scan os.environ again (a large part of a request's
        # cost at thousands of pages). Also keeps a ~/.netrc entry from replacing the bearer token.
        self._environment = self.session.merge_environment_settings(self.base_url, {}, None, None, None)
        self.session.trust_env = False

    def close(self) -> None:
        self.session.close()

    def get(self, path: str, *, params: dict[str, Any] | None = None) -> dict:
        return self.request("GET", path, params=params)

    def post(self, path: str, *, json: dict[str, Any]) -> dict:
        return self.request("POST", path, json=json)

    def request(self, method: str, path: str, *, params: dict | None = None, json: dict | None = None) -> dict:
        url = f"{self.base_url}{path}"
        failures = 0
        rate_limit_waits = 0
        while True:
            try:
                response = self.session.request(
                    method, url, params=params, json=json, timeout=self.timeout, **self._environment
                )
            except (requests.Timeout, requests.ConnectionError) as exc:
                failures += 1
                problem = "timed out" if isinstance(exc, requests.Timeout) else "could not be reached"
                self._retry_or_fail(failures, f"{self.service} {problem} ({method} {path})")
                continue
            except requests.RequestException as exc:
                # Not an answer from the service: a bad URL or similar configuration problem.
                raise ConnectorError(
                    self._scrub(f"{self.service} request {method} {path} failed: {type(exc).__name__}"), retryable=False
                ) from None

            status = response.status_code
            if status == 429:
                rate_limit_waits += 1
                if rate_limit_waits > self.max_rate_limit_waits:
                    raise ConnectorError(
                        f"{self.service} kept answering 429 (rate limited) after {rate_limit_waits - 1} waits",
                        retryable=True,
                    )
                wait = self._rate_limit_wait(response)
                log.info("%s rate limit reached; waiting %.1f s", self.service, wait)
                sleep(wait)
                continue
            if status >= 500:
                failures += 1
                self._retry_or_fail(failures, f"{self.service} answered {status} ({method} {path})")
                continue
            if status == 401:
                raise ConnectorError(
                    f"{self.service} token rejected (401): enter a valid private-app token in the connection",
                    retryable=False,
                )
            if status == 403:
                raise ConnectorError(
                    f"{self.service} refused the request (403): the token is missing scopes for {path}. "
                    f"{self._detail(response)}".strip(),
                    retryable=False,
                )
            if status >= 400:
                raise ConnectorError(
                    f"{self.service} rejected {method} {path} ({status}): {self._detail(response)}".strip(),
                    retryable=False,
                )
            try:
                body = response.json()
            except ValueError:
                failures += 1
                self._retry_or_fail(failures, f"{self.service} answered {status} with a body that is not JSON")
                continue
            if not isinstance(body, dict):
                raise ConnectorError(f"{self.service} answered {method} {path} with unexpected JSON", retryable=False)
            return body

    def _retry_or_fail(self, failures: int, problem: str) -> None:
        if failures >= self.max_attempts:
            raise ConnectorError(f"{problem}; gave up after {failures} attempts", retryable=True)
        wait = min(self.max_wait_seconds, self.backoff_seconds * 2 ** (failures - 1))
        wait += random.uniform(0, wait / 10)  # jitter, so parallel workers do not retry in step
        log.warning("%s; retrying in %.1f s (attempt %d of %d)", problem, wait, failures + 1, self.max_attempts)
        sleep(wait)

    def _rate_limit_wait(self, response: requests.Response) -> float:
        retry_after = response.headers.get("Retry-After", "").strip()
        wait: float | None = None
        if retry_after:
            try:
                wait = float(retry_after)
            except ValueError:
                try:
                    wait = (parsedate_to_datetime(retry_after) - timezone.now()).total_seconds()
                except (TypeError, ValueError):
                    wait = None
        if wait is None:
            interval_ms = response.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds", "")
            wait = int(interval_ms) / 1000 if interval_ms.isdigit() else 10.0
        return max(0.0, min(wait, self.max_wait_seconds))

    def _detail(self, response: requests.Response) -> str:
        try:
            body = response.json()
            message = body.get("message", "") if isinstance(body, dict) else ""
        except ValueError:
            message = response.text
        return self._scrub(" ".join(str(message).split())[:300])

    def _scrub(self, message: str) -> str:
        if self._token and self._token in message:
            message = message.replace(self._token, "[token]")
        return message

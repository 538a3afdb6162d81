"""The one place webhooks make outbound HTTP calls: one POST, no retries (the delivery service decides
what a failure means and when to try again, across workers, from the database).

Redirects are not followed: the signed body would go to an address nobody configured.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests

USER_AGENT = "cx-metrics-webhooks/1"
# What is kept of a receiver's answer for the delivery log; the rest is not read.
ANSWER_EXCERPT_BYTES = 500


class WebhookHttpError(Exception):
    """No HTTP answer: a timeout, a refused or dropped connection, a TLS failure, a URL requests rejects."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: dict[str, str]
    excerpt: str


def post(url: str, *, body: bytes, headers: dict[str, str], timeout: float) -> HttpAnswer:
    """POST body to url; `timeout` bounds the connection and each wait for the answer's bytes."""
    try:
        with requests.post(
            url,
            data=body,
            headers={"User-Agent": USER_AGENT, **headers},
            timeout=(timeout, timeout),
            allow_redirects=False,
            stream=True,
        ) as response:
            raw = response.raw.read(ANSWER_EXCERPT_BYTES, decode_content=True) or b""
            return HttpAnswer(
                status=response.status_code,
                headers=dict(response.headers),
                excerpt=" ".join(raw.decode("utf-8", "replace").split()),
            )
    except requests.Timeout:
        raise WebhookHttpError(f"no answer within {timeout:g} s", retryable=True) from None
    except requests.exceptions.SSLError as exc:
        # A certificate problem does not fix itself between retries often, but an operator may fix it.
        raise WebhookHttpError(f"TLS failure: {_reason(exc)}", retryable=True) from None
    except requests.ConnectionError as exc:
        raise WebhookHttpError(f"could not connect: {_reason(exc)}", retryable=True) from None
    except requests.RequestException as exc:
        raise WebhookHttpError(f"the request failed: {type(exc).__name__}: {exc}", retryable=False) from None


def _reason(exc: Exception) -> str:
    # requests wraps urllib3's error, which wraps the socket's: the innermost says what happened.
    inner: BaseException = exc
    for _level in range(4):
        nested = getattr(inner, "reason", None)
        if not isinstance(nested, BaseException) and inner.args and isinstance(inner.args[0], BaseException):
            nested = inner.args[0]
        if not isinstance(nested, BaseException):
            break
        inner = nested
    return str(inner)[:300]

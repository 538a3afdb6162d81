"""How a delivery is signed, and how a receiver checks it (docs/webhooks.md shows the same in a snippet).

The signature is the hex HMAC-SHA256, keyed with the webhook's secret, of the timestamp header, a dot and
the raw body: signing the timestamp too lets a receiver refuse an old delivery replayed by someone who
captured it.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-CXMetrics-Signature"
TIMESTAMP_HEADER = "X-CXMetrics-Timestamp"
DELIVERY_HEADER = "X-CXMetrics-Delivery"
EVENT_HEADER = "X-CXMetrics-Event"
# A receiver should refuse a timestamp further than this from its clock.
TOLERANCE_SECONDS = 300


def signature(*, secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signature_valid(*, secret: str, timestamp: str, body: bytes, header: str, now: float) -> bool:
    """What a receiver does: the header matches (in constant time) and the timestamp is recent."""
    try:
        age = abs(now - int(timestamp))
    except ValueError:
        return False
    if age > TOLERANCE_SECONDS:
        return False
    return hmac.compare_digest(signature(secret=secret, timestamp=timestamp, body=body), header)

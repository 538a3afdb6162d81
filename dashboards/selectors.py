from __future__ import annotations

from crm_sync.models import Customer, Event
from surveys.models import Response, Survey


def data_totals() -> dict[str, int]:
    """How much data the product holds: the empty state and the overview header use it."""
    return {
        "customers": Customer.objects.count(),
        "active_customers": Customer.objects.filter(status=Customer.Status.ACTIVE).count(),
        "events": Event.objects.count(),
        "surveys": Survey.objects.count(),
        "responses": Response.objects.count(),
    }

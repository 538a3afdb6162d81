"""Reads of the customers app."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from customers.models import Customer, Segment


def customers_targeted(
    *, segment=None, external_ids: list[str] | None = None, emails: list[str] | None = None
) -> QuerySet[Customer]:
    """The customers an invitation run addresses: a list of ids/emails, a value segment, or all active ones."""
    if external_ids is not None or emails is not None:
        query = Q(pk__in=[])
        if external_ids:
            query |= Q(external_id__in=external_ids)
        if emails:
            query |= Q(email__in=emails)
        return Customer.objects.filter(query)
    customers = Customer.objects.filter(status=Customer.Status.ACTIVE)
    if segment is not None:
        customers = customers.filter(segment=segment)
    return customers


def segment_names() -> list[str]:
    """The value segments' names, highest rank first."""
    return list(Segment.objects.order_by("-rank").values_list("name", flat=True))

"""Complaints as the services store them (with the change recorded for the figures)."""

from __future__ import annotations

from complaints.models import Complaint, ComplaintCategory
from complaints.services import complaint_create


def category(name: str = "delivery") -> ComplaintCategory:
    """One of the seeded categories (the data migration made them), or a new one."""
    return ComplaintCategory.objects.get_or_create(name=name)[0]


def complaint(
    received_at,
    *,
    customer=None,
    kind: str = Complaint.Kind.COMPLAINT,
    channel: str = Complaint.Channel.EMAIL,
    category_name: str = "delivery",
    resolved_at=None,
    **kwargs,
) -> Complaint:
    kwargs.setdefault("source", Complaint.Source.FORM)
    created, _new = complaint_create(
        kind=kind,
        customer=customer,
        received_at=received_at,
        channel=channel,
        category=category(category_name),
        resolved_at=resolved_at,
        **kwargs,
    )
    return created

"""Reading complaints and what logging one needs: categories, customers by CRM id or name."""

from __future__ import annotations

from django.db.models import Q

from core.access import is_cx_manager
from customers.models import Customer

from .models import Complaint, ComplaintCategory

LOOKUP_LIMIT = 20


def may_log_complaints(user) -> bool:
    """CX managers and staff, and whoever holds the add-complaint permission (the case handlers)."""
    return is_cx_manager(user) or (
        user.is_authenticated and user.is_active and user.has_perm("complaints.add_complaint")
    )


def active_categories() -> list[ComplaintCategory]:
    return list(ComplaintCategory.objects.filter(active=True).order_by("ordering", "name"))


def category_by_name(name: str) -> ComplaintCategory | None:
    """An active category by its English or Spanish name, without case."""
    name = name.strip()
    if not name:
        return None
    return (
        ComplaintCategory.objects.filter(Q(name__iexact=name) | Q(name_es__iexact=name), active=True)
        .order_by("ordering")
        .first()
    )


def customers_matching(*, text: str, limit: int = LOOKUP_LIMIT) -> list[Customer]:
    """The customers a CX agent may mean by ``text``: those whose CRM id is exactly it, else those whose
    name contains it (erased customers have no name to match). At most ``limit``, by name."""
    text = text.strip()
    if not text:
        return []
    by_id = list(Customer.objects.select_related("connection").filter(external_id=text).order_by("pk")[:limit])
    if by_id:
        return by_id
    return list(
        Customer.objects.select_related("connection")
        .filter(name__icontains=text, erased_at__isnull=True)
        .order_by("name", "pk")[:limit]
    )


def customer_complaints(*, customer_id: int, limit: int = 100) -> list[Complaint]:
    """A customer's complaints and inquiries, newest first (the customer page's list)."""
    rows = Complaint.objects.filter(customer_id=customer_id).select_related("category")
    return list(rows.order_by("-received_at", "-pk")[:limit])

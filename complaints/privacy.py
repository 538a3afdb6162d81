"""What complaints holds of a customer's personal data: the summaries of their complaints and inquiries
(see ``customers.privacy``). Erasure blanks the text and keeps the complaint (kind, channel, category,
times), so the complaint figures do not move."""

from __future__ import annotations

from customers.privacy import Subject

from .models import Complaint

ERASED_TEXT = "[erased]"


def erase(*, subjects: list[Subject]) -> dict[str, int]:
    complaints = Complaint.objects.filter(customer_id__in=[s.customer_id for s in subjects]).exclude(summary="")
    return {"complaints": complaints.update(summary=ERASED_TEXT)}


def export(*, subject: Subject) -> dict[str, list]:
    rows = Complaint.objects.filter(customer_id=subject.customer_id).order_by("received_at", "pk")
    return {
        "complaints": list(
            rows.values("kind", "received_at", "channel", "category__name", "summary", "resolved_at", "source")
        )
    }

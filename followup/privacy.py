"""What followup holds of a customer's personal data: the text of their cases' notes and follow-up emails
(see ``customers.privacy``). Erasure blanks the text and keeps the timeline (who did what, when), so the
case figures do not move."""

from __future__ import annotations

from customers.privacy import Subject

from .models import Case, CaseNote

ERASED_TEXT = "[erased]"


def erase(*, subjects: list[Subject]) -> dict[str, int]:
    notes = CaseNote.objects.filter(case__customer_id__in=[s.customer_id for s in subjects]).exclude(text="")
    return {"case_notes": notes.update(text=ERASED_TEXT)}


def export(*, subject: Subject) -> dict[str, list]:
    cases = Case.objects.filter(customer_id=subject.customer_id).order_by("created_at", "pk")
    notes = CaseNote.objects.filter(case__customer_id=subject.customer_id).order_by("created_at", "pk")
    by_case: dict[int, list[dict]] = {}
    for note in notes.values("case_id", "kind", "text", "created_at"):
        by_case.setdefault(note.pop("case_id"), []).append(note)
    return {
        "cases": [
            {**case, "notes": by_case.get(case["id"], [])}
            for case in cases.values("id", "status", "created_at", "closed_at", "outcome")
        ]
    }

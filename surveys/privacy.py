"""What surveys holds of a customer's personal data: comments and free-text answers, invitation links
(see ``customers.privacy``)."""

from __future__ import annotations

from customers.privacy import Subject

from .selectors import customer_survey_records
from .services import invitations_erase_personal, responses_erase_personal_text


def erase(*, subjects: list[Subject]) -> dict[str, int]:
    ids = [s.customer_id for s in subjects]
    return {
        "responses": responses_erase_personal_text(customer_ids=ids),
        "invitations": invitations_erase_personal(customer_ids=ids),
    }


def export(*, subject: Subject) -> dict[str, list]:
    return customer_survey_records(customer_id=subject.customer_id)

"""Complaint figures against hand-computed cases (shared/METRICS.md, "Complaints, inquiries and
operational incidents")."""

from __future__ import annotations

from datetime import date

import pytest

from complaints.tests.factories import complaint
from metrics import complaints
from metrics.filters import MetricFilters
from metrics.tests.factories import CustomerFactory, ResponseFactory, SegmentFactory, at, event

pytestmark = pytest.mark.django_db

JANUARY = MetricFilters(start=date(2026, 1, 1), end=date(2026, 1, 31))
INQUIRY = "inquiry"


@pytest.fixture
def january():
    gold = SegmentFactory(name="Gold", rank=3)
    a, b, c = (CustomerFactory(acquired_at=at("2025-06-01"), segment=gold) for _ in range(3))
    d = CustomerFactory(acquired_at=at("2025-06-01"))
    CustomerFactory(acquired_at=at("2026-01-10"))  # not at the start of January
    complaint(at("2026-01-05"), customer=a, channel="phone", category_name="delivery")
    complaint(at("2026-01-10"), customer=b, channel="email", category_name="billing")
    complaint(at("2026-01-12"), kind=INQUIRY, channel="web", category_name="delivery")
    complaint(at("2026-01-31", 23, 30), customer=d, channel="email", category_name="delivery")
    complaint(at("2026-02-01", 0, 0), customer=c, channel="phone")  # February
    complaint(at("2025-12-31", 23, 59), customer=c, channel="phone")  # December
    return {"gold": gold}


def test_complaints_and_inquiries_are_counted_apart(january):
    assert complaints.complaint_counts(filters=JANUARY) == {"complaints": 3, "inquiries": 1}


def test_by_category_in_the_categories_order(january):
    assert complaints.complaints_by_category(filters=JANUARY) == [
        {"category": "delivery", "name_es": "entrega", "complaints": 2, "inquiries": 1},
        {"category": "billing", "name_es": "facturación", "complaints": 1, "inquiries": 0},
    ]


def test_by_channel_every_channel_listed(january):
    rows = {r["channel"]: (r["complaints"], r["inquiries"]) for r in complaints.complaints_by_channel(filters=JANUARY)}
    assert rows == {"phone": (1, 0), "email": (2, 0), "web": (0, 1), "in_person": (0, 0), "social": (0, 0),
                    "other": (0, 0)}  # fmt: skip


def test_complaint_rate_per_thousand_customers_at_start(january):
    result = complaints.complaint_rate(filters=JANUARY)
    # 3 complaints (the inquiry is not one) / 4 customers active on 1 January × 1 000.
    assert (result.complaints, result.at_start, result.rate) == (3, 4, 750.0)


def test_a_segment_filter_counts_the_segment_s_complaints_and_customers(january):
    gold = MetricFilters(start=JANUARY.start, end=JANUARY.end, segment=january["gold"].pk)
    result = complaints.complaint_rate(filters=gold)
    assert (result.complaints, result.at_start) == (2, 3)  # a and b; d has no segment
    assert result.rate == pytest.approx(2000 / 3)


def test_complaint_rate_without_customers_is_no_data():
    complaint(at("2026-01-05"), channel="phone")
    result = complaints.complaint_rate(filters=JANUARY)
    assert (result.complaints, result.at_start, result.rate) == (1, 0, None)


def test_resolution_time_is_the_median_over_complaints_resolved_in_the_period():
    complaint(at("2025-12-20"), resolved_at=at("2026-01-02"))  # 13 days: 312 h
    complaint(at("2026-01-05", 12), resolved_at=at("2026-01-05", 14))  # 2 h
    complaint(at("2026-01-10"), resolved_at=at("2026-01-11"))  # 24 h
    complaint(at("2026-01-10"), resolved_at=at("2026-01-10", 13), kind=INQUIRY)  # an inquiry: not counted
    complaint(at("2026-01-20"), resolved_at=at("2026-02-02"))  # resolved in February
    complaint(at("2026-01-20"))  # open
    result = complaints.resolution_time(filters=JANUARY)
    assert (result.median_hours, result.resolved) == (24.0, 3)
    complaint(at("2026-01-25"), resolved_at=at("2026-01-26", 12, 30))  # 24.5 h: the middle two now
    result = complaints.resolution_time(filters=JANUARY)
    assert (result.median_hours, result.resolved) == (24.25, 4)


def test_resolution_time_without_resolutions_is_no_data():
    complaint(at("2026-01-10"))
    assert complaints.resolution_time(filters=JANUARY).median_hours is None


def test_incidents_and_satisfaction():
    a, b, c, d, e = (CustomerFactory(acquired_at=at("2025-01-01")) for _ in range(5))
    complaint(at("2026-01-05"), customer=a)
    event("return", b, at("2025-11-01"))  # 75 days before b's answer: an incident
    complaint(at("2026-01-02"), customer=c, kind=INQUIRY)  # an inquiry is no incident
    event("support_contact", d, at("2026-01-03"))  # not an incident event
    complaint(at("2025-09-01"), customer=e)  # more than 90 days before e's answer
    with_detractor = ResponseFactory(customer=a, submitted_at=at("2026-01-10"), nps=3)  # with: detractor
    ResponseFactory(customer=a, submitted_at=at("2026-01-04"), nps=10)  # before a's complaint: without
    ResponseFactory(customer=b, submitted_at=at("2026-01-15"), nps=10)  # with: promoter
    ResponseFactory(customer=c, submitted_at=at("2026-01-20"), nps=9)  # without: promoter
    ResponseFactory(customer=d, submitted_at=at("2026-01-25"), nps=6)  # without: detractor
    ResponseFactory(customer=e, submitted_at=at("2026-01-12"), nps=8)  # without: passive
    ResponseFactory(customer=None, submitted_at=at("2026-01-12"), nps=0)  # anonymous: left out
    ResponseFactory(customer=a, submitted_at=at("2026-01-12"), csat=1)  # no NPS answer: left out
    result = complaints.incidents_and_satisfaction(filters=JANUARY)
    assert (result.with_incident.responses, result.with_incident.score) == (2, 0.0)  # (1 − 1) / 2
    assert (result.without_incident.responses, result.without_incident.score) == (4, 25.0)  # (2 − 1) / 4

    # The survey filters select the answers on both sides.
    one_survey = MetricFilters(start=JANUARY.start, end=JANUARY.end, survey=with_detractor.survey.slug)
    result = complaints.incidents_and_satisfaction(filters=one_survey)
    assert (result.with_incident.responses, result.with_incident.score) == (1, -100.0)
    assert result.without_incident.responses == 0


def test_incident_window_edges():
    """Strictly before the answer and at most the window before it; several incidents count an answer once;
    an incident after the answer does not count."""
    from datetime import timedelta

    from core.definitions import INCIDENT_WINDOW_DAYS

    a, b, c, d = (CustomerFactory(acquired_at=at("2025-01-01")) for _ in range(4))
    answer_at = at("2026-01-15")
    complaint(answer_at, customer=a)  # the same moment as a's answer: not before it
    complaint(answer_at - timedelta(days=INCIDENT_WINDOW_DAYS), customer=b)  # exactly the window before: counts
    event("claim", b, answer_at - timedelta(days=3))  # and another one: b's answer still counts once
    complaint(answer_at - timedelta(days=INCIDENT_WINDOW_DAYS, seconds=1), customer=c)  # just outside
    complaint(answer_at + timedelta(seconds=1), customer=d)  # after d's first answer
    for customer, nps in ((a, 9), (b, 0), (c, 10), (d, 10)):
        ResponseFactory(customer=customer, submitted_at=answer_at, nps=nps)
    ResponseFactory(customer=d, submitted_at=answer_at + timedelta(days=1), nps=0)  # after d's complaint
    result = complaints.incidents_and_satisfaction(filters=JANUARY)
    assert (result.with_incident.responses, result.with_incident.detractors) == (2, 2)  # b's 0 and d's later 0
    assert (result.without_incident.responses, result.without_incident.promoters) == (3, 3)


def test_complaints_by_theme_counts_share_and_negative_share():
    from comments.services import complaints_analyse
    from complaints.models import Complaint

    gold = SegmentFactory(name="Gold", rank=3)
    customer = CustomerFactory(acquired_at=at("2025-06-01"), segment=gold)
    complaint(at("2026-01-03"), customer=customer, summary="The delivery was late, terrible service")  # D −
    complaint(at("2026-01-04"), summary="Great delivery, and the invoice was excellent")  # D, B +
    complaint(at("2026-01-05"), summary="Awful invoice")  # B −
    complaint(at("2026-01-06"), summary="")  # no summary: not analysed, not counted
    complaint(at("2026-01-07"), kind=INQUIRY, summary="When will my delivery arrive?")  # an inquiry
    complaint(at("2026-02-01"), summary="Awful delivery")  # February
    complaints_analyse(complaint_ids=list(Complaint.objects.values_list("pk", flat=True)))

    result = complaints.complaints_by_theme(filters=JANUARY)

    # Three analysed complaints in January; Delivery in 2 of them (1 negative), billing in 2 (1 negative).
    assert result.analysed == 3
    rows = {t["theme"]: (t["complaints"], t["share"], t["negative"], t["negative_share"]) for t in result.themes}
    assert rows == {"Delivery": (2, 100 * 2 / 3, 1, 50.0), "Price and billing": (2, 100 * 2 / 3, 1, 50.0)}
    gold_only = complaints.complaints_by_theme(filters=MetricFilters(JANUARY.start, JANUARY.end, segment=gold.pk))
    assert gold_only.analysed == 1
    assert [(t["theme"], t["complaints"], t["share"], t["negative_share"]) for t in gold_only.themes] == [
        ("Delivery", 1, 100.0, 100.0)
    ]
    spanish = complaints.complaints_by_theme(filters=JANUARY, language="es")
    assert {t["theme"] for t in spanish.themes} == {"Entrega", "Precio y facturación"}

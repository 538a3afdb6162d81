"""The closing-the-loop figures (shared/METRICS.md "Closing the loop") on hand-computed data sets."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from customers.models import Event
from followup.models import Case
from metrics.filters import MetricFilters
from metrics.loop import case_figures, loop_closure_rate, loop_csv_rows, loop_outcome
from metrics.stats import rate_change
from metrics.tests.factories import CustomerFactory, ResponseFactory, at, event

pytestmark = pytest.mark.django_db
JANUARY = MetricFilters(start=date(2026, 1, 1), end=date(2026, 1, 31))


def _case(created, *, due=None, contact=None, closed=None, outcome="", response=None, customer=None):
    customer = customer or (response.customer if response else CustomerFactory())
    return Case.objects.create(
        customer=customer,
        response=response,
        created_at=created,
        due_at=due,
        first_contact_at=contact,
        closed_at=closed,
        status="closed" if closed else "open",
        outcome=outcome,
    )


def test_case_figures():
    # A: opened in December, late, closed in January after a contact 312 h in; 384 h to close.
    _case(
        at("2025-12-20"), due=at("2025-12-22"), contact=at("2026-01-02"), closed=at("2026-01-05"), outcome="contacted"
    )
    # B: contact after 6 h, closed on time after 24 h.
    _case(
        at("2026-01-10"),
        due=at("2026-01-12"),
        contact=at("2026-01-10", 18),
        closed=at("2026-01-11"),
        outcome="contacted",
    )
    # C: open past due at the end. D: open, due later. E: open at the end of January, past due.
    _case(at("2026-01-15"), due=at("2026-01-16"))
    _case(at("2026-01-20"), due=at("2026-02-10"))
    _case(at("2026-01-25"), due=at("2026-01-26"), closed=at("2026-02-03"), outcome="no_action")
    # F: February, outside. G: no due time, closed not reached after 72 h.
    _case(at("2026-02-02"), due=at("2026-02-03"))
    _case(at("2026-01-05"), closed=at("2026-01-08"), outcome="not_reached")

    figures = case_figures(filters=JANUARY)

    assert (figures.opened, figures.closed, figures.open_at_end) == (5, 3, 3)
    assert figures.hours_to_close == 72.0  # median of 384, 24, 72
    assert figures.hours_to_first_contact == 159.0  # median of 312 and 6
    # Breaches: A closed late + C and E open past due at the end = 3 of 3 closed + 2 open past due.
    assert (figures.sla_breaches, figures.sla_base, figures.sla_breach_rate) == (3, 5, pytest.approx(60.0))


def test_case_figures_without_cases():
    figures = case_figures(filters=JANUARY)
    assert (figures.opened, figures.hours_to_close, figures.sla_breach_rate) == (0, None, None)


def _detractor(day="2026-01-10", nps=3, customer=None):
    return ResponseFactory(customer=customer or CustomerFactory(), nps=nps, submitted_at=at(day))


def _lost(customer, answer, days):
    event(Event.Type.LOST, customer, answer.submitted_at + timedelta(days=days))


@pytest.fixture
def outcome_set():
    """40 customers contacted within 7 days (12 churn within 180 days); 50 others (25 churn)."""
    contacted = []
    for i in range(40):
        answer = _detractor()
        _case(
            answer.submitted_at,
            response=answer,
            contact=answer.submitted_at + timedelta(days=2),
            closed=answer.submitted_at + timedelta(days=3),
            outcome="contacted",
        )
        if i < 12:
            _lost(answer.customer, answer, 100)
        contacted.append(answer)
    # A second detractor answer from a contacted customer: the customer counts once, from the first.
    _detractor("2026-01-20", customer=contacted[-1].customer)
    for i in range(45):  # no case; 22 churn
        answer = _detractor()
        if i < 22:
            _lost(answer.customer, answer, 50)
    late = _detractor()  # contacted after 8 days: "others", stays
    _case(
        late.submitted_at,
        response=late,
        contact=late.submitted_at + timedelta(days=8),
        closed=late.submitted_at + timedelta(days=8),
        outcome="contacted",
    )
    unreached = _detractor()  # not reached: "others", churns
    _case(
        unreached.submitted_at,
        response=unreached,
        closed=unreached.submitted_at + timedelta(days=1),
        outcome="not_reached",
    )
    _lost(unreached.customer, unreached, 10)
    too_late = _detractor()  # churns on day 181: not counted
    _lost(too_late.customer, too_late, 181)
    for _ in range(2):  # churn on day 179: counted
        answer = _detractor()
        _lost(answer.customer, answer, 179)
    # Not in the figures: a passive who churns, an anonymous detractor, a February detractor.
    passive = _detractor(nps=7)
    _lost(passive.customer, passive, 5)
    ResponseFactory(customer=None, nps=0, submitted_at=at("2026-01-10"))
    _detractor("2026-02-02")


def test_loop_outcome(outcome_set):
    outcome = loop_outcome(filters=JANUARY)
    assert (outcome.contacted, outcome.contacted_churned, outcome.others, outcome.others_churned) == (40, 12, 50, 25)
    assert (outcome.contacted_churn_rate, outcome.others_churn_rate) == (30.0, 50.0)
    # 0.3 - 0.5 = -0.2; SE = sqrt(0.3*0.7/40 + 0.5*0.5/50) = sqrt(0.01025) = 0.10124; 1.96 SE = 0.19843.
    assert outcome.difference == pytest.approx(-20.0)
    assert outcome.ci_low == pytest.approx(-39.843, abs=1e-3)
    assert outcome.ci_high == pytest.approx(-0.157, abs=1e-3)
    assert not outcome.no_data and "association" in outcome.label


def test_loop_closure_rate(outcome_set):
    closure = loop_closure_rate(filters=JANUARY)
    # 91 identified detractor answers in January (90 customers + one second answer); 40 closed contacted
    # within 7 days (the 8-day one and the not-reached one are not).
    assert (closure.detractor_answers, closure.closed_contacted) == (91, 40)
    assert closure.rate == pytest.approx(100 * 40 / 91)


def test_loop_outcome_no_data_below_the_minimum_group():
    answer = _detractor()
    _case(
        answer.submitted_at,
        response=answer,
        contact=answer.submitted_at,
        closed=answer.submitted_at,
        outcome="contacted",
    )
    for _ in range(30):
        _detractor()
    outcome = loop_outcome(filters=JANUARY)
    assert (outcome.contacted, outcome.others) == (1, 30)
    assert outcome.no_data and outcome.difference is None and outcome.ci_low is None


def test_two_proportion_difference():
    # 30 % of 40 against 50 % of 50: SE = √(.3·.7/40 + .5·.5/50) = .1012423; in points.
    change = rate_change(12, 40, 25, 50)
    assert change.change == pytest.approx(-20.0)
    assert change.low == pytest.approx(-20.0 - 196 * 0.1012423, abs=1e-4)
    assert change.high == pytest.approx(-20.0 + 196 * 0.1012423, abs=1e-4)


def test_csv_rows_carry_each_figure_with_its_n(outcome_set):
    rows = {row["figure"]: (row["value"], row["n"]) for row in loop_csv_rows(filters=JANUARY)}
    assert rows["loop_closure_rate"] == (pytest.approx(100 * 40 / 91), 91)
    assert rows["churn_rate_contacted"] == (30.0, 40)
    assert rows["churn_difference_points"] == (pytest.approx(-20.0), 90)
    assert rows["cases_closed"] == (42, 42)  # the 40 contacted, the late one, the unreached one


@pytest.mark.refreshes_itself
def test_loop_outcome_is_kept_until_a_refresh_or_a_case_change(outcome_set):
    """The outcome reads every detractor answer: it is kept until the read model's next refresh, but a
    case contacted or closed counts at once (each change writes a timeline entry)."""
    from followup.services import case_close, case_open
    from metrics.refresh import metrics_refresh

    metrics_refresh()
    assert loop_outcome(filters=JANUARY).others == 50
    closure = loop_closure_rate(filters=JANUARY)
    answer = _detractor()  # stored since the refresh: the kept figures stand until the next one
    assert loop_outcome(filters=JANUARY).others == 50
    assert loop_closure_rate(filters=JANUARY) == closure
    case = case_open(customer=answer.customer, response=answer, now=answer.submitted_at)
    case_close(case=case, outcome="contacted", now=answer.submitted_at + timedelta(days=1))
    outcome = loop_outcome(filters=JANUARY)
    assert (outcome.contacted, outcome.others) == (41, 50)
    after = loop_closure_rate(filters=JANUARY)
    assert (after.detractor_answers, after.closed_contacted) == (
        closure.detractor_answers + 1,
        closure.closed_contacted + 1,
    )

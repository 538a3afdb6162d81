"""Filters: the period in the site's time zone, the previous period, and parsing query strings."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from metrics.filters import MetricFilterForm, MetricFilters, preset_period
from metrics.tests.factories import SegmentFactory, SurveyFactory

JANUARY = MetricFilters(start=date(2026, 1, 1), end=date(2026, 1, 31))


def test_period_is_half_open_whole_days_in_site_time_zone(settings):
    settings.TIME_ZONE = "America/Mexico_City"
    start, end = JANUARY.period()
    tz = ZoneInfo("America/Mexico_City")
    assert start == datetime(2026, 1, 1, tzinfo=tz) and end == datetime(2026, 2, 1, tzinfo=tz)
    assert start.utcoffset() == timedelta(hours=-6)


def test_previous_period_has_same_length_immediately_before():
    assert JANUARY.days == 31
    previous = JANUARY.previous_period()
    assert (previous.start, previous.end) == (date(2025, 12, 1), date(2025, 12, 31))
    single = MetricFilters(start=date(2026, 3, 1), end=date(2026, 3, 1), segment=3).previous_period()
    assert (single.start, single.end, single.segment) == (date(2026, 2, 28), date(2026, 2, 28), 3)


def test_a_year_earlier_is_the_same_dates_last_year():
    this_year = MetricFilters(start=date(2024, 1, 1), end=date(2024, 2, 29), segment=3, compare="year")
    before = this_year.comparison_period()
    assert (before.start, before.end, before.segment) == (date(2023, 1, 1), date(2023, 2, 28), 3)
    assert MetricFilters(start=date(2026, 1, 1), end=date(2026, 1, 28)).comparison_period().start == date(2025, 12, 4)


@pytest.mark.django_db
@time_machine.travel(datetime(2026, 3, 15, 12, tzinfo=ZoneInfo("UTC")), tick=False)
@pytest.mark.parametrize(
    ("params", "compare", "period"),
    [
        # "This year" compares with 1 Jan – 15 Mar 2025, not with the 73 days before 1 January.
        ({"preset": "year"}, "year", (date(2025, 1, 1), date(2025, 3, 15))),
        ({"preset": "year", "compare": "previous"}, "previous", (date(2025, 10, 19), date(2025, 12, 31))),
        ({"preset": "last_30"}, "previous", (date(2026, 1, 15), date(2026, 2, 13))),
        (
            {"start": "2026-01-01", "end": "2026-01-31", "compare": "year"},
            "year",
            (date(2025, 1, 1), date(2025, 1, 31)),
        ),
    ],
)
def test_the_form_picks_the_comparison(params, compare, period):
    form = MetricFilterForm(params)
    assert form.is_valid(), form.errors
    filters = form.filters()
    assert filters.compare == compare
    assert (filters.comparison_period().start, filters.comparison_period().end) == period


def test_filters_refuse_end_before_start():
    with pytest.raises(ValueError):
        MetricFilters(start=date(2026, 2, 1), end=date(2026, 1, 1))


@time_machine.travel(datetime(2026, 5, 20, 12, tzinfo=ZoneInfo("UTC")), tick=False)
def test_presets():
    assert preset_period("last_30") == (date(2026, 4, 21), date(2026, 5, 20))
    assert preset_period("last_90") == (date(2026, 2, 20), date(2026, 5, 20))
    assert preset_period("quarter") == (date(2026, 4, 1), date(2026, 5, 20))
    assert preset_period("year") == (date(2026, 1, 1), date(2026, 5, 20))


@pytest.mark.django_db
def test_form_parses_every_parameter():
    gold = SegmentFactory(name="Gold", rank=3)
    SurveyFactory(slug="support-case")
    form = MetricFilterForm(
        {
            "start": "2026-01-01",
            "end": "2026-01-31",
            "segment": "Gold",
            "survey": "support-case",
            "survey_type": "transactional",
            "touchpoint": "support",
            "audience": "b2c",
            "granularity": "week",
        }
    )
    assert form.is_valid(), form.errors
    assert form.filters() == MetricFilters(
        start=date(2026, 1, 1),
        end=date(2026, 1, 31),
        segment=gold.pk,
        survey="support-case",
        survey_type="transactional",
        touchpoint="support",
        audience="b2c",
    )
    assert form.cleaned_data["granularity"] == "week"


@pytest.mark.django_db
@time_machine.travel(datetime(2026, 5, 20, 12, tzinfo=ZoneInfo("UTC")), tick=False)
def test_form_defaults_to_last_30_days_and_month_buckets():
    form = MetricFilterForm({})
    assert form.is_valid(), form.errors
    assert (form.filters().start, form.filters().end) == (date(2026, 4, 21), date(2026, 5, 20))
    assert form.cleaned_data["granularity"] == "month"
    form = MetricFilterForm({"preset": "year"})
    assert form.is_valid() and form.filters().start == date(2026, 1, 1)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"start": "2026-13-01", "end": "2026-01-31"}, "start", "YYYY-MM-DD"),
        ({"start": "01/02/2026", "end": "2026-01-31"}, "start", "YYYY-MM-DD"),
        ({"start": "2026-02-01", "end": "2026-01-31"}, "end", "before the start date"),
        ({"start": "2026-01-01"}, "end", "Give an end date"),
        ({"end": "2026-01-01"}, "start", "Give a start date"),
        ({"segment": "Platinum"}, "segment", "Unknown segment “Platinum” (known: Gold)"),
        ({"survey": "nope"}, "survey", "Unknown survey"),
        ({"survey_type": "weekly"}, "survey_type", "Select a valid choice"),
        ({"granularity": "day"}, "granularity", "Select a valid choice"),
        ({"preset": "forever"}, "preset", "Select a valid choice"),
    ],
)
def test_form_errors_are_clear(params, field, message):
    SegmentFactory(name="Gold", rank=3)
    form = MetricFilterForm(params)
    assert not form.is_valid()
    assert message in " ".join(form.errors[field])
    assert form.error_text().startswith(f"{field}: ")


# --- dates far off ------------------------------------------------------------------------------


@pytest.mark.django_db
@time_machine.travel(datetime(2026, 5, 14, 12, tzinfo=ZoneInfo("UTC")), tick=False)
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "0001-01-01", "end": "2026-01-31"}, "start"),
        ({"start": "2026-01-01", "end": "9999-12-31"}, "end"),
        ({"start": "1969-12-31", "end": "2026-01-31"}, "start"),
        ({"start": "2026-01-01", "end": "2027-05-16"}, "end"),  # today + 367 days
    ],
)
def test_a_date_out_of_bounds_is_a_form_error_naming_the_field(params, field):
    form = MetricFilterForm(params)
    assert not form.is_valid()
    label = str(form.fields[field].label)
    assert form.errors[field] == [f"“{label}” must be a date from 1970-01-01 to 2027-05-15."]
    assert form.error_text().startswith(f"{field}: “{label}” must be")


@pytest.mark.django_db
@time_machine.travel(datetime(2026, 5, 14, 12, tzinfo=ZoneInfo("UTC")), tick=False)
@pytest.mark.parametrize("compare", ["previous", "year"])
def test_the_widest_period_allowed_and_its_comparison_can_be_computed(compare):
    form = MetricFilterForm({"start": "1970-01-01", "end": "2027-05-15", "compare": compare})
    assert form.is_valid(), form.errors
    filters = form.filters()
    before = filters.comparison_period()
    for period in (filters, before):
        start, end = period.period()
        assert start < end
    assert before.start < date(1970, 1, 1)


@pytest.mark.django_db
def test_the_year_ago_comparison_at_the_lower_bound():
    form = MetricFilterForm({"start": "1970-01-01", "end": "1970-03-01", "compare": "year"})
    assert form.is_valid(), form.errors
    before = form.filters().comparison_period()
    assert (before.start, before.end) == (date(1969, 1, 1), date(1969, 3, 1))
    assert before.period()[0].year == 1969

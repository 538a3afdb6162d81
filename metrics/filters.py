"""The filters every metric takes, and the form that reads them from a query string.

A period is a range of whole days ``[start, end]``, both included, in the site's time zone
(``settings.TIME_ZONE``), as shared/METRICS.md defines it. The page, the JSON API and the
``metrics`` command all parse their parameters with :class:`MetricFilterForm`, so they agree.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django import forms
from django.utils.translation import gettext_lazy as _

from core.days import day_start, latest_period_day
from core.days import today as _today
from core.definitions import EARLIEST_DAY
from customers.models import Audience, Segment
from surveys.models import Survey, SurveyType, Touchpoint

GRANULARITIES = ("week", "month", "quarter")
PRESETS = ("last_30", "last_90", "quarter", "year")
# What a period's changes are measured against: the period of the same length just before it, or the
# same dates a year earlier ("this year" compares with the same dates last year by default).
COMPARISONS = ("previous", "year")
DEFAULT_PRESET = "last_30"
DEFAULT_GRANULARITY = "month"


@dataclass(frozen=True)
class MetricFilters:
    """What to measure. ``segment`` is a Segment id (or its name); the other dimensions are the
    snapshot columns kept on each response (survey slug, survey type, touchpoint, audience)."""

    start: date
    end: date
    segment: int | str | None = None
    survey: str | None = None
    survey_type: str | None = None
    touchpoint: str | None = None
    audience: str | None = None
    compare: str = "previous"

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"The period ends ({self.end}) before it starts ({self.start}).")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def period(self) -> tuple[datetime, datetime]:
        """The half-open range ``[start 00:00, end + 1 day 00:00)`` in the site's time zone."""
        return day_start(self.start), day_start(self.end + timedelta(days=1))

    def previous_period(self) -> MetricFilters:
        """The period of the same length immediately before this one, with the same dimensions."""
        end = self.start - timedelta(days=1)
        return dataclasses.replace(self, start=end - timedelta(days=self.days - 1), end=end)

    def year_earlier(self) -> MetricFilters:
        """The same dates a year earlier (29 February becomes the 28th)."""

        def back(day: date) -> date:
            return day.replace(year=day.year - 1, day=28 if (day.month, day.day) == (2, 29) else day.day)

        return dataclasses.replace(self, start=back(self.start), end=back(self.end))

    def comparison_period(self) -> MetricFilters:
        """The period the changes are measured against (``compare``)."""
        return self.year_earlier() if self.compare == "year" else self.previous_period()

    def segment_id(self) -> int | None:
        """The Segment id, looking a name up if a name was given (an unknown name matches nothing: -1)."""
        if self.segment is None or isinstance(self.segment, int):
            return self.segment
        found = Segment.objects.filter(name=self.segment).values_list("pk", flat=True).first()
        return found if found is not None else -1

    def resolved(self) -> MetricFilters:
        """The same filters with the segment given by id: the parts of a page look it up once."""
        return dataclasses.replace(self, segment=self.segment_id()) if isinstance(self.segment, str) else self


def preset_period(preset: str, *, today: date | None = None) -> tuple[date, date]:
    """``last_30``/``last_90``: the last 30/90 days up to today; ``quarter``/``year``: the calendar
    quarter/year to date. "Today" is in the site's time zone."""
    today = today or _today()
    if preset == "last_30":
        return today - timedelta(days=29), today
    if preset == "last_90":
        return today - timedelta(days=89), today
    if preset == "quarter":
        return date(today.year, 3 * ((today.month - 1) // 3) + 1, 1), today
    if preset == "year":
        return date(today.year, 1, 1), today
    raise ValueError(f"Unknown preset {preset!r}.")


def _blank(choices) -> list[tuple[str, str]]:
    return [("", "---------"), *choices]


class MetricFilterForm(forms.Form):
    """Reads filters from GET parameters. Explicit ``start`` and ``end`` win over ``preset``; with
    neither, the period is the last 30 days."""

    start = forms.DateField(
        label=_("From"),
        required=False,
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": _("Enter a date as YYYY-MM-DD.")},
    )
    end = forms.DateField(
        label=_("To"),
        required=False,
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": _("Enter a date as YYYY-MM-DD.")},
    )
    preset = forms.ChoiceField(
        label=_("Period"),
        required=False,
        choices=_blank(
            [
                ("last_30", _("last 30 days")),
                ("last_90", _("last 90 days")),
                ("quarter", _("this quarter")),
                ("year", _("this year")),
            ]
        ),
    )
    granularity = forms.ChoiceField(
        label=_("Group by"),
        required=False,
        choices=_blank(
            [
                ("week", _("week")),
                ("month", _("month")),
                ("quarter", _("quarter")),
            ]
        ),
    )
    segment = forms.CharField(label=_("Segment"), required=False, max_length=80)
    survey = forms.SlugField(label=_("Survey"), required=False, max_length=80)
    survey_type = forms.ChoiceField(label=_("Type"), required=False, choices=_blank(SurveyType.choices))
    touchpoint = forms.ChoiceField(label=_("Touchpoint"), required=False, choices=_blank(Touchpoint.choices))
    audience = forms.ChoiceField(label=_("Audience"), required=False, choices=_blank(Audience.choices))
    compare = forms.ChoiceField(
        label=_("Compare with"),
        required=False,
        choices=_blank([("previous", _("the period before")), ("year", _("a year earlier"))]),
    )

    def _bounded(self, name: str) -> date | None:
        """A day outside [EARLIEST_DAY, latest_period_day()] is refused here, so the period, the one
        before it and the one a year earlier can always be computed."""
        day = self.cleaned_data.get(name)
        if day is None:
            return None
        latest = latest_period_day()
        if not EARLIEST_DAY <= day <= latest:
            raise forms.ValidationError(
                _("“%(label)s” must be a date from %(earliest)s to %(latest)s."),
                params={
                    "label": self.fields[name].label,
                    "earliest": EARLIEST_DAY.isoformat(),
                    "latest": latest.isoformat(),
                },
            )
        return day

    def clean_start(self) -> date | None:
        return self._bounded("start")

    def clean_end(self) -> date | None:
        return self._bounded("end")

    def clean_segment(self) -> Segment | None:
        name = self.cleaned_data.get("segment")
        if not name:
            return None
        segment = Segment.objects.filter(name=name).first()
        if segment is None:
            known = ", ".join(Segment.objects.order_by("-rank").values_list("name", flat=True)) or "none"
            raise forms.ValidationError(
                _("Unknown segment “%(name)s” (known: %(known)s)."), params={"name": name, "known": known}
            )
        return segment

    def clean_survey(self) -> str | None:
        slug = self.cleaned_data.get("survey")
        if not slug:
            return None
        if not Survey.objects.filter(slug=slug).exists():
            raise forms.ValidationError(_("Unknown survey “%(slug)s”."), params={"slug": slug})
        return slug

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        start, end = data.get("start"), data.get("end")
        if start is None and end is None:
            start, end = preset_period(data.get("preset") or DEFAULT_PRESET)
        elif start is None:
            self.add_error("start", _("Give a start date with the end date."))
            return data
        elif end is None:
            self.add_error("end", _("Give an end date with the start date."))
            return data
        if end < start:
            self.add_error(
                "end",
                _("The end date (%(end)s) is before the start date (%(start)s).")
                % {"end": end.isoformat(), "start": start.isoformat()},
            )
            return data
        data["start"], data["end"] = start, end
        data["granularity"] = data.get("granularity") or DEFAULT_GRANULARITY
        if not data.get("compare"):
            explicit = self.data.get("start") or self.data.get("end")
            data["compare"] = "year" if data.get("preset") == "year" and not explicit else "previous"
        return data

    def filters(self) -> MetricFilters:
        """The parsed filters; call after ``is_valid()``."""
        data = self.cleaned_data
        segment = data.get("segment")
        return MetricFilters(
            start=data["start"],
            end=data["end"],
            segment=segment.pk if segment else None,
            survey=data.get("survey") or None,
            survey_type=data.get("survey_type") or None,
            touchpoint=data.get("touchpoint") or None,
            audience=data.get("audience") or None,
            compare=data.get("compare") or "previous",
        )

    def error_text(self) -> str:
        """All errors on one line, each prefixed by its parameter: for the API and the command."""
        parts = []
        for field, errors in self.errors.items():
            label = "parameters" if field == "__all__" else field
            parts.append(f"{label}: {' '.join(str(e) for e in errors)}")
        return "; ".join(parts)

"""Local days. A period is whole days in the site's time zone (settings.TIME_ZONE), whoever looks at it."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo

from django.utils import timezone

from core.definitions import EARLIEST_DAY, EVENT_DAYS_AHEAD, PERIOD_DAYS_AHEAD


def site_timezone() -> tzinfo:
    """The site's time zone, not the zone activated for the current user: a figure must not change
    with who looks at it."""
    return timezone.get_default_timezone()


def day_start(day: date) -> datetime:
    """00:00 of ``day`` in the site's time zone."""
    return timezone.make_aware(datetime.combine(day, time.min), site_timezone())


def local_day(moment: datetime) -> date:
    """The site-time date of ``moment``."""
    return timezone.localtime(moment, site_timezone()).date()


def today() -> date:
    return timezone.localdate(timezone=site_timezone())


def latest_event_day() -> date:
    """The last day an event or an answer may be dated (site time)."""
    return today() + timedelta(days=EVENT_DAYS_AHEAD)


def latest_period_day() -> date:
    """The last day a period asked for may reach (site time)."""
    return today() + timedelta(days=PERIOD_DAYS_AHEAD)


def event_bounds() -> tuple[datetime, datetime]:
    """The first instant an event or an answer may be dated, and the first one too late (site time).
    Worked out once per file or page, not once per value."""
    return day_start(EARLIEST_DAY), day_start(latest_event_day() + timedelta(days=1))


def implausible_moment(moment: datetime, *, name: str, bounds: tuple[datetime, datetime] | None = None) -> str | None:
    """Why the time of an event or an answer cannot be right (before EARLIEST_DAY or after
    ``latest_event_day()``), or None. Compares instants, never converts: a year-1 or year-9999 time
    with an offset cannot be moved to another zone without overflowing."""
    earliest, too_late = bounds or event_bounds()
    if moment < earliest:
        return f"{name} {moment.date().isoformat()} is before {earliest.date().isoformat()}"
    if moment >= too_late:
        latest = too_late.date() - timedelta(days=1)
        return f"{name} {moment.date().isoformat()} is after {latest.isoformat()} (tomorrow)"
    return None

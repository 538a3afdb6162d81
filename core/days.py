"""Local days. A period is whole days in the site's time zone (settings.TIME_ZONE), whoever looks at it."""

from __future__ import annotations

from datetime import date, datetime, time, tzinfo

from django.utils import timezone


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

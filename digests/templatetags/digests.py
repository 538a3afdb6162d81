"""How a digest shows its figures: the same rounding and separators as the pages (core.display)."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext as _

from core import display
from core.definitions import scale_text
from dashboards.presenters import signal_text

register = template.Library()

_LABELS = {
    "nps": lambda: "NPS",
    "responses": lambda: _("NPS answers"),
    "csat": lambda: _("CSAT (satisfied)"),
    "ces": lambda: _("CES (mean, %(scale)s)") % {"scale": scale_text("ces")},
    "churn_rate": lambda: _("Churn rate"),
    "customers": lambda: _("Active customers at the end"),
}
_DECIMALS = {"nps": 1, "responses": 0, "csat": 1, "ces": 2, "churn_rate": 1, "customers": 0}


@register.simple_tag
def figure_label(key: str) -> str:
    return _LABELS[key]()


@register.simple_tag
def figure_value(figure, language: str) -> str:
    if figure.unit == "%":
        return display.percent(figure.value, _DECIMALS[figure.key], language=language, missing=_("no data"))
    return display.number(figure.value, _DECIMALS[figure.key], language=language, missing=_("no data"))


@register.simple_tag
def figure_change(figure, language: str) -> str:
    text = display.number(figure.change, 1, signed=True, language=language)
    return _("%(change)s pts") % {"change": text} if figure.unit == "%" or figure.key == "nps" else text


@register.filter
def money_in(value, language: str) -> str:
    return display.money(value, language=language)


@register.filter
def get_item(mapping: dict, key):
    return mapping.get(key, "")


# --- the churn-risk section ---------------------------------------------------------------------------


@register.filter
def risk_in(probability: float, language: str) -> str:
    """A churn risk (0-1) as a whole percentage."""
    return display.percent(100 * probability, 0, language=language)


@register.simple_tag
def signal_reason(signal: dict) -> str:
    """Why the customer is a relationship signal, as the Value page says it."""
    return signal_text(signal)


# --- the comments section ----------------------------------------------------------------------------


@register.filter
def percent_in(value, language: str) -> str:
    return display.percent(value, 1, language=language, missing=_("no data"))

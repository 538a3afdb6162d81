"""The responses explorer's own filters, beside the dashboards' (metrics.filters.MetricFilterForm):
an NPS category, a min/max band per score, with or without a comment, a text in the comment, and
the page cursor. The page and the JSON API read them with this one form."""

from __future__ import annotations

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from comments.selectors import theme_names
from core.definitions import CATEGORIES, NO_RESPONSE, SCALES

from .selectors import BAND_QUESTIONS, Cursor

EXPLORER_FIELDS = (
    "category",
    *(f"{question}_{end}" for question in BAND_QUESTIONS for end in ("min", "max")),
    "has_comment",
    "q",
    "theme",
)
SEARCH_MAX_LENGTH = 100
BAND_LABELS = {"nps": _("NPS"), "csat": _("CSAT"), "ces": _("CES")}


def _score_field(question: str, end: str) -> forms.IntegerField:
    low, high = SCALES[question]
    return forms.IntegerField(
        label=format_lazy(_("{question} from") if end == "min" else _("{question} to"), question=BAND_LABELS[question]),
        required=False,
        min_value=low,
        max_value=high,
        widget=forms.NumberInput(attrs={"class": "form-control form-control-sm", "min": low, "max": high}),
    )


NPS_CATEGORY_CHOICES = [
    ("", _("All categories")),
    ("promoter", _("Promoters")),
    ("passive", _("Passives")),
    ("detractor", _("Detractors")),
]


class ResponseFilterForm(forms.Form):
    category = forms.ChoiceField(
        label=_("NPS category"),
        required=False,
        choices=NPS_CATEGORY_CHOICES,
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    nps_min = _score_field("nps", "min")
    nps_max = _score_field("nps", "max")
    csat_min = _score_field("csat", "min")
    csat_max = _score_field("csat", "max")
    ces_min = _score_field("ces", "min")
    ces_max = _score_field("ces", "max")
    has_comment = forms.ChoiceField(
        label=_("Comment"),
        required=False,
        choices=[("", _("With or without")), ("yes", _("With a comment")), ("no", _("Without a comment"))],
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    q = forms.CharField(
        label=_("Text in the comment"),
        required=False,
        max_length=SEARCH_MAX_LENGTH,
        widget=forms.TextInput(attrs={"class": "form-control form-control-sm", "type": "search"}),
    )
    theme = forms.TypedChoiceField(
        label=_("Theme"),
        required=False,
        coerce=int,
        empty_value=None,
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    cursor = forms.CharField(label=_("Page"), required=False, max_length=200, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        names = theme_names((get_language() or "en")[:2])
        self.fields["theme"].choices = [("", _("All themes"))] + sorted(
            ((pk, name) for pk, name in names.items()), key=lambda c: c[1]
        )

    def clean_cursor(self) -> Cursor | None:
        token = self.cleaned_data.get("cursor")
        if not token:
            return None
        try:
            return Cursor.parse(token)
        except ValueError:
            raise forms.ValidationError(
                _("This page link is not valid; start again from the first page."), code="cursor"
            ) from None

    def clean(self) -> dict:
        data = super().clean()
        for question in BAND_QUESTIONS:
            low, high = data.get(f"{question}_min"), data.get(f"{question}_max")
            if low is not None and high is not None and low > high:
                self.add_error(
                    f"{question}_max",
                    _("The highest %(question)s (%(high)s) is below the lowest (%(low)s).")
                    % {"question": BAND_LABELS[question], "high": high, "low": low},
                )
        return data

    def selection(self) -> dict:
        """The keyword arguments of selectors.explorer_responses; call after ``is_valid()``."""
        data = self.cleaned_data
        bands = {
            question: (data.get(f"{question}_min"), data.get(f"{question}_max"))
            for question in BAND_QUESTIONS
            if data.get(f"{question}_min") is not None or data.get(f"{question}_max") is not None
        }
        return {
            "category": data.get("category") if data.get("category") in CATEGORIES else None,
            "bands": bands,
            "has_comment": {"yes": True, "no": False}.get(data.get("has_comment") or ""),
            "q": (data.get("q") or "").strip(),
            "theme": data.get("theme"),
        }

    def error_text(self) -> str:
        return "; ".join(f"{field}: {' '.join(str(e) for e in errors)}" for field, errors in self.errors.items())


SELECT = {"class": "form-select form-select-sm"}


class CustomerListForm(forms.Form):
    """The customer list's search, filters, order and page; the page and its CSV read them with this one
    form (an invalid value is an error on the page, never silently dropped)."""

    q = forms.CharField(
        label=_("Name, CRM id or email"),
        required=False,
        max_length=SEARCH_MAX_LENGTH,
        strip=True,
        widget=forms.TextInput(attrs={"class": "form-control form-control-sm", "type": "search"}),
    )
    segment = forms.ChoiceField(label=_("Segment"), required=False, widget=forms.Select(attrs=SELECT))
    category = forms.ChoiceField(
        label=_("Latest NPS"),
        required=False,
        choices=[*NPS_CATEGORY_CHOICES, (NO_RESPONSE, _("No NPS answer"))],
        widget=forms.Select(attrs=SELECT),
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("Active or lost")), ("active", _("Active")), ("lost", _("Lost"))],
        widget=forms.Select(attrs=SELECT),
    )
    risk = forms.ChoiceField(
        label=_("Churn risk"),
        required=False,
        choices=[("", _("Any risk")), ("high", _("High")), ("medium", _("Medium")), ("low", _("Low"))],
        widget=forms.Select(attrs=SELECT),
    )
    sort = forms.ChoiceField(
        label=_("Sort by"),
        required=False,
        choices=[
            ("value", _("Annual value")),
            ("risk", _("Churn risk")),
            ("value_risk", _("Value × risk")),
            ("nps", _("Latest NPS")),
            ("name", _("Name")),
        ],
        widget=forms.Select(attrs=SELECT),
    )
    order = forms.ChoiceField(
        label=_("Order"),
        required=False,
        choices=[("", _("Default order")), ("desc", _("Descending")), ("asc", _("Ascending"))],
        widget=forms.Select(attrs=SELECT),
    )
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, segments: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["segment"].choices = [("", _("All segments")), *[(s, s) for s in segments]]
        for name, field in self.fields.items():
            field.widget.attrs["id"] = f"customers-{name}"

    def selection(self) -> dict:
        """The keyword arguments of ``selectors.customer_list``: names sort A to Z, figures largest first,
        unless the order says otherwise."""
        data = self.cleaned_data
        sort = data["sort"] or "value"
        order = data["order"] or ("asc" if sort == "name" else "desc")
        return {
            "q": data["q"],
            "segment": data["segment"],
            "category": data["category"],
            "status": data["status"],
            "risk_band": data["risk"],
            "sort": sort,
            "descending": order == "desc",
        }

    def error_text(self) -> str:
        return "; ".join(f"{field}: {' '.join(str(e) for e in errors)}" for field, errors in self.errors.items())

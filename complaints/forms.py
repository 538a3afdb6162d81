from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.definitions import EARLIEST_DAY

from .models import Complaint, ComplaintCategory
from .selectors import customers_matching
from .services import complaint_problems

LOCAL_INPUT = "%Y-%m-%dT%H:%M"


class CategoryChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: ComplaintCategory) -> str:
        return obj.label()


def _when(**attrs) -> forms.DateTimeInput:
    return forms.DateTimeInput(attrs={"type": "datetime-local", **attrs}, format=LOCAL_INPUT)


class ComplaintForm(forms.Form):
    """A complaint or inquiry logged by CX staff. The customer is found by CRM id or by name; when a
    name matches several customers the form asks which one."""

    kind = forms.ChoiceField(
        label=_("Kind"), choices=Complaint.Kind.choices, initial=Complaint.Kind.COMPLAINT, widget=forms.RadioSelect
    )
    customer = forms.CharField(
        label=_("Customer"),
        required=False,
        max_length=200,
        help_text=_("CRM id or name; leave blank when the customer is not known."),
    )
    customer_choice = forms.TypedChoiceField(
        label=_("Which customer?"), required=False, coerce=int, empty_value=None, widget=forms.RadioSelect
    )
    received_at = forms.DateTimeField(label=_("Received"), input_formats=[LOCAL_INPUT], widget=_when())
    channel = forms.ChoiceField(label=_("Channel"), choices=[("", "---------"), *Complaint.Channel.choices])
    category = CategoryChoiceField(label=_("Category"), queryset=ComplaintCategory.objects.none())
    summary = forms.CharField(label=_("Summary"), required=False, widget=forms.Textarea(attrs={"rows": 4}))
    open_case = forms.BooleanField(
        label=_("Open a follow-up case for it next"), required=False, help_text=_("Needs an identified customer.")
    )
    resolved_at = forms.DateTimeField(
        label=_("Resolved"),
        required=False,
        input_formats=[LOCAL_INPUT],
        widget=_when(),
        help_text=_("Only when it is already resolved."),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = ComplaintCategory.objects.filter(active=True).order_by("ordering", "name")
        self.fields["received_at"].initial = timezone.localtime().replace(second=0, microsecond=0)
        self.matches = []
        text = (self.data.get("customer") or "").strip() if self.is_bound else ""
        if text:
            self.matches = customers_matching(text=text)
        if len(self.matches) > 1:
            self.fields["customer_choice"].choices = [
                (c.pk, f"{c.name or _('personal data erased')} · {c.external_id} ({c.connection.name})")
                for c in self.matches
            ]
        else:
            del self.fields["customer_choice"]

    def clean(self) -> dict:
        data = super().clean()
        data["customer_found"] = None
        if data.get("customer"):
            if not self.matches:
                self.add_error("customer", _("No customer has this CRM id or a name containing it."))
            elif len(self.matches) == 1:
                data["customer_found"] = self.matches[0]
            else:
                chosen = {c.pk: c for c in self.matches}.get(data.get("customer_choice"))
                if chosen is None:
                    self.add_error("customer_choice", _("Several customers match: choose one."))
                data["customer_found"] = chosen
        if data.get("received_at") and data.get("channel") and data.get("kind"):
            problems = complaint_problems(
                kind=data["kind"],
                channel=data["channel"],
                received_at=data["received_at"],
                resolved_at=data.get("resolved_at"),
                summary=data.get("summary") or "",
                external_id="",
            )
            year = {"year": EARLIEST_DAY.year}
            messages = {
                "received_at": _("The date received must be from %(year)s to tomorrow.") % year,
                "resolved_at": _(
                    "The date resolved must be from %(year)s to tomorrow, and not before the date received."
                )
                % year,
                "summary": _("The summary is too long."),
            }
            for field, _problem in problems.items():
                self.add_error(field, messages.get(field, _problem))
        return data

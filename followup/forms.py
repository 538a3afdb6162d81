from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from followup.models import Case, Priority
from followup.selectors import SORTS, VIEWS


def case_owners():
    """Who may own a case: active CX managers, case handlers and admins."""
    from django.conf import settings

    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(is_staff=True) | Q(groups__name__in=[settings.CX_MANAGERS_GROUP, settings.CASE_HANDLERS_GROUP]))
        .distinct()
        .order_by("username")
    )


class CaseListForm(forms.Form):
    view = forms.ChoiceField(choices=[(v, v) for v in VIEWS], required=False)
    sort = forms.ChoiceField(choices=[(s, s) for s in SORTS], required=False)
    page = forms.IntegerField(min_value=1, required=False)


class CaseOpenForm(forms.Form):
    owner = forms.ModelChoiceField(queryset=None, label=_("Owner"), required=False)
    priority = forms.ChoiceField(choices=Priority.choices, initial=Priority.NORMAL, label=_("Priority"))
    sla_hours = forms.IntegerField(min_value=1, max_value=24 * 90, initial=48, label=_("Due in (hours)"))
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, label=_("Note"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = case_owners()


class CaseStatusForm(forms.Form):
    status = forms.ChoiceField(
        choices=[c for c in Case.Status.choices if c[0] != Case.Status.CLOSED], label=_("Status")
    )


class CaseCloseForm(forms.Form):
    outcome = forms.ChoiceField(choices=Case.Outcome.choices, label=_("Outcome"))
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, label=_("Note"))


class CaseNoteForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label=_("Note"))
    contacted = forms.BooleanField(required=False, label=_("I reached the customer (e.g. by phone)"))


class CaseEmailForm(forms.Form):
    message = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        label=_("Personal message"),
        help_text=_("Added to the follow-up template, which is sent in the customer's language."),
    )


class CaseAssignForm(forms.Form):
    owner = forms.ModelChoiceField(queryset=None, label=_("Owner"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = case_owners()

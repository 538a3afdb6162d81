"""The customer's survey form, built from the survey's questions, and the admin's forms."""

from __future__ import annotations

import html
from typing import Any

from django import forms
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from customers.models import Segment
from surveys.models import Language, Question, Survey, SurveyType
from surveys.services import SURVEY_TEMPLATES
from surveys.services.import_presets import PRESETS
from surveys.services.imports import ATTR_PREFIX, IMPORT_TARGETS

Kind = Question.Kind

_LIKELY = (_("Not at all likely"), _("Extremely likely"))
_QUALITY = (_("Very poor"), _("Excellent"))
SCALE_ANCHORS = {
    Kind.NPS: _LIKELY,
    Kind.LIKELIHOOD_SWITCH: _LIKELY,
    Kind.LIKELIHOOD_REPURCHASE: _LIKELY,
    Kind.CSAT: (_("Very dissatisfied"), _("Very satisfied")),
    Kind.CES: (_("Strongly disagree"), _("Strongly agree")),
    Kind.OVERALL: _QUALITY,
    Kind.ATTRIBUTE: _QUALITY,
    Kind.TRUST: (_("Do not trust at all"), _("Trust completely")),
}


def field_name(question: Question) -> str:
    return f"q{question.pk}"


def radio_inputs(field: forms.BoundField, *, scale: bool) -> SafeString:
    """The radio inputs of one question, with their labels, as one string.

    Written out here rather than by the widget's or a template's loop: a template loop over the options
    (one widget render, or half a dozen variable lookups, per option) made the survey page several times
    slower, and an NPS scale has 11 options. The markup is the one a template would write: a scale is a
    row of buttons (Bootstrap's btn-check + label), a single choice a list of form-check rows."""
    name, css = html.escape(field.html_name), html.escape(field.field.widget.attrs.get("class", ""))
    prefix = html.escape(field.auto_id)
    value = field.value()
    selected = (
        {str(v) for v in value} if isinstance(value, (list, tuple)) else {str(value)} if value is not None else set()
    )
    parts = []
    for index, (option, label) in enumerate(field.field.choices):
        option_id = f"{prefix}_{index}"
        checked = " checked" if str(option) in selected else ""
        radio = f'<input type="radio" name="{name}" value="{html.escape(str(option))}" id="{option_id}" class="{css}"{checked}>'
        if scale:
            parts.append(
                f'{radio}<label class="btn btn-outline-primary" for="{option_id}">{html.escape(str(label))}</label>'
            )
        else:
            parts.append(
                f'<div class="form-check">{radio}<label class="form-check-label" for="{option_id}">'
                f"{html.escape(str(label))}</label></div>"
            )
    return mark_safe("\n".join(parts))  # every value above is escaped


def _question_field(question: Question, language: str) -> forms.Field:
    label = question.text_in(language)
    required_message = _("Please answer this question.")
    if question.scale:
        low, high = question.scale
        return forms.TypedChoiceField(
            label=label,
            required=question.required,
            coerce=int,
            empty_value=None,
            choices=[(str(i), str(i)) for i in range(low, high + 1)],
            widget=forms.RadioSelect(attrs={"class": "btn-check"}),
            error_messages={
                "required": required_message,
                "invalid_choice": _("Choose one of the values from %(low)s to %(high)s.") % {"low": low, "high": high},
            },
        )
    if question.kind == Kind.CHOICE:
        return forms.TypedChoiceField(
            label=label,
            required=question.required,
            coerce=int,
            empty_value=None,
            choices=[(str(i), choice) for i, choice in enumerate(question.choices_in(language))],
            widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
            error_messages={"required": required_message, "invalid_choice": _("Choose one of the options shown.")},
        )
    return forms.CharField(
        label=label,
        required=question.required,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4, "class": "form-control"}),
        error_messages={"required": required_message},
    )


class SurveyResponseForm(forms.Form):
    """One field per question. Scales and single choices are radio groups (rendered as fieldset + legend)."""

    def __init__(self, *args, questions: list[Question], language: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.questions = questions
        self.language = language
        for question in questions:
            self.fields[field_name(question)] = _question_field(question, language)

    def answers(self) -> dict[int, Any]:
        """Question id → answer; a single choice is stored by its English label, stable across languages."""
        result: dict[int, Any] = {}
        for question in self.questions:
            value = self.cleaned_data.get(field_name(question))
            if value is None or value == "":
                continue
            if question.kind == Kind.CHOICE:
                labels = question.choices_en or question.choices_in(self.language)
                value = labels[value] if value < len(labels) else value
            result[question.pk] = value
        return result

    def items(self) -> list[dict[str, Any]]:
        """What the template needs per question, in order."""
        total = len(self.questions)
        out = []
        for number, question in enumerate(self.questions, start=1):
            anchors = SCALE_ANCHORS.get(question.kind)
            scale = question.scale
            field = self[field_name(question)]
            is_choice = question.kind == Kind.CHOICE
            out.append(
                {
                    "question": question,
                    "field": field,
                    "inputs": radio_inputs(field, scale=bool(scale)) if scale or is_choice else "",
                    "number": number,
                    "total": total,
                    "is_scale": bool(scale),
                    "is_choice": is_choice,
                    "low": scale[0] if scale else None,
                    "high": scale[1] if scale else None,
                    "points": (scale[1] - scale[0] + 1) if scale else 0,
                    "anchor_low": anchors[0] if anchors else "",
                    "anchor_high": anchors[1] if anchors else "",
                }
            )
        return out


# Admin forms


class SurveyAdminForm(forms.ModelForm):
    languages = forms.MultipleChoiceField(
        label=_("languages"),
        choices=Language.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Every customer-facing text must be given in each language selected."),
    )
    next_promoter_url = forms.URLField(
        label=Survey._meta.get_field("next_promoter_url").verbose_name,
        help_text=Survey._meta.get_field("next_promoter_url").help_text,
        required=False,
        assume_scheme="https",
    )

    class Meta:
        model = Survey
        fields = [
            "name",
            "slug",
            "survey_type",
            "touchpoint",
            "audience",
            "languages",
            "title_en",
            "title_es",
            "intro_en",
            "intro_es",
            "thanks_en",
            "thanks_es",
            "email_subject_en",
            "email_subject_es",
            "next_promoter_url",
            "next_promoter_label_en",
            "next_promoter_label_es",
            "next_detractor_text_en",
            "next_detractor_text_es",
            "opens_at",
            "closes_at",
            "allow_public_link",
            "reminder_delay_days",
            "contact_policy_days",
        ]

    def clean(self):
        cleaned = super().clean()
        for language in cleaned.get("languages") or []:
            if not cleaned.get(f"title_{language}"):
                self.add_error(f"title_{language}", _("Required for a survey offered in this language."))
        return cleaned


class QuestionInlineFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        from surveys.services import question_change_error

        languages = self.data.getlist("languages") if hasattr(self.data, "getlist") else []
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or not form.cleaned_data or form.cleaned_data.get("DELETE"):
                continue
            data = form.cleaned_data
            if form.instance.pk:
                error = question_change_error(
                    question=form.instance, kind=data.get("kind", ""), attribute=data.get("attribute", "")
                )
                if error:
                    form.add_error("kind", error)
            for language in languages:
                if language != "en" and not data.get(f"text_{language}"):
                    form.add_error(f"text_{language}", _("Required: the survey is offered in this language."))
            if data.get("kind") == Kind.ATTRIBUTE and not data.get("attribute"):
                form.add_error(
                    "attribute", _('An attribute rating needs the attribute\'s name, e.g. "delivery speed".')
                )
            if data.get("kind") == Kind.CHOICE and not data.get("choices_en"):
                form.add_error("choices_en", _("A single-choice question needs its choices."))


class SurveyFromTemplateForm(forms.Form):
    template = forms.ChoiceField(label=_("template"), choices=[(k, t.label) for k, t in SURVEY_TEMPLATES.items()])
    name = forms.CharField(label=_("name"), max_length=150)
    slug = forms.SlugField(label=_("slug"), max_length=80)
    languages = forms.MultipleChoiceField(
        label=_("languages"),
        choices=Language.choices,
        initial=["en", "es"],
        widget=forms.CheckboxSelectMultiple(attrs={"class": "radiolist inline"}),
    )

    def clean_slug(self):
        slug = self.cleaned_data["slug"]
        if Survey.objects.filter(slug=slug).exists():
            raise forms.ValidationError(_("A survey with this slug already exists."))
        return slug


class InviteForm(forms.Form):
    TARGET_ALL, TARGET_SEGMENT, TARGET_FILE = "all", "segment", "file"
    target = forms.ChoiceField(
        label=_("customers"),
        widget=forms.RadioSelect(attrs={"class": "radiolist"}),
        choices=[
            (TARGET_ALL, _("all active customers")),
            (TARGET_SEGMENT, _("a value segment")),
            (TARGET_FILE, _("a CSV file of customer ids or emails")),
        ],
        initial=TARGET_ALL,
    )
    segment = forms.ModelChoiceField(label=_("value segment"), queryset=Segment.objects.all(), required=False)
    file = forms.FileField(
        label=_("CSV file"),
        required=False,
        help_text=_("One customer id (the CRM id) or email per line; a header line is ignored."),
    )
    limit = forms.IntegerField(label=_("at most"), min_value=1, required=False)
    # A dry run first: the page then says how many customers would be emailed.
    dry_run = forms.BooleanField(label=_("dry run (count only, send nothing)"), required=False, initial=True)
    confirm_count = forms.IntegerField(
        label=_("number of customers to email"),
        required=False,
        min_value=0,
        help_text=_("Asked for large sendings: type the number shown above to confirm."),
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("target") == self.TARGET_SEGMENT and not cleaned.get("segment"):
            self.add_error("segment", _("Choose a segment."))
        if cleaned.get("target") == self.TARGET_FILE:
            upload = cleaned.get("file")
            if not upload:
                self.add_error("file", _("Choose a file."))
            else:
                from surveys.services.imports import decode_csv

                values = [
                    line.split(",")[0].split(";")[0].strip().strip('"')
                    for line in decode_csv(upload.read()).splitlines()
                ]
                values = [v for v in values if v and v.lower() not in {"customer_id", "email", "id"}]
                cleaned["emails"] = [v for v in values if "@" in v]
                cleaned["external_ids"] = [v for v in values if "@" not in v]
        return cleaned


class ImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file"))
    survey_slug = forms.SlugField(label=_("survey slug"))
    create_survey = forms.BooleanField(label=_("create the survey if the slug is new"), required=False)
    survey_type = forms.ChoiceField(
        label=_("type of a new survey"), choices=SurveyType.choices, initial=SurveyType.RELATIONAL
    )
    skip_invalid = forms.BooleanField(label=_("import the good rows and list the bad ones"), required=False)
    file_format = forms.ChoiceField(
        label=_("exported from"),
        choices=[("", _("detect from the columns")), *((name, name.capitalize()) for name in PRESETS)],
        required=False,
    )
    empty = forms.CharField(
        label=_("values that mean empty"),
        required=False,
        max_length=200,
        help_text=_("Separated by spaces, e.g. NA N/A -"),
    )
    date_format = forms.CharField(
        label=_("date format"),
        required=False,
        max_length=50,
        help_text=_("Only when dates are not ISO 8601 and their day and month order cannot be told, e.g. %d/%m/%Y"),
    )


class ImportMappingForm(ImportForm):
    """The mapping step: the uploaded file stays on the server (token), one choice per file column."""

    IGNORE = ""

    def __init__(self, *args, columns: list[str], guessed: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["file"]
        self.fields["token"] = forms.CharField(widget=forms.HiddenInput, max_length=32)
        self.columns = columns
        for i, column in enumerate(columns):
            choices = [(self.IGNORE, _("not imported")), *((t, t) for t in IMPORT_TARGETS)]
            attribute = ATTR_PREFIX + column.strip()
            choices.append((attribute, attribute))
            initial = guessed.get(column, self.IGNORE)
            if initial and initial not in dict(choices):
                choices.append((initial, initial))
            self.fields[f"map_{i}"] = forms.ChoiceField(label=column, choices=choices, required=False, initial=initial)

    def mapping(self) -> dict[str, str]:
        return {
            column: self.cleaned_data[f"map_{i}"]
            for i, column in enumerate(self.columns)
            if self.cleaned_data.get(f"map_{i}")
        }

    def map_fields(self):
        return [self[f"map_{i}"] for i in range(len(self.columns))]

    def option_fields(self):
        return [self[name] for name in self.fields if not name.startswith("map_")]

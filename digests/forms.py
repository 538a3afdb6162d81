from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .models import Frequency


class DigestForm(forms.Form):
    frequency = forms.ChoiceField(label=_("Digest by email"), choices=Frequency.choices)
    language = forms.ChoiceField(label=_("Language of the digest"), choices=settings.LANGUAGES)

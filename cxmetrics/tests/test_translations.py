"""The Spanish catalogue is complete and its compiled .mo (committed, so no gettext tools are needed
at run time) matches the .po."""

import gettext
import re
from pathlib import Path

from django.conf import settings
from django.utils import translation

LOCALE = Path(settings.BASE_DIR) / "locale" / "es" / "LC_MESSAGES"


def _po_entries() -> list[str]:
    text = (LOCALE / "django.po").read_text(encoding="utf-8")
    return [block for block in text.split("\n\n")[1:] if "msgid " in block and "#~ msgid" not in block]


def test_every_string_is_translated_and_none_is_fuzzy():
    untranslated = [
        b
        for b in _po_entries()
        if re.search(r'^msgstr(\[\d\])? ""\Z', b, re.M) and not re.search(r'^msgstr(\[\d\])? ""\n"', b, re.M)
    ]
    fuzzy = [b for b in _po_entries() if "#, fuzzy" in b]
    assert not untranslated, untranslated[:3]
    assert not fuzzy, fuzzy[:3]


def test_the_compiled_catalogue_matches_the_po_file():
    with open(LOCALE / "django.mo", "rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    singular = [b for b in _po_entries() if "msgid_plural" not in b]
    # One catalogue entry per singular message (plus the header, keyed "").
    assert len([k for k in compiled._catalog if isinstance(k, str)]) == len(singular) + 1


def test_plurals_follow_spanish_rules():
    with translation.override("es"):
        assert translation.ngettext("%(total)s question", "%(total)s questions", 9) == "%(total)s preguntas"
        assert translation.ngettext("%(total)s question", "%(total)s questions", 1) == "%(total)s pregunta"

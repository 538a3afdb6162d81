"""Personal survey links are credentials (whoever has one answers as that customer): logs never carry
their tokens. Used by Django's logging (TokenMaskFilter) and gunicorn's access log (cxmetrics.gunicorn)."""

from __future__ import annotations

import logging
import re

# /s/<token>/, /s/<token>/thanks/ and /s/unsubscribe/<token>/ (surveys/urls.py); /s/p/<slug>/ is a public
# survey and stays readable.
_PERSONAL_LINK = re.compile(r"(/s/(?:unsubscribe/)?)(?!p/)[^/?#\s\"']+")
MASK = "[masked]"


def mask_tokens(text: str) -> str:
    return _PERSONAL_LINK.sub(rf"\g<1>{MASK}", text)


class TokenMaskFilter(logging.Filter):
    """Rewrites a record's message with the tokens of personal links masked (django.request's "Not Found:
    /s/<token>/", django.server's request lines, anything else that mentions such a link)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's to report, not ours
            return True
        masked = mask_tokens(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True

"""gunicorn configuration: `gunicorn -c python:cxmetrics.gunicorn cxmetrics.wsgi:application` (Procfile).

Its access log masks the tokens of personal survey links in every field (request line, path, referrer)."""

from __future__ import annotations

from gunicorn.glogging import Logger

from cxmetrics.logmask import mask_tokens


class TokenMaskingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: mask_tokens(value) if isinstance(value, str) else value for key, value in atoms.items()}


logger_class = TokenMaskingLogger

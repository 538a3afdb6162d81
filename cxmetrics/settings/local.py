"""Zero-setup local use (`make run`): SQLite, the filesystem broker, mail written to var/mail."""

import os

os.environ.setdefault("DEBUG", "true")

from .base import *  # noqa: F403
from .env import env_str

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")

DEMO_ALLOWED = True

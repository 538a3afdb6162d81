"""Settings for the test suite: DATABASE_URL and CELERY_BROKER_URL still come from the environment."""

import os

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-only-insecure-key")

from .env import fernet_key_derived

os.environ.setdefault("SECRETS_KEYS", fernet_key_derived(os.environ["SECRET_KEY"]))

from .base import *  # noqa: F403

ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Mail stays in memory, unless a test's worker process is pointed at a test SMTP server.
EMAIL_BACKEND = os.environ.get("TEST_EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
# Serve static files from the finders (no collectstatic needed in tests, live_server included).
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# A replica that is the test database itself (Django's test MIRROR), so the router's tests run on one
# database; reads go to it only where a test sets REPLICA_DATABASE = "replica".
DATABASES["replica"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}  # noqa: F405
DEMO_ALLOWED = True

"""Settings shared by every environment. Everything configurable comes from
the environment through cxmetrics.settings.env; see README "Configuration"."""

from __future__ import annotations

from pathlib import Path

from babel.numbers import is_currency
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from .env import env_bool, env_database, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("CXMETRICS_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)

_INSECURE_DEV_KEY = "django-insecure-cxmetrics-local-development-only"
if DEBUG:
    SECRET_KEY = env_str("SECRET_KEY", _INSECURE_DEV_KEY)
else:
    try:
        SECRET_KEY = env_str("SECRET_KEY")
    except ImproperlyConfigured as exc:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG off a secret key is required: set SECRET_KEY "
            "(or SECRET_KEY_FILE) to a long random string, e.g. the output of "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'."
        ) from exc
# The key of the suppression list's hashes (customers.suppression). Set it once and never change it:
# entries hashed with another key stop matching. Empty: SECRET_KEY is used (then never rotate that).
SUPPRESSION_HASH_KEY = env_str("SUPPRESSION_HASH_KEY", "")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Absolute base for links that leave the site (survey invitations).
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "cxmetrics",
    "core",
    "customers",
    "crm_sync",
    "surveys",
    "metrics",
    "dashboards",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "cxmetrics.urls"
WSGI_APPLICATION = "cxmetrics.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {"default": env_database("DATABASE_URL", f"sqlite:///{VAR_DIR / 'cxmetrics.sqlite3'}")}
# A streaming replica of the PostgreSQL primary: the dashboards and the metrics API read from it
# (core.db.ReplicaRouter); writes, the survey pages and the refresh stay on the primary.
if env_str("DATABASE_REPLICA_URL", ""):
    DATABASES["replica"] = env_database("DATABASE_REPLICA_URL", "")
REPLICA_DATABASE = "replica" if "replica" in DATABASES else None
DATABASE_ROUTERS = ["core.db.ReplicaRouter"]
for _database in DATABASES.values():
    _database.setdefault("CONN_MAX_AGE", env_int("CONN_MAX_AGE", 60))
    _database["CONN_HEALTH_CHECKS"] = True
    if _database["ENGINE"] == "django.db.backends.postgresql" and not env_bool("POSTGRES_JIT", False):
        # The dashboards' aggregates have large cost estimates on a big history, which makes PostgreSQL
        # JIT-compile queries that run in a few milliseconds, at many times their cost.
        _database.setdefault("OPTIONS", {})["options"] = "-c jit=off"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while the worker writes; the timeout rides out short locks.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Covering indexes (INCLUDE) are a PostgreSQL optimisation; SQLite builds them on the key columns only.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboards-overview"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = env_str("LANGUAGE_CODE", "en")
LANGUAGES = [("en", _("English")), ("es", _("Spanish"))]
if LANGUAGE_CODE not in dict(LANGUAGES):
    raise ImproperlyConfigured(f"LANGUAGE_CODE={LANGUAGE_CODE!r} is not one of {', '.join(dict(LANGUAGES))}.")
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
# The currency of customer values (ISO 4217), shown on every monetary figure.
CURRENCY = env_str("CURRENCY", "EUR").upper()
if not is_currency(CURRENCY):
    raise ImproperlyConfigured(f"CURRENCY={CURRENCY!r} is not an ISO 4217 currency code (EUR, USD, GBP…).")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Email: SMTP in production; a file backend under var/mail for local use.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_FILE_PATH = str(VAR_DIR / "mail")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "CX Metrics <surveys@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Celery: the embedded filesystem broker needs no server; production uses redis://.
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    BROKER_DIR.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR),
        "data_folder_out": str(BROKER_DIR),
        "control_folder": str(BROKER_DIR / "control"),
    }
    (BROKER_DIR / "control").mkdir(exist_ok=True)
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 1800)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 1900)
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE: dict = {
    # Claims the CRM connections whose next sync is due (at most one sync per connection runs).
    "crm-sync-due": {"task": "crm_sync.tasks.crm_sync_due", "schedule": 60.0},
    # Drains the recorded changes into the read model and rolls up the settled days (until it has, the
    # dashboards read the changed days and customers from the raw rows).
    "metrics-refresh": {"task": "metrics.tasks.metrics_refresh_task", "schedule": 60.0},
}
# Each kind of work has a queue of its own, so each can run on its own workers and machines
# (docs/deployment.md); a worker started without -Q serves them all.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {
    "crm_sync.tasks.*": {"queue": "crm"},
    "surveys.tasks.*": {"queue": "mail"},
    "metrics.tasks.*": {"queue": "metrics"},
}
# A running sync that has committed no page for this long is considered abandoned (a killed worker).
CRM_SYNC_STALE_RUN_SECONDS = env_int("CRM_SYNC_STALE_RUN_SECONDS", CELERY_TASK_TIME_LIMIT)
# Folder a CSV connection reads customers*.csv / events*.csv drops from (per-connection setting wins).
CRM_SYNC_CSV_DIR = env_str("CRM_SYNC_CSV_DIR", str(VAR_DIR / "crm_import"))

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "cxmetrics",
    }
}
if env_str("CACHE_URL", "").startswith("redis://"):
    CACHES["default"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env_str("CACHE_URL"),
    }
# The survey pages' question markup, per process on purpose: a deploy restarts the processes and so
# never serves markup rendered by the previous code (surveys.views._questions_html).
CACHES["survey_pages"] = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "survey-pages"}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Product settings.
CX_MANAGERS_GROUP = "CX managers"

# Surveys: one contact policy for every survey (a survey may override the days).
SURVEY_CONTACT_POLICY_DAYS = env_int("SURVEY_CONTACT_POLICY_DAYS", 90)
SURVEY_SEND_BATCH_SIZE = env_int("SURVEY_SEND_BATCH_SIZE", 50)
SURVEY_SEND_RATE_PER_MINUTE = env_int("SURVEY_SEND_RATE_PER_MINUTE", 300)
SURVEY_SEND_MAX_RETRIES = env_int("SURVEY_SEND_MAX_RETRIES", 5)
SURVEY_PUBLIC_SUBMISSIONS_PER_HOUR = env_int("SURVEY_PUBLIC_SUBMISSIONS_PER_HOUR", 10)
# Behind a proxy, the request header that carries the client address (e.g. HTTP_X_REAL_IP);
# empty: REMOTE_ADDR. Anonymous submissions are rate-limited per client address.
SURVEY_CLIENT_IP_HEADER = env_str("SURVEY_CLIENT_IP_HEADER", "")
CELERY_BEAT_SCHEDULE["surveys-maintenance"] = {
    "task": "surveys.tasks.invitations_maintenance_task",
    "schedule": 3600,
}

# Dashboards: below this many answers a figure is shown as "too few responses".
DASHBOARD_MIN_RESPONSES = env_int("DASHBOARD_MIN_RESPONSES", 30)

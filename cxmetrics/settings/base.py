"""Settings shared by every environment. Everything configurable comes from
the environment through cxmetrics.settings.env; see README "Configuration"."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from babel.numbers import is_currency
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from .env import env_bool, env_database, env_fernet_keys, env_int, env_list, env_str, fernet_key_derived

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

# Secrets stored in the database (a CRM connection's token) are encrypted with these Fernet keys
# (core.secrets): the first encrypts, every one decrypts, so a new key goes first and the old one stays
# until `manage.py secrets_rotate` has re-encrypted everything. Locally a key is derived from SECRET_KEY.
if DEBUG:
    SECRETS_KEYS = env_fernet_keys("SECRETS_KEYS", [fernet_key_derived(SECRET_KEY)])
else:
    try:
        SECRETS_KEYS = env_fernet_keys("SECRETS_KEYS")
    except ImproperlyConfigured as exc:
        if "is required" not in str(exc):
            raise
        raise ImproperlyConfigured(
            "SECRETS_KEYS is not set. With DEBUG off the key that encrypts stored secrets is required: set "
            "SECRETS_KEYS (or SECRETS_KEYS_FILE) to the output of "
            "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'."
        ) from exc

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Absolute base for links that leave the site (survey invitations). Unset, it is the local address on
# the port the app runs on (PORT, as `make run PORT=8080` and Procfile.dev pass it).
SITE_URL = env_str("SITE_URL", f"http://127.0.0.1:{env_int('PORT', 8000)}").rstrip("/")

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
    "axes",
    "csp",
    "cxmetrics",
    "core",
    "webhooks",
    "customers",
    "crm_sync",
    "surveys",
    "followup",
    "comments",
    "complaints",
    "churn",
    "metrics",
    "dashboards",
    "digests",
]

# The apps that hold a customer's personal data, each through its ``privacy`` module (erase, export):
# erasure at the subject's request and the subject's export reach every one (customers/privacy.py), in
# this order (comments recognises the comments it quoted before surveys blanks them).
PERSONAL_DATA_HOLDERS = [
    "comments.privacy",
    "surveys.privacy",
    "crm_sync.privacy",
    "followup.privacy",
    "complaints.privacy",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.db.StatementTimeoutMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "core.middleware.RejectNulMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.api_auth.ApiThrottleMiddleware",
    # Last, as django-axes requires: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
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
                "followup.context_processors.navigation",
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
# Web requests only (core.db.StatementTimeoutMiddleware); below gunicorn's 30 s worker timeout. 0 turns it off.
WEB_STATEMENT_TIMEOUT_SECONDS = env_int("WEB_STATEMENT_TIMEOUT_SECONDS", 25)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The axes backend goes first: it refuses a locked-out sign-in before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
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
    # Redis hands a task not acknowledged within this time to another worker. With late acks a task is
    # acknowledged when it ends, and one with a countdown is held unacknowledged until it is due, so
    # this must exceed the hard time limit and the longest countdown (a send retried after up to an
    # hour); a redelivered task must be, and is, harmless (a sync resumes from its checkpoint, a
    # processed file is skipped, a send claims its invitation). A worker that dies does not wait for it:
    # dead sync runs and stuck sends are taken up again by the periodic tasks below within minutes.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3900)}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 1800)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 1900)
if CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", CELERY_TASK_TIME_LIMIT + 1) <= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        "CELERY_VISIBILITY_TIMEOUT must be longer than CELERY_TASK_TIME_LIMIT: Redis would hand a task that is "
        "still running to a second worker."
    )
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE: dict = {
    # Marks failed the sync runs whose worker stopped (no heartbeat), then claims the CRM connections
    # whose next sync is due (at most one sync per connection runs).
    "crm-sync-due": {"task": "crm_sync.tasks.crm_sync_due", "schedule": 60.0},
    # Drains the recorded changes into the read model and rolls up the settled days (until it has, the
    # dashboards read the changed days and customers from the raw rows).
    "metrics-refresh": {"task": "metrics.tasks.metrics_refresh_task", "schedule": 60.0},
    # New comments (answers, imports) analysed within a minute; the nightly catch-up takes any row a
    # long transaction hid from the sweep; suggestions cluster the comments that match no theme.
    "comments-sweep": {"task": "comments.tasks.comments_sweep_task", "schedule": 20.0},
    "complaints-analysis-sweep": {"task": "comments.tasks.complaints_sweep_task", "schedule": 20.0},
    "comments-catch-up": {"task": "comments.tasks.comments_catch_up_task", "schedule": crontab(hour=3, minute=10)},
    "comments-suggest": {"task": "comments.tasks.comments_suggest_task", "schedule": crontab(hour=3, minute=40)},
}
# Each kind of work has a queue of its own, so each can run on its own workers and machines
# (docs/deployment.md); a worker started without -Q serves them all.
# Writes the digests owed for the last whole week and month and hands them to the mail workers.
CELERY_BEAT_SCHEDULE["digests-due"] = {"task": "digests.tasks.digests_due_task", "schedule": 3600.0}
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {
    "crm_sync.tasks.*": {"queue": "crm"},
    "surveys.tasks.*": {"queue": "mail"},
    "digests.tasks.*": {"queue": "mail"},
    "metrics.tasks.*": {"queue": "metrics"},
}
# A running sync whose heartbeat (every page, and every quarter of this while a page is worked on) is
# older than this was left by a stopped worker: crm-sync-due marks it failed and the next sync proceeds.
CRM_SYNC_DEAD_AFTER_SECONDS = env_int("CRM_SYNC_DEAD_AFTER_SECONDS", 240)
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
    # Personal survey links are credentials: every record leaves with their tokens masked
    # (django.request's 404/500 warnings, django.server's request lines).
    "filters": {"mask_tokens": {"()": "cxmetrics.logmask.TokenMaskFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["mask_tokens"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Filters on the loggers themselves, so every handler (Django's own included) sees masked records.
        "django.request": {"filters": ["mask_tokens"]},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False, "filters": ["mask_tokens"]},
    },
}

# Product settings.
CX_MANAGERS_GROUP = "CX managers"

# Behind a reverse proxy REMOTE_ADDR is the proxy: name the request header the proxy sets to the client
# address (e.g. HTTP_X_REAL_IP, which nginx overwrites; never a header the client can set unchecked).
# Empty: REMOTE_ADDR. Sign-in lockouts and the API token throttle count per this address.
CLIENT_IP_HEADER = env_str("CLIENT_IP_HEADER", "")

# Sign-in throttling (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for one username from one
# address, that pair is refused, even with the right password, for LOGIN_COOLOFF_MINUTES after the
# last attempt. Lockouts are listed, and cleared, in the admin ("Access attempts").
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "core.client_ip.client_ip"
AXES_LOCKOUT_CALLABLE = "core.lockout.lockout_response"

# Bad API tokens: after API_TOKEN_FAILURE_LIMIT unknown tokens from one address within
# API_TOKEN_FAILURE_WINDOW_SECONDS, that address gets 429 without its tokens being checked until the window
# ends. Counted in the default cache: with several web processes it must be Redis (CACHE_URL).
API_TOKEN_FAILURE_LIMIT = env_int("API_TOKEN_FAILURE_LIMIT", 10)
API_TOKEN_FAILURE_WINDOW_SECONDS = env_int("API_TOKEN_FAILURE_WINDOW_SECONDS", 900)

# Content-Security-Policy (django-csp): scripts only from this site (no inline script, no eval), no
# plugins, no framing, forms post only here. Styles allow 'unsafe-inline' because plotly.js inserts
# <style> elements at run time and offers no nonce; inline styles cannot run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# demo_setup creates users with published passwords: only local and test settings allow it.
DEMO_ALLOWED = False

# Surveys: one contact policy for every survey (a survey may override the days).
SURVEY_CONTACT_POLICY_DAYS = env_int("SURVEY_CONTACT_POLICY_DAYS", 90)
SURVEY_SEND_BATCH_SIZE = env_int("SURVEY_SEND_BATCH_SIZE", 50)
SURVEY_SEND_RATE_PER_MINUTE = env_int("SURVEY_SEND_RATE_PER_MINUTE", 300)
SURVEY_SEND_MAX_RETRIES = env_int("SURVEY_SEND_MAX_RETRIES", 5)
SURVEY_PUBLIC_SUBMISSIONS_PER_HOUR = env_int("SURVEY_PUBLIC_SUBMISSIONS_PER_HOUR", 10)
# Inviting more customers than this at once from the admin asks to confirm the number first.
SURVEY_INVITE_CONFIRM_ABOVE = env_int("SURVEY_INVITE_CONFIRM_ABOVE", 500)
# Behind a proxy, the request header that carries the client address (e.g. HTTP_X_REAL_IP);
# empty: REMOTE_ADDR. Anonymous submissions are rate-limited per client address.
SURVEY_CLIENT_IP_HEADER = env_str("SURVEY_CLIENT_IP_HEADER", CLIENT_IP_HEADER)
# A send claimed this long ago (its worker died mid-send), or a queued invitation this long past its
# task's due time (the task was lost), is queued again by surveys-requeue-stuck.
SURVEY_SEND_STUCK_SECONDS = env_int("SURVEY_SEND_STUCK_SECONDS", 300)
CELERY_BEAT_SCHEDULE["surveys-requeue-stuck"] = {
    "task": "surveys.tasks.invitations_requeue_stuck_task",
    "schedule": 120.0,
}
# Reminders.
CELERY_BEAT_SCHEDULE["surveys-maintenance"] = {
    "task": "surveys.tasks.invitations_maintenance_task",
    "schedule": 3600,
}

# Dashboards: below this many answers a figure is shown as "too few responses".
DASHBOARD_MIN_RESPONSES = env_int("DASHBOARD_MIN_RESPONSES", 30)

# Outbound webhooks (webhooks/, docs/webhooks.md). A POST waits at most WEBHOOK_TIMEOUT_SECONDS to connect
# and as long again for the answer; a failed delivery is retried WEBHOOK_MAX_ATTEMPTS times in all, after
# WEBHOOK_RETRY_FIRST_SECONDS doubling each time (or the receiver's Retry-After), never waiting longer
# than WEBHOOK_RETRY_MAX_SECONDS. A delivery claimed by a worker longer than WEBHOOK_STALE_SECONDS ago (the
# worker died mid-attempt) is queued again by webhooks-sweep, as is a due delivery whose task was lost.
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 10)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8)
WEBHOOK_RETRY_FIRST_SECONDS = env_int("WEBHOOK_RETRY_FIRST_SECONDS", 60)
WEBHOOK_RETRY_MAX_SECONDS = env_int("WEBHOOK_RETRY_MAX_SECONDS", 6 * 3600)
WEBHOOK_STALE_SECONDS = env_int("WEBHOOK_STALE_SECONDS", 300)
if WEBHOOK_STALE_SECONDS <= 3 * WEBHOOK_TIMEOUT_SECONDS:
    raise ImproperlyConfigured(
        "WEBHOOK_STALE_SECONDS must be more than three times WEBHOOK_TIMEOUT_SECONDS: a delivery still being "
        "sent would be taken for one whose worker died, and sent again."
    )
# Webhook URLs must be https://; plain http:// is accepted only for 127.0.0.1, ::1 and localhost, and only
# where this is on (by default with DEBUG: a local receiver while developing).
WEBHOOK_ALLOW_LOCAL_HTTP = env_bool("WEBHOOK_ALLOW_LOCAL_HTTP", DEBUG)
CELERY_BEAT_SCHEDULE["webhooks-sweep"] = {"task": "webhooks.tasks.webhooks_sweep_task", "schedule": 30.0}
# Closing the loop: evaluate the alert rules on new answers (off the request), then send the summaries
# of alerts over an owner's hourly cap.
CELERY_BEAT_SCHEDULE["followup-alerts-sweep"] = {"task": "followup.tasks.alerts_sweep_task", "schedule": 60.0}
CELERY_TASK_ROUTES["followup.tasks.*"] = {"queue": "mail"}
CASE_HANDLERS_GROUP = "Case handlers"
# Churn risk: retrain and rescore every night (the page reads the newest finished run).
CELERY_BEAT_SCHEDULE["churn-risk-nightly"] = {
    "task": "churn.tasks.churn_risk_nightly_task",
    "schedule": crontab(hour=3, minute=30),
}
CELERY_TASK_ROUTES["churn.tasks.*"] = {"queue": "metrics"}
# After a refresh that changed the read model, the pages' costly estimates for their default periods are
# computed by the worker rather than by the first manager to open a page (needs CACHE_URL; dashboards.warm).
CELERY_BEAT_SCHEDULE["dashboards-warm"] = {"task": "dashboards.tasks.dashboards_warm_task", "schedule": 20.0}
CELERY_TASK_ROUTES["dashboards.tasks.*"] = {"queue": "metrics"}

"""Settings for KSeF Portal, read from the environment (12-factor, django-environ).

Production (DEBUG off) refuses to start without real secrets; development falls back to SQLite and
Celery over kombu's filesystem transport under ``var/`` so that one command runs everything.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from ksefportal.release import release_key

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
_env_file = Path(env.str("ENV_FILE", default=str(BASE_DIR / ".env")))
if _env_file.is_file():
    # Values already in the process environment win over the file (CI, docker-compose, tests).
    environ.Env.read_env(_env_file, overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
TESTING = env.bool("DJANGO_TESTING", default=False)


def _required(name: str) -> str:
    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(f"{name} must be set when DEBUG is off.")
    return value


SECRET_KEY = env.str("SECRET_KEY", default="") or (
    "django-insecure-dev-only-never-use-in-production" if DEBUG else _required("SECRET_KEY")
)
if not DEBUG and (SECRET_KEY.startswith("django-insecure") or len(SECRET_KEY) < 40):
    raise ImproperlyConfigured("SECRET_KEY is a development value or shorter than 40 characters.")

# Keys for secrets at rest (KSeF tokens, private keys): a comma-separated list of Fernet keys, newest
# first. They are independent of SECRET_KEY so that either can be rotated without the other.
FIELD_ENCRYPTION_KEYS: list[str] = env.list("FIELD_ENCRYPTION_KEYS", default=[])
if not FIELD_ENCRYPTION_KEYS and not DEBUG:
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS must be set when DEBUG is off.")
for _position, _key in enumerate(FIELD_ENCRYPTION_KEYS, start=1):
    try:
        Fernet(_key)
    except (ValueError, TypeError):
        # Never the key itself in the message: it is a secret, and the message goes to logs.
        raise ImproperlyConfigured(
            f"FIELD_ENCRYPTION_KEYS: key number {_position} is not a valid Fernet key (32 random bytes in "
            "URL-safe base64, 44 characters; make one with: python -c 'from cryptography.fernet import "
            "Fernet; print(Fernet.generate_key().decode())')."
        ) from None

ALLOWED_HOSTS: list[str] = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else []
)
if not ALLOWED_HOSTS and not DEBUG:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# The port the web server listens on. Every process reads it, web, worker and beat alike, so that they agree
# on the portal's address: `make run` sets it from its PORT for all of them (honcho gives each process a PORT
# of its own: web 8000, worker 8100), so PORT itself is never read here.
WEB_PORT = env.int("WEB_PORT", default=8000)
SITE_NAME = env.str("SITE_NAME", default="KSeF Portal")
# The portal's own address: links in e-mails sent by the worker and, in simulator mode, the simulator's API.
SITE_URL = env.str("SITE_URL", default=f"http://127.0.0.1:{WEB_PORT}").rstrip("/")
SUPPORT_EMAIL = env.str("SUPPORT_EMAIL", default="pomoc@example.com")
SUPPORT_PHONE = env.str("SUPPORT_PHONE", default="")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "django_htmx",
    "template_partials",
    "csp",
    "axes",
    "ninja",  # django-ninja: the public API; listed so that its docs page uses its bundled files, no CDN
    "accounts",
    "invoices",
    "ksef_integration",
    "payments",
    "integrations",
]

# The simulator plays the government side; it is a development and test tool only.
KSEF_SIMULATOR_ENABLED = env.bool("KSEF_SIMULATOR_ENABLED", default=DEBUG or TESTING)
# Its pages let anyone act as any NIP and its control API injects faults (one "hang" stalls a worker): with
# DEBUG off it runs only in the test suite or when an operator says, in so many words, that it is unsafe.
KSEF_SIMULATOR_UNSAFE_IN_PRODUCTION = env.bool("KSEF_SIMULATOR_UNSAFE_IN_PRODUCTION", default=False)
# With DEBUG off, scripts (the benches) reach the simulator's control API with this bearer token; browsers
# need a staff login and a CSRF token. Empty: no token is accepted.
KSEF_SIMULATOR_CONTROL_TOKEN = env.str("KSEF_SIMULATOR_CONTROL_TOKEN", default="")
if KSEF_SIMULATOR_ENABLED and not (DEBUG or TESTING or KSEF_SIMULATOR_UNSAFE_IN_PRODUCTION):
    raise ImproperlyConfigured(
        "KSEF_SIMULATOR_ENABLED with DEBUG off: the KSeF simulator is a development tool (anyone may mint "
        "tokens and inject faults). Turn it off, or set KSEF_SIMULATOR_UNSAFE_IN_PRODUCTION=1 to run it "
        "anyway."
    )
# The simulator's rate-limit profile when its state is first created (a fresh database): "default" (KSeF's,
# = production since API 2.5.0), "production", or "off" (benchmarks). Empty: "default", or "off" under the
# test suite. Afterwards the control API (POST /testdata/rate-limits...) changes it.
KSEF_SIMULATOR_RATE_LIMITS = env.str("KSEF_SIMULATOR_RATE_LIMITS", default="")
if KSEF_SIMULATOR_RATE_LIMITS not in ("", "default", "production", "off"):
    raise ImproperlyConfigured(
        f"KSEF_SIMULATOR_RATE_LIMITS must be default, production or off, not {KSEF_SIMULATOR_RATE_LIMITS!r}."
    )
if KSEF_SIMULATOR_ENABLED:
    INSTALLED_APPS.append("ksef_simulator")

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
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]

ROOT_URLCONF = "ksefportal.urls"
WSGI_APPLICATION = "ksefportal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.portal",
            ],
        },
    }
]

# Database: PostgreSQL when DATABASE_URL is set, otherwise SQLite under var/ (the one-command demo).
VAR_DIR.mkdir(exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the worker and beat share one file: wait for locks instead of failing, and take
    # the write lock up front so that read-then-write transactions do not deadlock.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Off by default (runserver and the test suite open many short-lived threads); a long-running server
    # gains a lot from it, since SQLite checkpoints the WAL whenever the last connection closes.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=True)
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool(
        "DB_SERVER_SIDE_BINDING", default=False
    ):
        # psycopg's documented options, through Django's: bind parameters on the server and prepare a
        # statement once a connection has run it DB_PREPARE_THRESHOLD times (docs/QUALITY.md has the figures).
        # Off by default: Django binds on the client, which every connection pooler accepts.
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            server_side_binding=True, prepare_threshold=env.int("DB_PREPARE_THRESHOLD", default=5)
        )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# What this release renders with (code, templates, catalogs), computed at start-up: markup kept in the shared
# cache is filed under it, so a deployment never serves the previous release's (ksefportal/release.py).
RELEASE_KEY = release_key(BASE_DIR)

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    # Sessions read from Redis (written through to the database): one query less on every page.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

CSRF_FAILURE_VIEW = "ksefportal.errors.csrf_failure"
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "accounts.backends.UserBackend"]
# Login throttling (django-axes): 5 failed logins for one e-mail from one address lock that pair for 15 min.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = dt.timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_FORM_FIELD = "username"  # the login form's field (the e-mail), not User.USERNAME_FIELD
AXES_USERNAME_CALLABLE = "accounts.lockout.attempt_username"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
# Reverse proxies whose X-Forwarded-For names the client (IPs or CIDR networks); empty: REMOTE_ADDR only.
TRUSTED_PROXIES: list[str] = env.list("TRUSTED_PROXIES", default=[])
AXES_CLIENT_IP_CALLABLE = "accounts.client_ip.client_ip"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:start"
LOGOUT_REDIRECT_URL = "accounts:login"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24

LANGUAGE_CODE = "pl"
LANGUAGES = [("pl", "Polski"), ("en", "English")]  # each in its own language, as a switcher shows them
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Warsaw"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = VAR_DIR / "media"
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# An invoice form of invoices.forms.MAX_LINES (1000) lines posts about 6 fields a line; more than this
# gets the Polish 400 page, fewer but too many lines get the form's own message.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

# E-mail: the console in development, a real server from EMAIL_URL in production.
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://" if DEBUG else "smtp://localhost:25")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default=f"{SITE_NAME} <no-reply@example.com>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Invoices e-mailed to buyers (issue 22): a failing mail server is tried again after this many seconds,
# doubling each time (at most 30 minutes), 8 times in all.
INVOICE_EMAIL_RETRY_SECONDS = env.int("INVOICE_EMAIL_RETRY_SECONDS", default=30)

# Error reports hide sensitive_variables / sensitive_post_parameters even on the DEBUG page.
DEFAULT_EXCEPTION_REPORTER_FILTER = "ksefportal.error_reports.SecretsHiddenFilter"

# Security headers. The CSP allows only our own origin: everything (CSS, JS, fonts) is served locally.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 60 * 60 * 12
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain HTTP
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    if env.bool("USE_X_FORWARDED_PROTO", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# The public API (issue 22, integrations/api): requests per key in a fixed window.
API_RATE_LIMIT = env.int("API_RATE_LIMIT", default=1200)
API_RATE_WINDOW_SECONDS = env.int("API_RATE_WINDOW_SECONDS", default=60)
# Webhooks (integrations/webhooks). Private and loopback targets (the SSRF guard) only in development and
# tests; production sends to public HTTPS addresses only.
WEBHOOK_ALLOW_PRIVATE_TARGETS = env.bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", default=DEBUG or TESTING)
WEBHOOK_TIMEOUT_SECONDS = env.int("WEBHOOK_TIMEOUT_SECONDS", default=10)
WEBHOOK_RETRY_HOURS = env.int("WEBHOOK_RETRY_HOURS", default=24)
# Pauses after the 1st, 2nd, ... failed attempt (seconds), the last one repeated until the window ends.
WEBHOOK_RETRY_SCHEDULE = [30, 120, 300, 900, 1800, 3600, 7200, 14400, 28800]
WEBHOOK_DISABLE_FAILURES = env.int("WEBHOOK_DISABLE_FAILURES", default=10)
WEBHOOK_DISABLE_HOURS = env.int("WEBHOOK_DISABLE_HOURS", default=12)

# Celery (STYLE.md §7): JSON only, late acks, one message at a time, time limits, no result backend.
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 60 * 60}
else:
    _queue_dir = VAR_DIR / "celery" / "queue"
    _processed_dir = VAR_DIR / "celery" / "processed"
    _control_dir = VAR_DIR / "celery" / "control"  # broadcast exchanges (else ./control in the CWD)
    for _folder in (_queue_dir, _processed_dir, _control_dir):
        _folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(_processed_dir),
        "control_folder": str(_control_dir),
        "store_processed": False,
    }
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="ksefportal")
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 120
CELERY_TASK_TIME_LIMIT = 180
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_SEND_TASK_EVENTS = False
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# KSeF
KSEF_ENVIRONMENT = env.str("KSEF_ENVIRONMENT", default="simulator" if DEBUG or TESTING else "")
if KSEF_ENVIRONMENT not in {"simulator", "test", "demo", "prod"}:
    raise ImproperlyConfigured("KSEF_ENVIRONMENT must be one of: simulator, test, demo, prod.")
if KSEF_ENVIRONMENT == "simulator" and not KSEF_SIMULATOR_ENABLED and not env.str("KSEF_API_URL", default=""):
    raise ImproperlyConfigured("KSEF_ENVIRONMENT=simulator needs KSEF_SIMULATOR_ENABLED or KSEF_API_URL.")
KSEF_API_URL = env.str("KSEF_API_URL", default="")
# Where the portal finds the simulator's API when KSEF_API_URL is not set: this server, at SITE_URL, unless
# the worker reaches the web server by another address (docker-compose: http://web:8000/ksef-sim/v2).
KSEF_SIMULATOR_API_URL = env.str("KSEF_SIMULATOR_API_URL", default=f"{SITE_URL}/ksef-sim/v2").rstrip("/")
# The VAT white list (Wykaz podatników VAT): MF's API, or the simulator's stand-in beside its KSeF API when
# the simulator is on (so the worker reaches it where it reaches KSeF: KSEF_SIMULATOR_API_URL).
WHITELIST_API_URL = env.str(
    "WHITELIST_API_URL",
    default=(
        KSEF_SIMULATOR_API_URL.removesuffix("/v2") + "/wl-api"
        if KSEF_SIMULATOR_ENABLED
        else "https://wl-api.mf.gov.pl"
    ),
).rstrip("/")
# MF's daily limits per caller (search: 100 requests; check: 5,000); the portal stops asking before them.
WHITELIST_SEARCH_DAILY_LIMIT = env.int("WHITELIST_SEARCH_DAILY_LIMIT", default=100)
WHITELIST_CHECK_DAILY_LIMIT = env.int("WHITELIST_CHECK_DAILY_LIMIT", default=5000)
# The official KSeF files the app reads (FA(3), auth and UPO schemas), copied into the repository with MF's
# licence: vendor/ksef-docs/README.md. KSEF_SCHEMA_DIR points the FA(3) validation elsewhere.
KSEF_DOCS_DIR = BASE_DIR / "vendor" / "ksef-docs"
KSEF_SCHEMA_DIR = env.str("KSEF_SCHEMA_DIR", default=str(KSEF_DOCS_DIR / "faktury" / "schemy" / "FA"))
# The last day on which KSeF tokens work; after it only certificates authenticate.
KSEF_TOKEN_SUNSET = dt.date.fromisoformat(env.str("KSEF_TOKEN_SUNSET", default="2026-12-31"))
# A KSeF certificate the portal connects with is renewed (a successor enrolled and switched to) this many
# days before it expires (ksef_integration.enrollment).
KSEF_CERTIFICATE_RENEW_DAYS = env.int("KSEF_CERTIFICATE_RENEW_DAYS", default=30)
# Sending: first retry delay (doubling, with jitter, up to 15 min) and how long a worker's claim lasts.
KSEF_SEND_BACKOFF_SECONDS = env.float("KSEF_SEND_BACKOFF_SECONDS", default=5.0)
KSEF_SEND_LEASE_SECONDS = env.float("KSEF_SEND_LEASE_SECONDS", default=300.0)
# How long a company's sending lock outlives a holder that died (its live holder renews it every third).
KSEF_SEND_LOCK_SECONDS = env.float("KSEF_SEND_LOCK_SECONDS", default=30.0)
# A company with more due invoices than this sends them in a batch session (issue 6).
KSEF_SEND_BATCH_THRESHOLD = env.int("KSEF_SEND_BATCH_THRESHOLD", default=50)
# Owners are e-mailed about a sales invoice not final this many minutes after it was queued.
KSEF_SEND_STUCK_MINUTES = env.float("KSEF_SEND_STUCK_MINUTES", default=60.0)
# This many transport failures in a row mark a company "KSeF niedostępny" (offline modes, issue 8).
KSEF_OFFLINE_FAILURES = env.int("KSEF_OFFLINE_FAILURES", default=3)
# How long background work waits for one KSeF answer (read timeout, seconds).
KSEF_WORKER_READ_TIMEOUT = env.float("KSEF_WORKER_READ_TIMEOUT", default=30.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # mt-940 logs every line it cannot match, with the statement's text (accounts, names): a damaged
        # file is refused with a message instead (payments.transfers.statement_parse).
        "mt940": {"level": "CRITICAL"},
    },
}

"""Textcast settings.

Every value comes from the environment (see `.env.example`). Defaults are safe for local
development; a production deployment sets `DEBUG=false` and must then provide `SECRET_KEY`.
"""

import os
import re
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def env_number(cast, name, default):
    """env.int/env.float that name the variable instead of failing with a bare ValueError."""
    try:
        return getattr(env, cast)(name, default=default)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={os.environ[name]!r} is not a valid {cast}.") from exc


# Local runtime files: the SQLite database, the file-based broker and cache, uploads.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var"))).resolve()

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Set SECRET_KEY (or DEBUG=true for local development).")
    SECRET_KEY = "django-insecure-local-development-only"  # noqa: S105 - DEBUG only

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Absolute URL at which providers reach our callback endpoints.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "ninja",  # /api/v1: its bundled Swagger UI files (no CDN)
    "messaging",
    "recipients",
    "campaigns",
    "callbacks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # The signed-in user and address become the actor of what the request records (messaging.audit).
    "messaging.audit.AuditContextMiddleware",
    # Every page needs a login unless its view is marked @login_not_required (callbacks).
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "config.middleware.RejectNulMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "config.middleware.IdleSessionMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "config.context_processors.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # The web server, worker and beat share the file: wait for locks instead of failing,
    # and take the write lock up front so concurrent writers queue rather than deadlock.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a file too, not memory: the browser tests' Celery worker is another process and
    # reads the live server's database (pytest-xdist adds a suffix per worker).
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env_number("int", "CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, Celery, cache -------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    # No server to install: kombu's filesystem transport passes messages through files.
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("out", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://localhost/"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# Delivery reports and clicks: with Redis they are buffered in a stream that must never be
# flushed or evicted, so it can live in its own Redis database (default: REDIS_URL).
CALLBACK_REDIS_URL = env.str("CALLBACK_REDIS_URL", default=REDIS_URL)
CALLBACK_STREAM = env.str("CALLBACK_STREAM", default="textcast:callbacks")
CALLBACK_MAX_BYTES = env_number("int", "CALLBACK_MAX_BYTES", 4 * 1024 * 1024)

CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True  # progress lives in our own models, not in a result backend
# A task whose worker dies is delivered again; every task is written to be safe to repeat.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_number("int", "CELERY_TASK_SOFT_TIME_LIMIT", 600)
CELERY_TASK_TIME_LIMIT = env_number("int", "CELERY_TASK_TIME_LIMIT", 660)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

# --- MessageWhiz ----------------------------------------------------------------------
# Base URL given to new MessageWhiz accounts; the embedded default is the local sandbox.
MESSAGEWHIZ_BASE_URL = env.str("MESSAGEWHIZ_BASE_URL", default="http://127.0.0.1:8025").rstrip("/")
MESSAGEWHIZ_CONNECT_TIMEOUT = env_number("float", "MESSAGEWHIZ_CONNECT_TIMEOUT", 5.0)
MESSAGEWHIZ_READ_TIMEOUT = env_number("float", "MESSAGEWHIZ_READ_TIMEOUT", 30.0)
MESSAGEWHIZ_MAX_RETRIES = env_number("int", "MESSAGEWHIZ_MAX_RETRIES", 4)
# Outbound requests (provider endpoints, API roots) never reach loopback, private, link-local or
# metadata addresses (messaging.netguard) unless allowed here: every address, or some hosts as
# written in their URLs ("sms.internal", "10.0.0.5:8443", "[fd00::5]:443").
OUTBOUND_ALLOW_PRIVATE_NETWORKS = env.bool("OUTBOUND_ALLOW_PRIVATE_NETWORKS", default=False)
OUTBOUND_ALLOWED_HOSTS = env.list("OUTBOUND_ALLOWED_HOSTS", default=[])
# Outbound webhooks (messaging.webhooks): retries with capped, jittered exponential backoff for
# the window, then failed; after BREAKER_FAILURES consecutive failed requests an endpoint pauses
# (PAUSE_SECONDS, doubling per pause up to an hour) and one probe request decides.
WEBHOOK_RETRY_BASE_SECONDS = env_number("float", "WEBHOOK_RETRY_BASE_SECONDS", 10.0)
WEBHOOK_RETRY_MAX_SECONDS = env_number("float", "WEBHOOK_RETRY_MAX_SECONDS", 7200.0)
WEBHOOK_RETRY_WINDOW_SECONDS = env_number("int", "WEBHOOK_RETRY_WINDOW_SECONDS", 86400)
WEBHOOK_BREAKER_FAILURES = env_number("int", "WEBHOOK_BREAKER_FAILURES", 10)
WEBHOOK_BREAKER_PAUSE_SECONDS = env_number("float", "WEBHOOK_BREAKER_PAUSE_SECONDS", 60.0)
WEBHOOK_TIMEOUT_SECONDS = env_number("float", "WEBHOOK_TIMEOUT_SECONDS", 10.0)
WEBHOOK_CONCURRENCY = env_number("int", "WEBHOOK_CONCURRENCY", 16)
WEBHOOK_LEASE_SECONDS = env_number("int", "WEBHOOK_LEASE_SECONDS", 300)
WEBHOOK_KICK_INTERVAL = env_number("float", "WEBHOOK_KICK_INTERVAL", 0.5)
WEBHOOK_DRAIN_LINGER_SECONDS = env_number("float", "WEBHOOK_DRAIN_LINGER_SECONDS", 1.0)
WEBHOOK_LOG_DAYS = env_number("int", "WEBHOOK_LOG_DAYS", 14)
# Scheduled broadcasts are handed to MessageWhiz this long before their send time (MessageWhiz
# starts them exactly on time); until then they can still be cancelled here.
SCHEDULE_LEAD_SECONDS = env_number("int", "SCHEDULE_LEAD_SECONDS", 600)
# Sending through generic HTTP providers (campaigns.dispatch): messages claimed per chunk, how
# long one task sends before handing over, how long a silent worker's claim lasts, and how long
# a provider may stay unreachable before its broadcast pauses.
DISPATCH_CHUNK = env_number("int", "DISPATCH_CHUNK", 2000)
DISPATCH_RUN_SECONDS = env_number("float", "DISPATCH_RUN_SECONDS", 240)
DISPATCH_LEASE_SECONDS = env_number("int", "DISPATCH_LEASE_SECONDS", 120)
DISPATCH_OUTAGE_SECONDS = env_number("float", "DISPATCH_OUTAGE_SECONDS", 120)
# Provider health (messaging.breaker): a circuit breaker per provider account over the requests of
# the last PROVIDER_BREAKER_WINDOW_SECONDS (its thresholds are on the account); a probe request
# left unanswered frees the half-open breaker after PROVIDER_BREAKER_PROBE_SECONDS; the health
# panel reads the last PROVIDER_HEALTH_SECONDS. PROVIDER_BREAKER=false turns breaker and book off.
PROVIDER_BREAKER = env.bool("PROVIDER_BREAKER", default=True)
PROVIDER_BREAKER_WINDOW_SECONDS = env_number("int", "PROVIDER_BREAKER_WINDOW_SECONDS", 60)
PROVIDER_BREAKER_PROBE_SECONDS = env_number("int", "PROVIDER_BREAKER_PROBE_SECONDS", 60)
PROVIDER_HEALTH_SECONDS = env_number("int", "PROVIDER_HEALTH_SECONDS", 900)
# Delivery reports: after this long without a broadcast's last reports the overview lists it under
# "Needs attention"; a generic-provider broadcast completes without them after the longer wait.
DELIVERY_REPORTS_LATE_SECONDS = env_number("int", "DELIVERY_REPORTS_LATE_SECONDS", 1800)
DISPATCH_REPORT_WAIT_SECONDS = env_number("int", "DISPATCH_REPORT_WAIT_SECONDS", 48 * 3600)
# Retrying undelivered messages (campaigns.retries): "no report after T" is never shorter than
# this (a carrier may still deliver within its validity period); retries are looked for this long
# after a broadcast was sent.
RETRY_NO_REPORT_MIN_MINUTES = env_number("int", "RETRY_NO_REPORT_MIN_MINUTES", 24 * 60)
RETRY_HORIZON_HOURS = env_number("int", "RETRY_HORIZON_HOURS", 7 * 24)
# Quiet hours (campaigns.policy): the sending window, in each recipient's local time, of an
# account whose compliance page was never saved (47 CFR 64.1200(c)(1): 08:00 to 21:00).
SENDING_WINDOW = env.str("SENDING_WINDOW", "08:00-21:00")
if not re.fullmatch(r"\d\d:\d\d(:\d\d)?-\d\d:\d\d(:\d\d)?", SENDING_WINDOW):
    raise ImproperlyConfigured("SENDING_WINDOW must look like 08:00-21:00.")
# The longest message any send path accepts, in SMS parts (each part is billed as one SMS).
MAX_MESSAGE_PARTS = env_number("int", "MAX_MESSAGE_PARTS", 10)
if MAX_MESSAGE_PARTS < 1:
    raise ImproperlyConfigured(f"MAX_MESSAGE_PARTS must be at least 1, not {MAX_MESSAGE_PARTS}.")
# One-time passwords: at most this many sends / verification attempts per phone number per window.
OTP_WINDOW_SECONDS = env_number("int", "OTP_WINDOW_SECONDS", 600)
OTP_SENDS_PER_WINDOW = env_number("int", "OTP_SENDS_PER_WINDOW", 3)
# The JSON APIs: requests per token per window, and how long an Idempotency-Key's first answer is kept.
API_RATE_LIMIT = env_number("int", "API_RATE_LIMIT", 120)
API_RATE_WINDOW_SECONDS = env_number("int", "API_RATE_WINDOW_SECONDS", 60)
API_IDEMPOTENCY_HOURS = env_number("int", "API_IDEMPOTENCY_HOURS", 24)
OTP_VERIFIES_PER_WINDOW = env_number("int", "OTP_VERIFIES_PER_WINDOW", 5)

# --- Auth -----------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Failed sign-ins (config.login): past this many per username, or per client address, within the
# window, each further failure locks that name or address twice as long as the last, up to the cap.
LOGIN_FAILURES_PER_USER = env_number("int", "LOGIN_FAILURES_PER_USER", 5)
LOGIN_FAILURES_PER_IP = env_number("int", "LOGIN_FAILURES_PER_IP", 20)
LOGIN_FAILURE_WINDOW_SECONDS = env_number("int", "LOGIN_FAILURE_WINDOW_SECONDS", 3600)
LOGIN_LOCKOUT_SECONDS = env_number("int", "LOGIN_LOCKOUT_SECONDS", 60)
LOGIN_LOCKOUT_MAX_SECONDS = env_number("int", "LOGIN_LOCKOUT_MAX_SECONDS", 3600)
# How many reverse proxies in front of gunicorn append to X-Forwarded-For (0: use the peer address).
LOGIN_TRUSTED_PROXIES = env_number("int", "LOGIN_TRUSTED_PROXIES", 0)
# A session ends after this long without a page load or form post (background refreshes of a
# page do not count), and in any case this long after signing in.
SESSION_IDLE_SECONDS = env_number("int", "SESSION_IDLE_SECONDS", 3600)
SESSION_COOKIE_AGE = env_number("int", "SESSION_COOKIE_AGE", 12 * 3600)
OTP_TOTP_ISSUER = "Textcast"

# --- I18N -----------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files and uploads ---------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env.str(
            "STATICFILES_STORAGE",
            default="django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage",
        )
    },
}
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
UPLOAD_MAX_BYTES = env_number("int", "UPLOAD_MAX_BYTES", 100 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Security -------------------------------------------------------------------------
# Secure by default outside DEBUG; a deployment behind a TLS-terminating proxy sets
# USE_X_FORWARDED_PROTO=true.
SECURE = not DEBUG
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=SECURE)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=SECURE)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=SECURE)
SECURE_HSTS_SECONDS = env_number("int", "SECURE_HSTS_SECONDS", 31536000 if SECURE else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=SECURE)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=SECURE)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Logging --------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # urllib3 logs full URLs at DEBUG; keep it quiet so nothing sensitive leaks.
        "urllib3": {"level": "WARNING"},
    },
}

CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {"task": "messaging.tasks.heartbeat", "schedule": 60.0},
    "apply-pending-callbacks": {"task": "callbacks.tasks.apply_pending", "schedule": 60.0},
    "push-pending": {"task": "messaging.tasks.push_pending", "schedule": 60.0},
    "pull-mirrors": {"task": "messaging.tasks.pull_mirrors",
                     "schedule": env_number("int", "SYNC_PULL_INTERVAL", 900)},
    "submit-due-broadcasts": {"task": "campaigns.tasks.submit_due_broadcasts", "schedule": 60.0},
    # A/B tests whose decision time has come send their winner to the rest (campaigns.abtests).
    "abtest-sweep": {"task": "campaigns.tasks.abtest_sweep", "schedule": 60.0},
    # Generic-provider broadcasts whose sending worker died are taken over (campaigns.dispatch).
    "dispatch-sweep": {"task": "campaigns.tasks.dispatch_sweep", "schedule": 60.0},
    "retry-sweep": {"task": "campaigns.tasks.retry_sweep", "schedule": 60.0},
    "refresh-broadcasts": {"task": "campaigns.tasks.refresh_broadcasts",
                           "schedule": env_number("int", "BROADCAST_REFRESH_INTERVAL", 120)},
    "refresh-link-conversions": {"task": "campaigns.tasks.refresh_link_conversions",
                                 "schedule": env_number("int", "LINK_CONVERSION_INTERVAL", 3600)},
    "discard-stale-uploads": {"task": "recipients.tasks.discard_stale_uploads", "schedule": 3600.0},
    # Outbound webhooks: the safety net behind the kick each emit queues, and retries coming due.
    "deliver-webhooks": {"task": "messaging.tasks.deliver_webhooks", "schedule": 10.0},
    "expire-webhooks": {"task": "messaging.tasks.expire_webhooks", "schedule": 3600.0},
    "prune-idempotency-keys": {"task": "campaigns.tasks.prune_idempotency_keys", "schedule": 3600.0},
}

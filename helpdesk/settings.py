"""Settings, read from the environment alone.

Every variable read here is listed, with what it does, in `.env.example`. A `.env` file
beside manage.py is read when present; real environment variables win over it.
"""

from __future__ import annotations

import ipaddress
import re
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
TESTING = "pytest" in sys.modules or env.bool("TESTING", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if DEBUG or TESTING:
        SECRET_KEY = "insecure-development-key-never-use-in-production-0123456789"  # noqa: S105  # nosec B105 (used only with DEBUG or under the tests; production refuses to start without SECRET_KEY)
    else:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY to a long random string "
            "(python -c 'import secrets; print(secrets.token_urlsafe(50))'), "
            "or set DEBUG=true for local development."
        )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
SITE_URL = env.str("SITE_URL", default="http://localhost:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[SITE_URL])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "crispy_forms",
    "crispy_bootstrap5",
    "csp",
    "accounts",
    "tickets",
    "sla",
    "notifications",
    "inbound",
    "api",
    "adminpanel",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "helpdesk.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "helpdesk.urls"
WSGI_APPLICATION = "helpdesk.wsgi.application"
AUTH_USER_MODEL = "accounts.User"

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
                "helpdesk.context_processors.site",
            ],
        },
    },
]

# Database: DATABASE_URL (postgres://user:pass@host:5432/name), else a SQLite file in var/.
VAR_DIR.mkdir(exist_ok=True)
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'helpdesk.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the worker and beat write to one file at once: WAL lets readers go on
    # while one writer works, IMMEDIATE takes the write lock at BEGIN (no upgrade deadlock),
    # and the timeout makes a writer wait for the lock instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql"):
        _session = []
        # PostgreSQL compiles any query it estimates as costly (the queue counts and the
        # dashboard over a large desk) to machine code first, which takes 50-150 ms, more than
        # running it: off for the help desk's short queries (DATABASE_JIT=true turns it back on).
        if not env.bool("DATABASE_JIT", default=False):
            _session.append("-c jit=off")
        # A full-text search for a common word matches hundreds of thousands of thread entries:
        # with the default 4 MB their bitmap goes lossy and every entry of the pages it names is
        # parsed again (minutes on a million tickets); 32 MB keeps it exact.
        _session.append(f"-c work_mem={env.str('DATABASE_WORK_MEM', default='32MB')}")
        _options = DATABASES["default"].setdefault("OPTIONS", {})
        _options["options"] = " ".join([_options.get("options", ""), *_session]).strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: broker, cache and rate-limit counters. Unset: a file-system broker and cache in var/.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

CELERY_BROKER_URL = REDIS_URL or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if not REDIS_URL:
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # A task not acknowledged within this time is handed to another worker.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# When the broker goes away, tasks still running are cancelled rather than acknowledged on a
# dead connection (which stopped the worker): their rows stay in the outbox for the resender.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Eager (no worker) only in unit tests; the integration tests start a real worker.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=TESTING)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# Outgoing mail: EMAIL_URL, else .eml files written to var/mail/.
#   smtp://user:pass@host:25        plain SMTP (add ?starttls=1 to upgrade with STARTTLS)
#   smtp+tls://user:pass@host:587   STARTTLS
#   smtps://user:pass@host:465      implicit TLS
EMAIL_URL = env.str("EMAIL_URL", default="")
if EMAIL_URL:
    _email = urlsplit(EMAIL_URL)
    if _email.scheme not in ("smtp", "smtps", "smtp+tls"):
        raise ImproperlyConfigured(f"EMAIL_URL: unknown scheme {_email.scheme!r}; use smtp, smtp+tls or smtps.")
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _email.hostname or "localhost"
    EMAIL_PORT = _email.port or {"smtp": 25, "smtp+tls": 587, "smtps": 465}[_email.scheme]
    EMAIL_HOST_USER = unquote(_email.username or "")
    EMAIL_HOST_PASSWORD = unquote(_email.password or "")
    EMAIL_USE_SSL = _email.scheme == "smtps"
    EMAIL_USE_TLS = _email.scheme == "smtp+tls" or "starttls=1" in _email.query
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Help Desk <helpdesk@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The outbox: a row "sending" this long (its worker died mid-send) is tried again; a pending
# row due this long (its task was lost) is enqueued again by the resender.
NOTIFICATION_STUCK_SECONDS = env.int("NOTIFICATION_STUCK_SECONDS", default=600)
NOTIFICATION_RESEND_GRACE_SECONDS = env.int("NOTIFICATION_RESEND_GRACE_SECONDS", default=60)

# Seconds between SLA sweeps (beat): a breach is found, marked and alerted within this time.
SLA_SWEEP_SECONDS = env.int("SLA_SWEEP_SECONDS", default=60)
if SLA_SWEEP_SECONDS < 1:
    raise ImproperlyConfigured(f"SLA_SWEEP_SECONDS={SLA_SWEEP_SECONDS}: give a number of seconds, at least 1.")

# Incoming mail: IMAP mailboxes are fetched every INBOUND_POLL_SECONDS, at most
# INBOUND_FETCH_MAX messages per mailbox per run; admins are alerted after
# MAILBOX_ALERT_AFTER failed fetches in a row. An agent's emailed reply that starts with
# INBOUND_NOTE_PREFIX becomes an internal note instead of a response.
INBOUND_POLL_SECONDS = env.int("INBOUND_POLL_SECONDS", default=60)
INBOUND_FETCH_MAX = env.int("INBOUND_FETCH_MAX", default=500)
INBOUND_MAX_BYTES = env.int("INBOUND_MAX_BYTES", default=40 * 1024 * 1024)
INBOUND_NOTE_PREFIX = env.str("INBOUND_NOTE_PREFIX", default="#note")
MAILBOX_ALERT_AFTER = env.int("MAILBOX_ALERT_AFTER", default=5)
# A fetch holds its mailbox this long (renewed as it goes); a fetcher that died frees it then.
INBOUND_LEASE_SECONDS = env.int("INBOUND_LEASE_SECONDS", default=300)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "portal:login"
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3600)

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Attachments are never served from MEDIA_URL: a view checks access first.
MEDIA_URL = "/media-not-served/"
WHITENOISE_USE_FINDERS = DEBUG or TESTING
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not (DEBUG or TESTING)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Uploads: the size of one file and the allowed kinds, checked by content.
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
ATTACHMENT_MAX_FILES = env.int("ATTACHMENT_MAX_FILES", default=5)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=30 * 1024 * 1024)
# A file over ATTACHMENT_MAX_BYTES is dropped as it arrives (the first handler), never kept whole.
FILE_UPLOAD_HANDLERS = [
    "tickets.uploads.AttachmentSizeLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# Help-desk behaviour.
TICKET_NUMBER_DIGITS = env.int("TICKET_NUMBER_DIGITS", default=8)
TICKET_REOPEN_DAYS = env.int("TICKET_REOPEN_DAYS", default=14)
TICKET_AUTOCLOSE_DAYS = env.int("TICKET_AUTOCLOSE_DAYS", default=7)
TICKET_LINK_DAYS = env.int("TICKET_LINK_DAYS", default=30)
SLA_REOPEN_KEEPS_ELAPSED = env.bool("SLA_REOPEN_KEEPS_ELAPSED", default=True)
# Seconds an agent's reply lock lasts unless renewed (the reply box renews it while they type).
TICKET_LOCK_SECONDS = env.int("TICKET_LOCK_SECONDS", default=180)

# Portal accounts: seconds a registration (address verification) link stays valid.
REGISTRATION_TIMEOUT = env.int("REGISTRATION_TIMEOUT", default=int(timedelta(days=2).total_seconds()))

# Throttles, per address and per client IP: "count/period", the period in s, m, h or d, with an
# optional multiplier ("10/15m" is ten per fifteen minutes). Counters live in the cache (Redis).
THROTTLE_RATE = re.compile(r"^\d+/\d*[smhd]$")
THROTTLES = {
    name: env.str(f"THROTTLE_{name.upper()}", default=default)
    for name, default in [
        ("tickets_per_address", "10/h"),
        ("tickets_per_ip", "60/h"),
        ("links_per_address", "5/h"),
        ("links_per_ip", "30/h"),
        ("logins_per_address", "10/15m"),
        ("logins_per_ip", "100/15m"),
    ]
}
for _name, _rate in THROTTLES.items():
    if not THROTTLE_RATE.match(_rate):
        raise ImproperlyConfigured(f"THROTTLE_{_name.upper()}={_rate!r}: write count/period, e.g. 10/h or 5/15m.")

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# The REST API (/api/v1/). Throttle rates are "<number>/<second|minute|hour|day>"; an empty
# value turns that throttle off.
API_THROTTLE_ANON = env.str("API_THROTTLE_ANON", default="60/minute")
API_THROTTLE_USER = env.str("API_THROTTLE_USER", default="1200/minute")
API_THROTTLE_LOGIN = env.str("API_THROTTLE_LOGIN", default="10/minute")
API_PAGE_SIZE_MAX = env.int("API_PAGE_SIZE_MAX", default=200)
REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header makes an anonymous call a 401, not a 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "api.schema.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Pagination",
    "DEFAULT_THROTTLE_CLASSES": ["api.throttles.AnonThrottle", "api.throttles.UserThrottle"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Help Desk API",
    "DESCRIPTION": (
        "Tickets, threads, and the help desk's configuration. Sign in with `POST /api/v1/auth/token/` "
        "and send `Authorization: Token <token>`. Errors: 400 `{field: [messages]}`, 401, 403, 404 for "
        "anything you may not see, 409 for a change the ticket's state refuses or a stale edit, 429 "
        "with `Retry-After`."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "TicketStateEnum": "tickets.models.TicketState",
        "TicketSourceEnum": "tickets.models.TicketSource",
        "WebhookEventEnum": "api.models.WebhookEvent",
        "DeliveryStateEnum": "api.models.DeliveryState",
    },
}

# The osTicket-compatible intake (/api/tickets.json, .xml, .email) and API keys.
# Proxies whose X-Forwarded-For is believed (IPs or CIDR ranges, comma-separated); the
# address an API key is checked against is the first one, from the right, that is not one of them.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {_proxy!r} is not an IP address or a CIDR range.") from None
# Tickets one API key may open, e.g. "3000/minute"; empty: no limit.
API_INTAKE_THROTTLE = env.str("API_INTAKE_THROTTLE", default="3000/minute")

# Webhooks: seconds to wait on an endpoint, and tries before a delivery is marked failed.
WEBHOOK_TIMEOUT = env.int("WEBHOOK_TIMEOUT", default=10)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)

# Security. With DEBUG off these make `manage.py check --deploy` clean; each can be
# relaxed through the environment (for example behind a proxy that terminates TLS).
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("TRUST_X_FORWARDED_PROTO", default=False) else None
)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not (DEBUG or TESTING))
# Load balancers and compose probe the health check over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
# Sessions are read from the cache (Redis in production) and written through to the database.
SESSION_ENGINE = "helpdesk.sessions"
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=int(timedelta(hours=12).total_seconds()))
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

if TESTING:
    # Each test starts with empty counters (rate limits) whatever REDIS_URL says, and
    # passwords hash fast.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

"""CareMonth settings: one module, driven by environment variables (see README, Configuration).

Safe development defaults; production (DEBUG=0 with DATABASE_URL) must set SECRET_KEY.
"""

import logging
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = BASE_DIR / ".data"

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
DATABASE_URL = env.str("DATABASE_URL", default="")
REDIS_URL = env.str("REDIS_URL", default="")


def _dev_secret_key() -> str:
    """A random key per checkout, kept in .data/ so sessions survive restarts."""
    DATA_DIR.mkdir(exist_ok=True)
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG and DATABASE_URL and not env.bool("CAREMONTH_DEV_SECRET", default=False):
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG=0 and DATABASE_URL is set.")
    SECRET_KEY = _dev_secret_key()

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "axes",
    "csp",
    "django_htmx",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "phonenumber_field",
    "django_prometheus",  # /metrics: request latency by view, query counts (ccm/metrics.py)
    "django_structlog",  # structured request logs (ccm/logging_config.py)
    "ccm",
    "patients",
    "timelog",
    "careplans",
    "billing",
]

MIDDLEWARE = [
    # First and last: a request's latency by view includes every middleware (ccm/metrics.py).
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Right after WhiteNoise: every response of the app, from any middleware or view.
    "ccm.middleware.NoStoreMiddleware",
    "ccm.middleware.RequestContextMiddleware",
    # After RequestContextMiddleware: its request id is the logs' request_id.
    "django_structlog.middlewares.RequestMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "ccm.middleware.JobsUnavailableMiddleware",  # after messages: it adds one
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "ccm.tenancy.TenantMiddleware",
    "ccm.logging_context.LogContextMiddleware",  # practice_id, user_id on the request's logs
    # After TenantMiddleware: both need the resolved practice (its timeout, its MFA rule).
    "ccm.middleware.InactivityTimeoutMiddleware",
    "ccm.middleware.MfaRequiredMiddleware",
    # AxesMiddleware last: it turns a lockout flagged during authentication into its response.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "ccm.urls"
WSGI_APPLICATION = "ccm.wsgi.application"

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
                "ccm.context_processors.practice",
                "timelog.context_processors.running_timer",
            ],
            "builtins": ["ccm.templatetags.ccm_format"],  # {{ amount|money }} on every page
        },
    },
]

# --- Database: one engine everywhere (PostgreSQL); no SQLite. ---------------------------------
# DATABASE_URL is the role this process connects as. `migrate` and `db_roles` run as the
# tables' owner; web, worker and beat as the runtime role, which may only INSERT and SELECT
# audit rows (README, "Database roles"). RUNTIME_DATABASE_URL names that role and its
# password for `manage.py db_roles`; only the owner's one-off commands need it.
RUNTIME_DATABASE_URL = env.str("RUNTIME_DATABASE_URL", default="postgres://caremonth_app@/")
if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    from ccm import devdb

    DATABASES = {"default": devdb.django_database()}
# No JIT: it compiles the worklist's query (costed high for its per-row subqueries) in
# ~100 ms on every run, longer than running it; short OLTP queries never gain from it.
DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"

# --- Connection pooler: PgBouncer in transaction mode (docs/pooling.md) -----------------------
# DATABASE_POOLER=transaction when DATABASE_URL points at PgBouncer with pool_mode=transaction
# (docker-compose.yml's web, worker and beat; CI's `make test-pgbouncer`). Each transaction may
# run on another server connection, so nothing may outlive a transaction: no server-side
# cursors (`.iterator()` outside a transaction opens a WITH HOLD cursor), no prepared
# statements (Django 5.2 passes prepare_threshold=None by default; pinned here), and no
# startup `options`: PgBouncer 1.18 refuses the connection, and ignoring them would lose
# jit=off silently, so PgBouncer's connect_query sets it on every server connection
# (ops/pgbouncer/pgbouncer.ini, .ci/pgbouncer.ini). The time zone Django SETs on connecting is
# a parameter PgBouncer tracks and restores per client. CONN_MAX_AGE stays: a kept connection
# to PgBouncer holds no server connection between transactions and saves a login per request.
DATABASE_POOLER = env.str("DATABASE_POOLER", default="")
if DATABASE_POOLER not in ("", "transaction"):
    raise ImproperlyConfigured("DATABASE_POOLER must be unset or 'transaction'.")
if DATABASE_POOLER:
    if not DATABASE_URL:
        raise ImproperlyConfigured("DATABASE_POOLER=transaction needs DATABASE_URL (PgBouncer).")
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    DATABASES["default"]["OPTIONS"].pop("options", None)
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = None
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (allauth rate limits, MFA code reuse, care plan re-authentication limit) -----------
# In PostgreSQL, never in Redis: sign-in and pages must not depend on the broker (a frozen
# Redis held every sign-in for 7 s, then failed), and the limits hold across processes. The
# table is created by a migration (ccm 0006_database_cache_table).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "ccm_cache",
        "OPTIONS": {"MAX_ENTRIES": 100_000},
    }
}

# --- Auth: email login through allauth, MFA, lockout ---------------------------------------
AUTH_USER_MODEL = "ccm.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out user+IP pairs
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "start"  # coordinators land on the worklist
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_ADAPTER = "ccm.adapters.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[CareMonth] "
# django-axes is the one login lockout (5 failures per user+IP); allauth's own counter is off
# so the two do not give different messages.
ACCOUNT_RATE_LIMITS = {"login_failed": False}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "CareMonth"
MFA_ADAPTER = "allauth.mfa.adapter.DefaultMFAAdapter"
# The set-up page shows the same secret until enrolment succeeds (see the form's docstring).
MFA_FORMS = {"activate_totp": "ccm.forms.ActivateTotpForm"}

AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_CALLABLE = "ccm.adapters.axes_username"
AXES_LOCKOUT_TEMPLATE = "account/lockout.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

# --- Sessions: server-side inactivity timeout per practice (ccm.middleware) ------------------
SESSION_ENGINE = "ccm.sessions"  # Django's database sessions, read by one precompiled statement
SESSION_COOKIE_AGE = 12 * 60 * 60  # hard cap; the practice's inactivity timeout is shorter
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the meta tag, not the cookie
DEFAULT_INACTIVITY_TIMEOUT_MINUTES = 15
INACTIVITY_WARNING_SECONDS = 120

# --- Security headers (production: DEBUG=0) ----------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SILENCED_SYSTEM_CHECKS: list[str] = []
if not DEBUG:
    # http is redirected to https (except the health check, which probes over plain http).
    # SECURE_SSL_REDIRECT=0 is the opt-out for a TLS-terminating proxy that already redirects:
    # saying so is the operator's answer to the deploy check's W008.
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    if not SECURE_SSL_REDIRECT:
        SILENCED_SYSTEM_CHECKS.append("security.W008")
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Strict CSP: no inline script or style without the request's nonce, nothing from other hosts.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG and env.bool("STATIC_MANIFEST", default=False)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True
# Answered at the site root by WhiteNoise, before sessions, sign-in or the MFA check: the
# browser's own /favicon.ico request never reaches the app (it used to be redirected to the
# MFA set-up page).
WHITENOISE_ROOT = BASE_DIR / "static" / "root"

# --- Uploaded files (signed consent forms): private, never served as static or media ---------
# Served only through audited, tenant-checked views (patients.views.consent_form).
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(DATA_DIR / "media"))
STORAGES["default"] = {
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": "/no-public-url/"},
}
CONSENT_FORM_MAX_BYTES = 5 * 1024 * 1024
PATIENT_IMPORT_MAX_BYTES = 10 * 1024 * 1024
PHONENUMBER_DEFAULT_REGION = "US"

# --- Email -----------------------------------------------------------------------------------
# Production (DEBUG=0) needs EMAIL_URL: without it every process refuses to start (system
# check ccm.E001, ccm/checks.py), and if started anyway mail is dropped, never printed: the
# links in invitations and password resets sign people in. Printing is for DEBUG=1 only.
EMAIL_URL = env.str("EMAIL_URL", default="")
if EMAIL_URL:
    vars().update(env.email_url("EMAIL_URL"))
elif DEBUG:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
else:
    EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="CareMonth <noreply@caremonth.local>")

# --- Time: stored in UTC; shown in the practice's zone -------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
# The UI stays English; patient-facing documents (consent script, the patient's copy of the
# care plan, after-contact summaries) render in the patient's language
# (patients/language.py) from the committed catalogues in locale/.
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_TZ = True

# --- REST API --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "ccm.api_auth.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["ccm.api_auth.HasPracticeRole"],
    "DEFAULT_PAGINATION_CLASS": "ccm.api_auth.Pagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "ccm.api_auth.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # The API speaks JSON (contract §4), with nesting bounded (a deep body is a 400, not a
    # 500); other bodies are a 415. The schema then offers only JSON bodies.
    "DEFAULT_PARSER_CLASSES": ["ccm.parsers.BoundedJSONParser"],
    # The API reads JSON only; test clients (APIClient) send JSON unless told otherwise.
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CareMonth API",
    "DESCRIPTION": "Chronic Care Management practice API. Bearer tokens belong to one "
    "membership and fix the user, practice and role. Objects of another practice answer 404.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"RoleEnum": "ccm.models.Role.choices"},
}

# --- Celery ------------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
# Without REDIS_URL tasks run in-process; with it they go to the broker (`make worker`).
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SOFT_TIME_LIMIT = 15 * 60
CELERY_TASK_TIME_LIMIT = 20 * 60
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_RESULT_EXPIRES = 24 * 60 * 60
# Tasks keep their outcome in the database (idempotent month-end work), so results are off by
# default; a task that must return a value (ccm.tasks.ping) opts in.
CELERY_TASK_IGNORE_RESULT = True
# A frozen or missing Redis must not hold a request: a publish is ONE attempt with a 1 s socket
# timeout (frozen Redis: about 1 s, then ccm.jobs keeps the job in its outbox; Redis down: at
# once). A retry would only wait another timeout on a frozen server (2 s with one retry took 6 s
# on a warm pool); redis-py itself still reconnects a pooled connection a Redis restart closed.
# Measured with a SIGSTOPped redis-server: tests/ccm/test_redis_outage.py, bench/broker_timeout.py.
# The worker reads BRPOP replies in its event loop, where socket_timeout does not apply.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_timeout": 1,
    "socket_connect_timeout": 1,
    "max_retries": 1,
    "visibility_timeout": 60 * 60,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 0,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 0.5,
}
# The result backend (only tasks that opt in, e.g. ccm.tasks.ping) likewise: 1 s, no retry
# (frozen: at most 2 s; with 2 s and one retry it took 6 s).
CELERY_REDIS_SOCKET_TIMEOUT = 1
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = 1
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {
    "retry_policy": {
        "max_retries": 0,
        "interval_start": 0,
        "interval_step": 0.5,
        "interval_max": 0.5,
    }
}
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# The whole periodic schedule lives in ccm/celery.py (BEAT_SCHEDULE).
# Deployments (and the real-worker tests) sharing one Redis can each use their own queue.
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_DEFAULT_QUEUE", default="celery")

# --- Month close recovery (docs/architecture.md, "The month close") ---------------------------
# A running close whose heartbeat is older than this is stalled: its worker died. The beat job
# month-close-resume (every 30 s) re-queues it. 60 s is 20 times a batch of 500 (about 3 s)
# and 7 times the slowest step (the candidates of 10,000 patients, 9 s), both measured by
# bench/month_close.py on 2 cores at load average 13. Shorter resumes sooner; too short only
# queues a redundant job (a no-op: batches skip what another worker did).
MONTH_CLOSE_STALE_AFTER = timedelta(seconds=env.int("MONTH_CLOSE_STALE_AFTER", default=60))
# Patients per month-close batch (one transaction under the close's row, shared, issue 18); a
# batch of 2000 takes seconds (bench/month_close.py), far under MONTH_CLOSE_STALE_AFTER.
MONTH_CLOSE_BATCH = env.int("MONTH_CLOSE_BATCH", default=2000)
# Threads a month close runs its batches in, each on its own connection (billing.close.services
# ._run_parts): one thread's PostgreSQL work overlaps another's Python. 2 suits the 2-core
# machine bench/month_close.py measures; 1 closes in one thread.
MONTH_CLOSE_WORKERS = env.int("MONTH_CLOSE_WORKERS", default=2)
if MONTH_CLOSE_STALE_AFTER.total_seconds() < 5:
    raise ImproperlyConfigured("MONTH_CLOSE_STALE_AFTER must be at least 5 (seconds).")

# --- Backups (ccm/backup.py, docs/operations.md) ----------------------------------------------
# One directory per backup under BACKUP_DIR (a volume off the database host in production).
BACKUP_DIR = env.path("BACKUP_DIR", default=str(DATA_DIR / "backups"))
# Kept after each backup: the newest of each of the last N days and of the last M ISO weeks
# (UTC) that have one; the newest backup is never deleted.
BACKUP_KEEP_DAILY = env.int("BACKUP_KEEP_DAILY", default=7)
BACKUP_KEEP_WEEKLY = env.int("BACKUP_KEEP_WEEKLY", default=5)
# A direct connection (not through PgBouncer) to the same database, for pg_dump/pg_restore;
# unset: DATABASE_URL (or the embedded server).
BACKUP_DATABASE_URL = env.str("BACKUP_DATABASE_URL", default="")
# Folder of pg_dump/pg_restore; unset: the embedded wheel's, /usr/lib/postgresql/*/bin, PATH.
BACKUP_PG_BIN = env.str("BACKUP_PG_BIN", default="")
# age encryption at rest: public key(s), comma-separated, on the server that backs up; the
# secret key (identity) only where a backup is restored. Without it a backup cannot be read.
BACKUP_AGE_RECIPIENT = env.str("BACKUP_AGE_RECIPIENT", default="")
BACKUP_AGE_IDENTITY = env.str("BACKUP_AGE_IDENTITY", default="")
if BACKUP_KEEP_DAILY < 0 or BACKUP_KEEP_WEEKLY < 0:
    raise ImproperlyConfigured("BACKUP_KEEP_DAILY and BACKUP_KEEP_WEEKLY must be 0 or more.")

# --- Logging: no PHI, no secrets; request ids only -----------------------------------------
# One JSON object per line in production (LOG_JSON, default: DEBUG=0), readable lines with
# DEBUG=1; every line carries its request's request_id, view, practice_id and user_id (UUIDs)
# or its task's task_id and task (ccm/logging_config.py, ccm/logging_context.py). Logged URLs
# lose their query string (searches carry names and MRNs) and reset keys: every record passes
# ccm.log_filters.RedactUrls on the one handler, and each structured line's values
# ccm.log_filters.redact_event. gunicorn's access log (ccm/gunicorn_conf.py) uses the same
# filter; Celery keeps this configuration (ccm/celery.py, setup_logging).
from ccm.logging_config import build_logging, configure_structlog  # noqa: E402

LOGGING = build_logging(
    json=env.bool("LOG_JSON", default=not DEBUG), level=env.str("LOG_LEVEL", default="INFO")
)
configure_structlog()
# django-structlog: no IP and no user agent on request lines (ccm/logging_context.py); the
# user is logged by id only (User.pk, a UUID), never by email; Celery's publish side adds the
# request's context to the task message (ccm/celery.py binds the task's own).
DJANGO_STRUCTLOG_IP_LOGGING_ENABLED = False
DJANGO_STRUCTLOG_USER_ID_FIELD = "pk"
DJANGO_STRUCTLOG_CELERY_ENABLED = True
DJANGO_STRUCTLOG_STATUS_START_LOG_LEVEL = logging.DEBUG  # request_finished carries it all

# --- Metrics (/metrics, docs/observability.md) --------------------------------------------
# Served only when METRICS_TOKEN is set, to `Authorization: Bearer <METRICS_TOKEN>`; anything
# else gets a 404. With several processes (gunicorn workers, Celery) PROMETHEUS_MULTIPROC_DIR
# names a directory they all share (ccm/metrics.py).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
if METRICS_TOKEN and len(METRICS_TOKEN) < 20:
    raise ImproperlyConfigured("METRICS_TOKEN must be at least 20 characters.")
PROMETHEUS_EXPORT_MIGRATIONS = False
if not DEBUG:
    SECURE_REDIRECT_EXEMPT += [r"^readyz$", r"^metrics$"]  # probed over plain http, as healthz

# Absolute links in emails (invitations, password resets).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

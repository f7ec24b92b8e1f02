"""Groundwork settings: every value comes from the environment (the contract is in README.md).

Without any variables set, the platform runs on embedded defaults that need no server:
SQLite under var/, files under var/media, Celery on kombu's filesystem transport.
"""

import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_str
from core.storage_layout import bucket_layout

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("GROUNDWORK_VAR_DIR", str(BASE_DIR / "var")))


def _warn(message: str) -> None:
    print(f"groundwork: warning: {message}", file=sys.stderr)


# --- core -------------------------------------------------------------------------------------------

DEBUG = env_bool("DEBUG", True)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    # A fixed development key: fine for a laptop, never for a server (DEBUG off refuses it above).
    SECRET_KEY = "groundwork-insecure-development-key-do-not-use-in-production"
    _warn("SECRET_KEY is not set; using the development key (set SECRET_KEY and DEBUG=false in production).")

# Encrypts stored storage-connection secrets; defaults to SECRET_KEY (set it to rotate SECRET_KEY freely).
CREDENTIALS_KEY = env_str("CREDENTIALS_KEY") or ""

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
if env_bool("SECURE_PROXY_SSL", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # Only behind TLS: a browser that saw the header keeps to HTTPS for this long (a year by default). Subdomains
    # are left out unless told, since they may be other people's servers that do not speak HTTPS.
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)

INSTALLED_APPS = [
    "core.apps.GroundworkAdminConfig",  # django.contrib.admin, its sign-in throttled (core.admin_site)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "core",
    "projects",
    "datasets",
    "importers",
    "labeling",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.csp.ContentSecurityPolicyMiddleware",
    "core.request_checks.RefuseControlCharactersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Every page: resources from this origin only, no inline script or style, no plugins, no framing; images also
# from S3 (core.csp adds the endpoint's origin). The API docs page widens img-src for Swagger UI's icons.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- database ---------------------------------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
# Health checks: a kept connection that died (the server restarted) is replaced before a request uses it.
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60), conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # The web server and the worker write to the same file: WAL lets readers run beside a writer,
    # IMMEDIATE transactions take the write lock up front instead of failing on upgrade.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache (login throttling) ----------------------------------------------------------------------

CACHE_URL = env_str("CACHE_URL")
if CACHE_URL and CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
elif CACHE_URL and CACHE_URL != "file":
    raise ImproperlyConfigured(f"CACHE_URL must be a redis:// URL, got {CACHE_URL!r}")
else:
    # Shared by the web server's processes and the worker on one machine.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- auth -------------------------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# An API token unused this long expires (sliding: every use extends it; see core.tokens).
API_TOKEN_LIFETIME_DAYS = env_int("API_TOKEN_LIFETIME_DAYS", 30)
if not 1 <= API_TOKEN_LIFETIME_DAYS <= 3650:
    raise ImproperlyConfigured("API_TOKEN_LIFETIME_DAYS must be between 1 and 3650.")
LOGIN_URL = "frontend:login"
LOGIN_REDIRECT_URL = "frontend:home"
LOGOUT_REDIRECT_URL = "frontend:login"

# --- i18n, static, media ----------------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))

STORAGE_BACKEND = env_str("STORAGE_BACKEND", "local")
AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
AWS_S3_ENDPOINT_URL = env_str("AWS_S3_ENDPOINT_URL") or None
AWS_DEFAULT_REGION = env_str("AWS_DEFAULT_REGION", "us-east-1")
AWS_S3_REGION_NAME = AWS_DEFAULT_REGION
# django-storages and boto3 read AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from the environment themselves;
# they are never copied into settings so that they cannot end up in an error page.
AWS_DEFAULT_ACL = None
AWS_QUERYSTRING_AUTH = True
AWS_QUERYSTRING_EXPIRE = env_int("AWS_QUERYSTRING_EXPIRE", 300)

# The platform's files in the server's bucket lie under this folder (django-storages' setting; "" = the root).
AWS_LOCATION = env_str("AWS_LOCATION", "")
# The server's bucket is the platform's storage, not a shared drop box: a project reads it only under its own
# drop folder (<SERVER_BUCKET_PROJECT_PREFIX><project id>/) and the operator's shared read-only prefixes.
SERVER_BUCKET_PROJECT_PREFIX = env_str("SERVER_BUCKET_PROJECT_PREFIX", "projects/")
SERVER_BUCKET_SHARED_PREFIXES = env_list("SERVER_BUCKET_SHARED_PREFIXES", [])
try:
    bucket_layout(
        location=AWS_LOCATION, project_prefix=SERVER_BUCKET_PROJECT_PREFIX, shared=SERVER_BUCKET_SHARED_PREFIXES
    )
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from None

if STORAGE_BACKEND == "local":
    _default_storage = {"BACKEND": "core.storage.LocalStorage"}
elif STORAGE_BACKEND == "s3":
    if not AWS_STORAGE_BUCKET_NAME:
        raise ImproperlyConfigured("STORAGE_BACKEND=s3 needs AWS_STORAGE_BUCKET_NAME.")
    _default_storage = {"BACKEND": "storages.backends.s3.S3Storage"}
else:
    raise ImproperlyConfigured(f"STORAGE_BACKEND must be 'local' or 's3', got {STORAGE_BACKEND!r}")
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- REST API ---------------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: an anonymous API call then answers 401 with `WWW-Authenticate: Token`.
        "core.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.LimitedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "core.schema.GroundworkAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "core.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "core.exception_handler.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        # Password guessing: per client address and per attacked username.
        "login": env_str("LOGIN_THROTTLE_RATE", "20/min"),
        "login_username": env_str("LOGIN_USERNAME_THROTTLE_RATE", "10/min"),
    },
    "NUM_PROXIES": env_int("NUM_PROXIES", 0),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Groundwork API",
    "DESCRIPTION": "Projects, datasets, imports and labeling jobs of a Groundwork server.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "DatasetStatusEnum": "datasets.models.DatasetStatus",
        "ImportStatusEnum": "importers.models.ImportStatus",
    },
}

# --- Celery -----------------------------------------------------------------------------------------

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or "filesystem://"
BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's filesystem transport: a real broker in a folder, so the embedded default needs no server.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
    }
    _default_result_backend = f"file://{VAR_DIR / 'celery-results'}"
    for _folder in (BROKER_DIR / "queue", BROKER_DIR / "control", VAR_DIR / "celery-results"):
        _folder.mkdir(parents=True, exist_ok=True)  # the transport does not create parents itself
else:
    # Redis redelivers an unacknowledged task (a killed worker's) after this many seconds.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
    _default_result_backend = CELERY_BROKER_URL
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND") or _default_result_backend
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "groundwork")
CELERY_TASK_ALWAYS_EAGER = False
# A running import's worker writes a heartbeat every IMPORT_HEARTBEAT_SECONDS, in every phase, from a thread of
# its own (importers.jobs.job_heartbeat). An import whose heartbeat is older than IMPORT_STALL_SECONDS (several
# heartbeats: its worker is dead) is enqueued again by beat's sweep, every IMPORT_STALL_SWEEP_SECONDS (see
# importers.services.imports_requeue_stalled). Production: 30 s, 300 s, 60 s. The fault tests use ~1 s and ~3 s.
IMPORT_HEARTBEAT_SECONDS = env_int("IMPORT_HEARTBEAT_SECONDS", 30)
IMPORT_STALL_SECONDS = env_int("IMPORT_STALL_SECONDS", 300)
IMPORT_STALL_SWEEP_SECONDS = env_int("IMPORT_STALL_SWEEP_SECONDS", 60)
if IMPORT_HEARTBEAT_SECONDS < 1 or IMPORT_STALL_SECONDS < 3 * IMPORT_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured("IMPORT_STALL_SECONDS must be at least 3 heartbeats (IMPORT_HEARTBEAT_SECONDS >= 1).")
# Lines of a manifest, and keys of an S3 folder listing (S3 gives at most 1,000), written per transaction with
# their checkpoint; tests use small batches.
IMPORT_BATCH_LINES = env_int("IMPORT_BATCH_LINES", 10_000)
IMPORT_LIST_PAGE_SIZE = env_int("IMPORT_LIST_PAGE_SIZE", 1000)
if IMPORT_BATCH_LINES < 1 or not 1 <= IMPORT_LIST_PAGE_SIZE <= 1000:
    raise ImproperlyConfigured("IMPORT_BATCH_LINES must be at least 1, IMPORT_LIST_PAGE_SIZE 1 to 1000.")
# An import that finds S3 out of reach (after botocore's retries) runs again this many times, after 10 s,
# 20 s, 40 s, ... (doubling, at most 600 s), then fails with `s3_unavailable`.
IMPORT_S3_RETRIES = env_int("IMPORT_S3_RETRIES", 5)
IMPORT_S3_RETRY_BACKOFF_S = env_int("IMPORT_S3_RETRY_BACKOFF_S", 10)
# An import that finds the database out of reach runs again after 5 s, 10 s, ... (at most 60 s), this many
# times, and resumes at its checkpoint once the database is back.
IMPORT_DB_RETRIES = env_int("IMPORT_DB_RETRIES", 60)
IMPORT_DB_RETRY_BACKOFF_S = env_int("IMPORT_DB_RETRY_BACKOFF_S", 5)
# An unexpected error (a bug) ends the run; the job runs once more after this many seconds, and fails with
# `internal_error` (its dataset released) when it stops on the same error twice or on this many errors.
IMPORT_CRASH_RETRY_S = env_int("IMPORT_CRASH_RETRY_S", 5)
IMPORT_MAX_CRASHES = env_int("IMPORT_MAX_CRASHES", 3)
# Ranged GETs in flight at once while an import probes its images (threads of the worker process): each waits
# out S3's time to first byte, so throughput is about this many per round trip until the worker's CPU is busy.
IMPORT_PROBE_CONCURRENCY = env_int("IMPORT_PROBE_CONCURRENCY", 32)
if not 1 <= IMPORT_PROBE_CONCURRENCY <= 256:
    raise ImproperlyConfigured("IMPORT_PROBE_CONCURRENCY must be between 1 and 256.")
# A labeling job's consolidated results are written to the dataset this long after the first of them, in one
# batch (see labeling.services.results): a longer wait makes bigger batches, a shorter one fresher entries.
LABELING_WRITE_BACK_DELAY_S = env_int("LABELING_WRITE_BACK_DELAY_S", 2)
CELERY_BEAT_SCHEDULE = {
    "requeue-stalled-imports": {
        "task": "importers.requeue_stalled_imports",
        "schedule": float(IMPORT_STALL_SWEEP_SECONDS),
    },
    "expire-labeling-leases": {"task": "labeling.expire_leases", "schedule": 30.0},
    "sweep-labeling-write-backs": {"task": "labeling.sweep_write_backs", "schedule": 60.0},
}

# --- logging ----------------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}

# --- datasets ---------------------------------------------------------------------------------------

# The reference service's quotas: 250,000 entries per dataset; classification-only datasets may be raised
# to 500,000 (datasets with boxes may not).
DATASET_MAX_ENTRIES = env_int("DATASET_MAX_ENTRIES", 250_000)
DATASET_MAX_ENTRIES_CLASSIFICATION = env_int("DATASET_MAX_ENTRIES_CLASSIFICATION", DATASET_MAX_ENTRIES)
if not 0 < DATASET_MAX_ENTRIES <= 250_000:
    raise ImproperlyConfigured("DATASET_MAX_ENTRIES must be between 1 and 250000.")
if not DATASET_MAX_ENTRIES <= DATASET_MAX_ENTRIES_CLASSIFICATION <= 500_000:
    raise ImproperlyConfigured("DATASET_MAX_ENTRIES_CLASSIFICATION must be between DATASET_MAX_ENTRIES and 500000.")
# Manifest imports (the reference's limits: 1 GB, 250,000 lines).
MANIFEST_MAX_BYTES = env_int("MANIFEST_MAX_BYTES", 1024**3)
MANIFEST_MAX_LINES = env_int("MANIFEST_MAX_LINES", 250_000)
# UpdateDatasetEntries takes up to 5 MB of JSON Lines (the reference's limit, 5,242,880 bytes).
MAX_NDJSON_BODY_BYTES = env_int("MAX_NDJSON_BODY_BYTES", 5 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_NDJSON_BODY_BYTES + 1024 * 1024

# --- uploads ----------------------------------------------------------------------------------------

# Files go to temporary files as they arrive; one over the image limit (15 MiB) is cut off mid-stream.
FILE_UPLOAD_HANDLERS = ["core.uploads.SizeLimitedUploadHandler"]
UPLOAD_MAX_FILE_BYTES = 15 * 1024 * 1024
# The reference console takes 30 images at a time; we take many per request.
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("UPLOAD_MAX_FILES_PER_REQUEST", 500)

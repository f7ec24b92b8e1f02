"""Settings for the test suite: the environment-driven settings, with fast hashing and isolated folders.

Everything that names a service (DATABASE_URL, CELERY_BROKER_URL, the S3 endpoint) still comes from the
environment, so `.ci/run` points the same suite at PostgreSQL and Redis.
"""

from config.settings import *  # noqa: F403
from config.settings import BROKER_DIR, DATABASES, VAR_DIR

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = VAR_DIR / "test-media"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory: the Celery worker process of the tests opens the same test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}

if CELERY_BROKER_URL.startswith("filesystem://"):  # noqa: F405
    _test_broker = BROKER_DIR.parent / "test-broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_test_broker / "queue"),
        "data_folder_out": str(_test_broker / "queue"),
        "control_folder": str(_test_broker / "control"),
    }
    CELERY_RESULT_BACKEND = f"file://{VAR_DIR / 'test-celery-results'}"
    for _folder in (_test_broker / "queue", _test_broker / "control", VAR_DIR / "test-celery-results"):
        _folder.mkdir(parents=True, exist_ok=True)

STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405 - whitenoise warns about a missing folder

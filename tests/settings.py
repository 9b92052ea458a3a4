"""Test settings: the real settings module with fixed, non-secret test values and fast password hashing.

DATABASE_URL and REDIS_URL come from the environment (CI points them at PostgreSQL and Redis); without
them the suite runs on SQLite with an in-memory broker and the service tests skip (or fail, with
KSEF_REQUIRE_SERVICES=1).
"""

import os
import uuid

os.environ["DJANGO_TESTING"] = "1"
os.environ["DEBUG"] = "0"
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "yDpX8v1G0s5xTKXf3zg1lqWqDkqkNZgmTg2hD9yXhQ4=")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
os.environ.setdefault("KSEF_ENVIRONMENT", "simulator")
os.environ["SECURE_SSL_REDIRECT"] = "0"
os.environ.setdefault("EMAIL_URL", "memorymail://")
# KSeF tokens log in until KSEF_TOKEN_SUNSET (2026-12-31 by default); the suite connects companies by token
# everywhere, so it must not stop working the day after. Tests of the sunset move it themselves.
os.environ.setdefault("KSEF_TOKEN_SUNSET", "2099-12-31")

from ksefportal.settings import *  # noqa: F403
from ksefportal.settings import DATABASES, MIDDLEWARE, REDIS_URL, STORAGES, VAR_DIR

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so that a subprocess (a worker, a server) could share it.
    # One file per test process, so that parallel runs never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}

# Each test run publishes to its own queue so it never feeds a developer's running worker (and the
# worker started by the tests consumes only this run's tasks).
CELERY_TASK_DEFAULT_QUEUE = os.environ.setdefault(
    "CELERY_TASK_DEFAULT_QUEUE", f"test-{uuid.uuid4().hex[:12]}"
)
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600} if REDIS_URL else {}

# Record every exchange with the simulator API so that tests/conftest.py checks it against the spec.
MIDDLEWARE = [*MIDDLEWARE, "tests.contract.ContractRecorderMiddleware"]
# Every page the portal renders in tests is scanned for known secrets (tests/security/leaks.py).
MIDDLEWARE.append("tests.security.leaks.LeakScanMiddleware")

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# A worker started by a test shares the test's cache (tests/conftest.py, ``queued``).
if os.environ.get("KSEF_TEST_CACHE_DIR"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": os.environ["KSEF_TEST_CACHE_DIR"],
        }
    }
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}

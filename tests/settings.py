"""Test settings: the real settings module with fixed, non-secret test values and fast password hashing.

DATABASE_URL and REDIS_URL come from the environment (CI points them at PostgreSQL and Redis); without
them the suite runs on SQLite with an in-memory broker and the service tests skip (or fail, with
KSEF_REQUIRE_SERVICES=1).
"""

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

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

REDIS_LAST_DB = 15  # Redis's default `databases 16`


def _worker_redis_url(url: str, index: int, count: int) -> str:
    """The run's Redis URL with a database of this xdist worker's own: the run's database plus the worker's
    index (gw0, gw1…), or minus it when that would pass Redis's last default database (15: CI's db 15 gives
    15, 14…)."""
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    db = base + index if base + count - 1 <= REDIS_LAST_DB else base - index
    if db < 0:
        raise ValueError(f"REDIS_URL's database {base} leaves no room for {count} xdist workers")
    return urlunsplit(parts._replace(path=f"/{db}"))


# pytest-xdist (`make test` runs the suite in several processes, PYTEST_XDIST_WORKER is gw0, gw1…): each
# worker gets a Redis database and a Celery queue of its own (pytest-django gives it its own test database,
# test_<name>_gw0…). Written back to the environment, so the workers, servers and scripts a test starts
# inherit them; KSEF_TEST_WORKER marks them as done, so such a subprocess does not move them again.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _WORKER and os.environ.get("KSEF_TEST_WORKER") != _WORKER:
    os.environ["KSEF_TEST_WORKER"] = _WORKER
    CELERY_TASK_DEFAULT_QUEUE = os.environ["CELERY_TASK_DEFAULT_QUEUE"] = (
        f"{CELERY_TASK_DEFAULT_QUEUE}-{_WORKER}"
    )
    if REDIS_URL:
        REDIS_URL = os.environ["REDIS_URL"] = _worker_redis_url(
            REDIS_URL, int(_WORKER.removeprefix("gw")), int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
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

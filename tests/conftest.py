"""Shared fixtures: users and companies (alice owns A, bob owns B), service gates, a real Celery worker
subprocess and a Playwright browser on Debian's Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from accounts.models import Company, Membership, Role, User
from tests import contract
from tests.factories import CompanyFactory, MembershipFactory, UserFactory

ROOT = Path(__file__).resolve().parent.parent
REQUIRE_SERVICES = os.environ.get("KSEF_REQUIRE_SERVICES") == "1"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
PASSWORD = "correct-horse-battery-staple"
FILE_CACHE = "django.core.cache.backends.filebased.FileBasedCache"
# Secrets scan of every page and log record of the run (fails the run on a leak); with
# KSEF_REQUIRE_SERVICES=1, a skip of any kind fails the run (tests/skips.py).
pytest_plugins = ["tests.security.leaks", "tests.skips"]


def need(available: bool, reason: str) -> None:
    """Skip a test whose service is missing locally; in CI (KSEF_REQUIRE_SERVICES=1) fail it instead."""
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


def _redis_answers() -> bool:
    if not settings.REDIS_URL:
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def postgres_and_redis() -> None:
    need(connection.vendor == "postgresql", "PostgreSQL is not configured (set DATABASE_URL)")
    need(_redis_answers(), "Redis is not configured or not answering (set REDIS_URL)")


# Tests that wait on real processes (workers, servers, a browser, `make run`), property tests (hypothesis's
# own marker: hundreds of examples) and those marked slow: under pytest-xdist each comes first in its block
# below, so that the workers' last minutes are short tests and they finish together.
SLOW_MARKERS = ("readme", "real_broker", "browser", "hypothesis", "slow")
SLOW_FIXTURES = ("celery_worker_process", "live_server")


def _database_rank(item: pytest.Item) -> int:
    """pytest-django's order, which it has already sorted by: tests in a rolled-back transaction (0), then
    transactional ones (1, they empty the tables afterwards), then those without the database (2)."""
    fixtures = getattr(item, "fixturenames", ())
    marker = item.get_closest_marker("django_db")
    if (marker and (marker.kwargs.get("transaction") or marker.kwargs.get("reset_sequences"))) or any(
        name in fixtures for name in ("transactional_db", "live_server", "django_db_reset_sequences")
    ):
        return 1
    return 0 if marker or "db" in fixtures else 2


def _slow(item: pytest.Item) -> bool:
    fixtures = getattr(item, "fixturenames", ())
    return any(item.get_closest_marker(name) for name in SLOW_MARKERS) or any(
        name in fixtures for name in SLOW_FIXTURES
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):  # every worker collects, and must order, the same way
        items.sort(key=lambda item: (_database_rank(item), not _slow(item)))  # stable: else as collected


@pytest.fixture(autouse=True)
def simulator_keeps_the_contract() -> Iterator[None]:
    """Every simulator exchange a test causes must match open-api-2.9.0.json (see tests/contract.py)."""
    contract.take_records()
    yield
    problems = [line for exchange in contract.take_records() for line in contract.violations(exchange)]
    if problems:
        pytest.fail("simulator broke the API contract:\n" + "\n".join(problems[:20]), pytrace=False)


# --- people and companies -------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Each test starts with an empty cache: markers, locks and counters of one test never reach another."""
    from django.conf import settings
    from django.core.cache import cache

    cache.clear()
    if settings.REDIS_URL:  # the import's per-context request logs (ksef_integration.importing.pacing)
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        keys = [*client.scan_iter(match="ksef:rate-log:*"), *client.scan_iter(match="ksef:rate-block:*")]
        if keys:
            client.delete(*keys)


@dataclass
class Queued:
    """What ``ksef_integration.queue`` (and ``payments.queue``) handed to the broker during a test:
    (task name, args, options)."""

    messages: list[tuple[str, tuple[Any, ...], dict[str, Any]]]

    def args(self, name: str) -> list[tuple[Any, ...]]:
        return [args for task, args, _options in self.messages if task == name]


@pytest.fixture(autouse=True)
def queued(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Queued:
    """What the code under test queues (``ksef_integration.queue``) is recorded instead of published, since no
    worker runs; e-mails (``ksef.notify``) are sent at once, as the worker would. Tests with a real worker
    (marked ``real_broker``, or using ``celery_worker_process``) publish to the real broker, and share one
    cache with their workers as web and worker processes do in production (the queue's markers)."""
    from ksef_integration import queue

    record = Queued(messages=[])
    if request.node.get_closest_marker("real_broker") or "celery_worker_process" in request.fixturenames:
        shared = tmp_path / "shared-cache"
        monkeypatch.setenv("KSEF_TEST_CACHE_DIR", str(shared))  # the workers this test starts read it
        settings_fixture = request.getfixturevalue("settings")
        settings_fixture.CACHES = {"default": {"BACKEND": FILE_CACHE, "LOCATION": str(shared)}}
        return record

    from tests.security import leaks  # here, not at the top: pytest loads it as a plugin first

    def publish(name: str, args: tuple[Any, ...], options: dict[str, Any]) -> None:
        leaks.scan(repr(args), f"the arguments of the task {name}")  # no secret in a task's arguments
        record.messages.append((name, args, options))
        if name == queue.NOTIFY:
            from ksef_integration.notify import notification_send

            company_id, subject, body = args
            notification_send(company_id=company_id, subject=subject, body=body)

    monkeypatch.setattr(queue, "publish", publish)
    from payments import queue as payments_queue

    monkeypatch.setattr(payments_queue, "publish", lambda name, args: publish(name, args, {}))
    from integrations import queue as integrations_queue

    monkeypatch.setattr(integrations_queue, "publish", lambda name, args: publish(name, args, {}))
    return record


@pytest.fixture
def alice(db: Any) -> User:
    return UserFactory.create(email="alice@example.com", full_name="Alicja Nowak")


@pytest.fixture
def bob(db: Any) -> User:
    return UserFactory.create(email="bob@example.com", full_name="Bogdan Kowalski")


@pytest.fixture
def company_a(alice: User) -> Company:
    membership = MembershipFactory.create(
        user=alice, company=CompanyFactory.create(name="Alfa sp. z o.o."), role=Role.OWNER
    )
    return membership.company


@pytest.fixture
def company_b(bob: User) -> Company:
    membership = MembershipFactory.create(
        user=bob, company=CompanyFactory.create(name="Beta S.A."), role=Role.OWNER
    )
    return membership.company


@pytest.fixture
def alice_client(client: Any, alice: User, company_a: Company) -> Any:
    client.force_login(alice)
    return client


def add_member(company: Company, role: str, email: str) -> Membership:
    return MembershipFactory.create(company=company, role=role, user=UserFactory.create(email=email))


# --- a real Celery worker -------------------------------------------------------------------------


def _database_url() -> str:
    db = connection.settings_dict
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


@pytest.fixture
def celery_worker_env() -> dict[str, str]:
    """More environment for the worker subprocess (a test module overrides this fixture, e.g. its mail
    server)."""
    return {}


@pytest.fixture
def celery_worker_process(
    postgres_and_redis: None, transactional_db: Any, tmp_path: Path, celery_worker_env: dict[str, str]
) -> Iterator[dict[str, Any]]:
    """A real ``celery worker`` subprocess on this run's queue, against the test database and Redis."""
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_TASK_DEFAULT_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
        "EMAIL_URL": f"filemail:///{mail_dir}",  # django-environ drops one leading slash
        "PYTHONUNBUFFERED": "1",
        **celery_worker_env,
    }
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "ksefportal", "worker",
                "--loglevel", "INFO", "--concurrency", "1", "--pool", "threads",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "--queues", settings.CELERY_TASK_DEFAULT_QUEUE,
            ],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while b"ready." not in log_path.read_bytes():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "Celery worker did not start:\n" + log_path.read_text(errors="replace")
                    )
                time.sleep(0.2)
            yield {"process": proc, "mail_dir": mail_dir, "log": log_path}
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_until(predicate: Any, *, timeout: float = 30.0, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


# --- a browser ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    need(Path(CHROMIUM).exists() or shutil.which("chromium") is not None, f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls made by the same tests are
    # still synchronous code, so Django's async-safety guard does not apply to them.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
            ],
        )  # fmt: skip
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any, live_server: Any) -> Iterator[Any]:
    context = chromium.new_context(
        base_url=live_server.url, locale="pl-PL", viewport={"width": 390, "height": 844}
    )
    context.set_default_timeout(15_000)
    pg = context.new_page()
    yield pg
    context.close()


ARTIFACTS = ROOT / "test-artifacts"


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path

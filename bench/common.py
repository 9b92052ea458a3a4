"""What the benchmarks share: a throwaway test database and a median timer (in-process benches), and for the
benches that run real servers: a throwaway PostgreSQL database, a gunicorn server, percentiles and the
100,000-invoice builder."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def median_ms(fn: Callable[[], object], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


@contextlib.contextmanager
def throwaway_database() -> Iterator[None]:
    """Django set up with the test settings and a fresh test database, destroyed afterwards."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()


# --- servers in other processes -----------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in 0..1); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_url() -> str | None:
    """``DATABASE_URL`` if it names PostgreSQL, else the local default server; None if neither answers."""
    configured = os.environ.get("DATABASE_URL", "")
    candidate = (
        configured if configured.startswith(("postgres://", "postgresql://")) else DEFAULT_POSTGRES_URL
    )
    try:
        import psycopg

        with psycopg.connect(_admin_url(candidate), connect_timeout=3):
            return candidate
    except Exception:  # any failure means "no PostgreSQL here"
        return None


def _admin_url(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/postgres"))


@contextlib.contextmanager
def throwaway_postgres(server_url: str, prefix: str) -> Iterator[str]:
    """A DATABASE_URL for a database created on ``server_url``'s server and dropped afterwards."""
    import psycopg

    name = f"{prefix}_{os.getpid()}_{random.randrange(16**6):06x}"
    admin_url = _admin_url(server_url)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def redis_answers(url: str) -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except Exception:  # any failure means "no Redis here"
        return False


CONTROL_TOKEN = secrets.token_urlsafe(24)
# The header that opens the simulator's control API of a server started with server_environment().
CONTROL_HEADERS = {"Authorization": f"Bearer {CONTROL_TOKEN}"}


def server_environment(database_url: str, workdir: Path, **extra: str) -> dict[str, str]:
    """Production settings (``DEBUG=0``) with the simulator on, fresh secrets, and the given database."""
    import hashlib

    from cryptography.fernet import Fernet

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "KSEF_", "REDIS_", "CELERY_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "ksefportal.settings",
            "ENV_FILE": "/dev/null",
            "DEBUG": "0",
            "SECRET_KEY": "bench-" + hashlib.sha256(os.urandom(32)).hexdigest(),
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",
            "KSEF_SIMULATOR_ENABLED": "1",
            # a loopback benchmark server: the simulator runs with DEBUG off on purpose, and the bench
            # drives its control API with a token of this run (CONTROL_HEADERS)
            "KSEF_SIMULATOR_UNSAFE_IN_PRODUCTION": "1",
            "KSEF_SIMULATOR_CONTROL_TOKEN": CONTROL_TOKEN,
            "KSEF_ENVIRONMENT": "simulator",
            "DATABASE_URL": database_url,
            "EMAIL_URL": f"filemail:///{workdir / 'mail'}",  # django-environ drops one leading slash
            "PYTHONUNBUFFERED": "1",
            "TMPDIR": str(workdir),
            "CONN_MAX_AGE": "60",
            **extra,
        }
    )
    (workdir / "mail").mkdir(exist_ok=True)
    return env


def manage(env: dict[str, str], *args: str, timeout: float = 600) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, timeout=timeout)


def stop_process_group(proc: subprocess.Popen[Any], *, grace: float = 30) -> None:
    """SIGTERM the process group started with ``start_new_session=True``; SIGKILL it if it lingers."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@contextlib.contextmanager
def gunicorn(
    env: dict[str, str], workdir: Path, *, port: int, workers: int, threads: int, timeout_s: float = 60
) -> Iterator[str]:
    """gunicorn serving the app on 127.0.0.1:``port``; ``threads`` > 1 means gthread workers (keep-alive)."""
    import requests

    log_path = workdir / "gunicorn.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"), "ksefportal.wsgi:application",
                "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
                "--worker-tmp-dir", str(workdir), "--timeout", "120", "--backlog", "2048",
                "--keep-alive", "30", "--log-level", "warning",
                # An access log line per request, as the Dockerfile's server writes one.
                "--access-logfile", str(workdir / "access.log"),
            ],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start:\n" + log_path.read_text(errors="replace")[-3000:])
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{base}/healthz", timeout=5).status_code < 500:
                    break
            time.sleep(0.2)
        yield base
    finally:
        stop_process_group(proc)


# --- data ---------------------------------------------------------------------------------------------


def invoices_bulk_build(*, company: Any, count: int, batch_size: int = 5000) -> None:
    """``count`` invoices for ``company`` (4 in 5 sales), as bench_invoices builds them: 500 buyers, three
    years of issue dates, 80 % accepted, 10 % not sent, 10 % rejected. Needs Django set up."""
    from django.db import connection

    from invoices.models import Direction, Invoice, KsefStatus
    from tests.factories import valid_nip

    buyers = [(f"Kontrahent {i} sp. z o.o.", valid_nip()) for i in range(500)]
    start_day = dt.date(2023, 1, 1)
    statuses = [KsefStatus.ACCEPTED] * 8 + [KsefStatus.NOT_SENT, KsefStatus.REJECTED]
    batch = []
    for i in range(count):
        name, nip = buyers[i % len(buyers)]
        net = Decimal(100 + (i * 37) % 10_000)
        vat = (net * Decimal("0.23")).quantize(Decimal("0.01"))
        batch.append(
            Invoice(
                uuid=uuid.uuid4(), company=company, number=f"FV/{i + 1}/B",
                direction=Direction.SALES if i % 5 else Direction.PURCHASE,
                issue_date=start_day + dt.timedelta(days=(i * 1096) // count),
                seller_name=company.name, seller_nip=company.nip, buyer_name=name, buyer_nip=nip,
                total_net=net, total_vat=vat, total_gross=net + vat,
                ksef_status=statuses[i % len(statuses)],
            )
        )  # fmt: skip
        if len(batch) == batch_size:
            Invoice.objects.bulk_create(batch)
            batch = []
    if batch:
        Invoice.objects.bulk_create(batch)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE invoices_invoice")


def processes_below(pid: int) -> list[int]:
    """Every live process below ``pid``, children and their children (read from /proc; zombies left out)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if fields[0] != "Z":
                    children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def queue_forget(redis_url: str, queue: str) -> None:
    """Remove a run's Celery queue and its bindings from Redis (run-wide keys such as locks stay: two runs
    on one Redis database at the same time would share them, so run one at a time)."""
    import redis

    with contextlib.suppress(redis.RedisError):
        client = redis.Redis.from_url(redis_url, socket_connect_timeout=2)
        client.delete(queue, *client.scan_iter(match=f"_kombu.binding*.{queue}"))


def stop_on_sigterm(signum: int, _frame: object) -> None:
    """``kill``/``timeout`` end a long bench like Ctrl+C, so that its ``finally`` blocks clean up (the
    worker, gunicorn, the throwaway database)."""
    raise KeyboardInterrupt(f"signal {signum}")


def use_wrk(variable: str) -> bool:
    """Whether a bench loads the server with ``wrk`` (Debian's package): ``variable`` names the environment
    setting that chooses (``auto``: wrk when installed, ``wrk``, or ``python``: the bench's own generator)."""
    choice = os.environ.get(variable, "auto")
    if choice not in ("auto", "wrk", "python"):
        raise RuntimeError(f"{variable} must be auto, wrk or python, not {choice!r}")
    if choice == "wrk" and shutil.which("wrk") is None:
        raise RuntimeError(f"{variable}=wrk but wrk is not installed (apt-get install wrk)")
    return choice != "python" and shutil.which("wrk") is not None


def helper_run(script: str, env: dict[str, str], mode: str, stdin: str = "", timeout: float = 1800) -> Any:
    """Run ``python <script> <mode>`` (a bench's setup or load process) and read the JSON it prints."""
    done = subprocess.run(
        [sys.executable, script, mode],
        cwd=ROOT, env=env, input=stdin, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{Path(script).stem} {mode} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def python_load(
    script: str, env: dict[str, str], cfg: dict[str, Any], say: Callable[[str], None]
) -> dict[str, float]:
    """Run ``python <script> load`` (a bench's asyncio load process) with ``cfg`` and summarise what it
    measured: p50/p95/p99 in ms, answers per second, errors (one sample of them said)."""
    timeout = float(cfg["warmup"]) + float(cfg["seconds"]) + 300
    result = helper_run(script, env, "load", json.dumps(cfg), timeout=timeout)
    latencies = result["latencies"]
    if result["errors"]:
        say(f"e.g. {result['samples']}")
    return {
        "p50": percentile(latencies, 0.50), "p95": percentile(latencies, 0.95),
        "p99": percentile(latencies, 0.99), "rps": len(latencies) / result["wall"],
        "errors": result["errors"],
    }  # fmt: skip


def pages_check(base: str, cookies: dict[str, str], expected: dict[str, bytes]) -> None:
    """Every page answers 200 with its content before the load, so that errors cannot pass as speed."""
    import requests

    for path, marker in expected.items():
        response = requests.get(f"{base}{path}", cookies=cookies, timeout=60, allow_redirects=False)
        if response.status_code != 200 or marker not in response.content:
            raise RuntimeError(f"{path} answered {response.status_code} without the expected content")


@contextlib.contextmanager
def bench_database(workdir: Path, name: str, say: Callable[[str], None]) -> Iterator[str]:
    """A throwaway PostgreSQL database for a web bench, or a temporary SQLite file without PostgreSQL."""
    server = postgres_url()
    if server is None:
        say("PostgreSQL does not answer: a temporary SQLite file (figures not comparable with PostgreSQL)")
        yield f"sqlite:///{workdir / (name + '.sqlite3')}"
        return
    with throwaway_postgres(server, f"ksef_load_{name}") as url:
        say(f"a throwaway PostgreSQL database ({url.rsplit('/', 1)[-1]})")
        yield url


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.2) -> bool:
    """Whether ``predicate`` became true within ``timeout`` seconds (asked every ``interval``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())

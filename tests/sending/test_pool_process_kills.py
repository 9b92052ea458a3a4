"""Issue 16: the kernel's OOM killer SIGKILLs ONE process of the worker (not the whole group, as
test_worker_proofs.py and the soak do) while invoices are being sent. Sending must go on within a minute,
and KSeF must hold each invoice exactly once.

The worker is started from the Procfile's ``worker:`` line, as ``make run`` starts it (``sh -c``), with
both brokers ``make run`` may use: Redis (``REDIS_URL`` set, as in production) and kombu's filesystem
transport under ``var/`` (no ``REDIS_URL``). Every process below the Procfile's own (the Celery worker
and what it started: prefork pool processes, an embedded beat) is SIGKILLed, one at a time, in three
rounds; the Procfile's process itself (``sh -c`` exec'd into the line's program) is left alone.

With the Procfile of before issue 16 (prefork, ``--beat``) the filesystem variant stalls for good: for a
broker without an event loop Celery uses billiard's classic pool, whose processes share one task pipe
behind one read lock; an idle pool process holds that lock while it waits for a task, and once it is
SIGKILLed no process can take a task again (no WorkerLostError; the sweeps beat sends are never run).
The sweeper, which beat runs every 30 s in production, is driven from the test, as in
test_worker_proofs.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.conf import settings

from bench.common import processes_below
from ksef_integration.models import KsefConnection
from ksef_integration.sending import drain
from ksefportal.celery import app as celery_app
from tests.conftest import ROOT, _database_url, wait_until
from tests.sending import test_worker_proofs as proofs
from tests.sending.test_worker_proofs import (
    LEASE_SECONDS,
    ONLINE_ONLY,
    READ_TIMEOUT_SECONDS,
    accepted_count,
    assert_exactly_once,
    issue_many,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.real_broker]
connected_company = proofs.connected  # the fixture: a company connected to the simulator, auto-send on

ROUNDS = 3
RESUME_WITHIN_S = 60.0
FIRST = 30  # invoices issued before the first kill; 5 more after each round
FS_OPTIONS = {
    "data_folder_in": str(ROOT / "var" / "celery" / "queue"),
    "data_folder_out": str(ROOT / "var" / "celery" / "queue"),
    "processed_folder": str(ROOT / "var" / "celery" / "processed"),
    "control_folder": str(ROOT / "var" / "celery" / "control"),
    "store_processed": False,
}


def procfile_worker_line() -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == "worker":
            return command.strip()
    raise AssertionError("the Procfile has no worker: line")


class Worker:
    """The Procfile's worker line in its own session (so that the test can clean up every process)."""

    def __init__(self, broker: str, api_url: str, tmp_path: Path) -> None:
        self.broker = broker
        self.log = tmp_path / "worker.log"
        (tmp_path / "mail").mkdir(exist_ok=True)
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "CELERY_TASK_DEFAULT_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
            "EMAIL_URL": f"filemail:///{tmp_path / 'mail'}",
            "PYTHONUNBUFFERED": "1",
            "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
            "KSEF_API_URL": api_url,
            "KSEF_SEND_BACKOFF_SECONDS": "0.2",
            "KSEF_SEND_LEASE_SECONDS": str(LEASE_SECONDS),
            "KSEF_WORKER_READ_TIMEOUT": str(READ_TIMEOUT_SECONDS),
            "CELERY_WORKER_RESTART_DELAY": "0.2",
            **ONLINE_ONLY,
        }
        if broker == "redis":
            env.update({"DJANGO_SETTINGS_MODULE": "tests.settings", "REDIS_URL": settings.REDIS_URL})
        else:
            # ksefportal.settings without REDIS_URL: the filesystem broker under var/ (as `make run` without
            # Redis), with tests.settings' secrets (already in os.environ) so that the token decrypts.
            env.pop("REDIS_URL", None)
            env.update({"DJANGO_SETTINGS_MODULE": "ksefportal.settings", "ENV_FILE": "/dev/null"})
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("wb") as log:
            self.proc = proc = subprocess.Popen(
                ["sh", "-c", procfile_worker_line()], cwd=ROOT, env=self.env, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        assert wait_until(lambda: b"ready." in self.log.read_bytes() or proc.poll() is not None, timeout=60)
        assert proc.poll() is None, self.tail()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    log_tail = tail  # what assert_exactly_once calls

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        else:  # a stalled pool's processes may outlive the main one
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)


@contextmanager
def broker_connection(broker: str) -> Iterator[Any]:
    """The connection this test publishes ``ksef.send`` on and inspects the worker over: the worker's."""
    if broker == "redis":
        with celery_app.connection_for_write() as conn:
            yield conn
        return
    from kombu import Connection

    from ksef_integration import queue

    conn = Connection("filesystem://", transport_options=FS_OPTIONS)

    def publish(name: str, args: tuple[Any, ...], options: dict[str, Any]) -> None:
        celery_app.send_task(name, args=args, connection=conn, **options)

    try:
        with mock.patch.object(queue, "publish", publish):
            yield conn
    finally:
        conn.release()


def sweep_until(company: Any, target: int, *, timeout: float) -> bool:
    """Run the sweeper about once a second (beat's job) until ``target`` invoices are accepted."""
    deadline = time.monotonic() + timeout
    last = 0.0
    while time.monotonic() < deadline:
        if accepted_count(company) >= target:
            return True
        if time.monotonic() - last >= 1.0:
            drain.submissions_sweep()
            last = time.monotonic()
        time.sleep(0.2)
    return accepted_count(company) >= target


@pytest.mark.parametrize("broker", ["redis", "filesystem"])
def test_single_worker_processes_killed_sending_goes_on_exactly_once(
    broker: str, connected_company: KsefConnection, live_server: Any, tmp_path: Path
) -> None:
    company = connected_company.company
    worker = Worker(broker, f"{live_server.url}/ksef-sim/v2", tmp_path)
    with broker_connection(broker):
        try:
            worker.start()
            invoices = issue_many(company, FIRST)
            assert sweep_until(company, 5, timeout=60), worker.tail()
            kills: list[int] = []
            assert worker.proc is not None
            for round_ in range(ROUNDS):
                # Every process below the Procfile's one (the celery worker and whatever it started: pool
                # processes, an embedded beat), one at a time, as the OOM killer would pick them.
                for pid in processes_below(worker.proc.pid):
                    with suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                        kills.append(pid)
                    time.sleep(1)
                before = accepted_count(company)
                invoices += issue_many(company, 5)
                resumed = sweep_until(company, before + 1, timeout=RESUME_WITHIN_S)
                assert resumed, (
                    f"round {round_ + 1}: nothing was accepted within {RESUME_WITHIN_S:.0f} s after "
                    f"SIGKILLing {kills}; worker log:\n{worker.tail()}"
                )
            assert len(kills) >= ROUNDS
            assert sweep_until(company, len(invoices), timeout=120), worker.tail()
        finally:
            worker.stop()
    assert_exactly_once(company, invoices, worker)  # type: ignore[arg-type]  # duck-typed log_tail

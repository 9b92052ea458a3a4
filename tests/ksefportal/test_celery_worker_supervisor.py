"""bin/celery_worker.py (issue 16): a worker killed by a signal is started again; SIGTERM stops everything.

A real ``celery worker`` (threads pool, the in-memory broker: no services needed) under the supervisor,
started as honcho starts a Procfile line: in a session of its own.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.common import processes_below
from tests.conftest import ROOT, wait_until


@pytest.fixture
def supervised(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    log = tmp_path / "worker.log"
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")},
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "CELERY_WORKER_RESTART_DELAY": "0.1",
        "PYTHONUNBUFFERED": "1",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable, "bin/celery_worker.py", "-A", "ksefportal", "worker", "--pool", "threads",
                "--concurrency", "2", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
            ],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        yield proc, log
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _ready_count(log: Path) -> int:
    return log.read_bytes().count(b"ready.")


def test_a_killed_worker_is_started_again_and_sigterm_leaves_nothing(
    supervised: tuple[subprocess.Popen[bytes], Path],
) -> None:
    proc, log = supervised
    assert wait_until(lambda: _ready_count(log) == 1, timeout=60), log.read_text(errors="replace")
    [worker] = processes_below(proc.pid)
    started = time.monotonic()
    os.kill(worker, signal.SIGKILL)  # as the OOM killer would
    assert wait_until(lambda: _ready_count(log) == 2, timeout=60), log.read_text(errors="replace")
    assert time.monotonic() - started < 30
    assert proc.poll() is None
    [again] = processes_below(proc.pid)
    assert again != worker
    assert b"was killed by SIGKILL; starting it again" in log.read_bytes()
    # SIGTERM to the supervisor alone (docker stop): passed on, a warm shutdown, no restart, no leftovers.
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, log.read_text(errors="replace")
    assert _ready_count(log) == 2
    assert not Path(f"/proc/{again}").exists() or "Z" in Path(f"/proc/{again}/stat").read_text().split()[2]


def test_a_worker_that_exits_by_itself_is_not_restarted(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "bin/celery_worker.py", "-A", "ksefportal", "no-such-command"],
        cwd=ROOT, env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}, capture_output=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert b"starting it again" not in result.stderr

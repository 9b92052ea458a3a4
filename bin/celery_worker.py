"""Run ``celery`` with the given arguments and start it again when a signal it did not expect kills it.

    python bin/celery_worker.py -A ksefportal worker --pool threads --concurrency 2 --beat ...

The Procfile's worker line and docker-compose's worker service run the Celery worker through this script
(issue 16). A worker killed from outside (the kernel's OOM killer, ``kill -9``) must not stop the company's
sending, and under ``make run`` honcho stops the web server too when one of its processes exits; so the
worker is started again at once, here. What stays as it was:

- SIGTERM (honcho on Ctrl+C, ``docker stop``) is passed on to the worker, which finishes its tasks (warm
  shutdown); nothing is started again after it, and this script exits with the worker's status.
- SIGINT from a terminal reaches the whole foreground group, the worker too: it is not passed on a second
  time (a second SIGINT would make Celery shut down cold), only restarts stop.
- The worker runs in this script's process group: honcho's ``killpg`` reaches every process, as before.
- SIGQUIT is passed on too (a cold shutdown) and SIGHUP (Celery then restarts itself in place).
- A worker that exits by itself (a bad setting, a broker that never answered) is not restarted: this
  script exits with its status (compose's ``restart: unless-stopped`` then decides, as before).

When the worker's main process is killed, its children (the embedded beat of ``--beat``, prefork pool
processes) would be left running; this script is their "subreaper" on Linux (``PR_SET_CHILD_SUBREAPER``),
so they become its children and are SIGKILLed before the next start. Restarts follow each other at least
``CELERY_WORKER_RESTART_DELAY`` seconds (1) apart, doubling while the worker keeps dying within 30 seconds of
its start (at most 30 s between starts).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PR_SET_CHILD_SUBREAPER = 36
STABLE_AFTER_S = 30.0
MAX_DELAY_S = 30.0


def _say(message: str) -> None:
    print(f"celery_worker: {message}", file=sys.stderr, flush=True)


def _become_subreaper() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    with contextlib.suppress(OSError, AttributeError):
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    return False


def _children() -> list[int]:
    """This process's live children (left-overs of a killed worker, adopted as subreaper)."""
    me, found = os.getpid(), []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == me and fields[0] != "Z":
                    found.append(int(entry.name))
    return found


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


def _kill_leftovers() -> None:
    for pid in _children():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _children() and time.monotonic() < deadline:
        _reap()
        time.sleep(0.05)
    _reap()


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    command = [sys.executable, "-m", "celery", *argv]
    base_delay = float(os.environ.get("CELERY_WORKER_RESTART_DELAY", "1"))
    state: dict[str, Any] = {"stopping": False, "child": None}

    def on_signal(signum: int, _frame: object) -> None:
        if signum != signal.SIGHUP:  # SIGHUP: Celery restarts itself in place; keep supervising it
            state["stopping"] = True
        child = state["child"]
        if child is not None and child.poll() is None and signum != signal.SIGINT:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP):
        signal.signal(signum, on_signal)
    subreaper = _become_subreaper()
    delay = base_delay
    while True:
        started = time.monotonic()
        state["child"] = child = subprocess.Popen(command)
        while True:
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = child.wait(timeout=1)
                break
        if subreaper:
            _kill_leftovers()
        if state["stopping"] or code >= 0:
            return code if code >= 0 else 128 - code
        # Killed by a signal nobody here asked for (OOM killer, kill -9): start it again.
        delay = base_delay if time.monotonic() - started >= STABLE_AFTER_S else min(delay * 2, MAX_DELAY_S)
        _say(f"the worker (pid {child.pid}) was killed by {signal.Signals(-code).name}; starting it again")
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline and not state["stopping"]:
            time.sleep(0.1)
        if state["stopping"]:
            return 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Issue 16: SIGKILL ONE process of the Celery worker (as the OOM killer would), not the whole group.

``python bench/pool_kill.py`` needs PostgreSQL (``DATABASE_URL``, a throwaway database is created on its
server) and, with ``POOL_KILL_BROKER=redis`` (the default), Redis (``POOL_KILL_REDIS_URL``, default
redis://127.0.0.1:6379/6, a queue of its own); ``POOL_KILL_BROKER=filesystem`` runs the worker on kombu's
filesystem broker under ``var/``, as ``make run`` does without ``REDIS_URL``. It starts gunicorn with the
simulator (rate limits off), connects a company that sends automatically, and starts the worker exactly as
the Procfile's ``worker:`` line does (``sh -c`` of that line; ``POOL_KILL_WORKER`` replaces it, e.g.
``exec celery -A ksefportal worker --beat --concurrency 2`` for the line of before issue 16), plus the
Procfile's ``beat:`` line when it has one (``POOL_KILL_BEAT`` replaces it; empty: none). Then:

1. warm-up: 10 invoices, all accepted;
2. ``POOL_KILL_MODE=busy`` (default): a send hangs inside KSeF (``hang`` fault, shorter than the read
   timeout) and the process running that task (``inspect active``; the worker's own with the threads
   pool) is SIGKILLed in the middle of the HTTP call; ``idle``: one that runs nothing is SIGKILLed;
   ``POOL_KILL_EVERY_S`` > 0: then one more process that runs tasks every that many seconds;
3. for ``POOL_KILL_OBSERVE_S`` (120 s) one invoice a second is issued; the driver records when the first
   invoice issued after the kill is accepted, the longest time without any acceptance, and how many
   ``ksef.sweep`` tasks the worker ran after the kill;
4. then it waits (at most 120 s) for every submission to be final and checks KSeF: duplicates and lost.

Leases (and with them the per-company lock's TTL) are ``POOL_KILL_LEASE_S`` (20 s; production 300 s).
Prints ``name: value`` lines: ``pool_kill_resume_s`` (kill → first acceptance of a later invoice; ``nan``
if none), ``pool_kill_max_gap_s``, ``pool_kill_kills``, ``pool_kill_accepted_after``,
``pool_kill_sweeps_after``, ``pool_kill_worker_lost_logged`` (0/1), ``pool_kill_duplicates``,
``pool_kill_lost``, ``pool_kill_drained`` (0/1), and the worker's peak RSS summed over its processes
(``pool_kill_worker_rss_mb``). Exit status 1 when it stalled, lost or duplicated.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    ROOT,
    free_port,
    gunicorn,
    manage,
    postgres_url,
    processes_below,
    queue_forget,
    redis_answers,
    server_environment,
    stop_on_sigterm,
    stop_process_group,
    throwaway_postgres,
    wait_until,
)

MODE = os.environ.get("POOL_KILL_MODE", "busy")
OBSERVE_S = float(os.environ.get("POOL_KILL_OBSERVE_S", "120"))
LEASE_S = float(os.environ.get("POOL_KILL_LEASE_S", "20"))
REDIS_URL = os.environ.get("POOL_KILL_REDIS_URL", "redis://127.0.0.1:6379/6")
# "redis" (production, CI) or "filesystem" (make run without REDIS_URL: kombu's file broker under var/)
BROKER = os.environ.get("POOL_KILL_BROKER", "redis")
READ_TIMEOUT_S = 20.0
HANG_S = 10.0
EVERY_S = float(os.environ.get("POOL_KILL_EVERY_S", "0"))  # > 0: then one more single kill every EVERY_S


def _say(message: str) -> None:
    print(f"pool_kill: {message}", file=sys.stderr, flush=True)


def procfile_lines() -> dict[str, str]:
    """The Procfile's processes other than the web server (the worker, and beat when it has its own line)."""
    lines = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if command and name.strip() != "web":
            lines[name.strip()] = command.strip()
    return lines


def rss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, StopIteration, ValueError):
            line = next(
                x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmRSS")
            )
            total += int(line.split()[1])
    return total


def _setup() -> Any:
    """The soak's company (connected with a token, sending automatically), without automatic imports."""
    from bench.soak import _setup as soak_setup
    from ksef_integration.models import KsefConnection

    company = soak_setup("")
    KsefConnection.objects.filter(company=company).update(auto_import=False)
    return company


def _issue(company: Any) -> Any:
    from django.utils import timezone

    from invoices import services as invoice_services
    from tests.invoices.factories import issue_data

    today = timezone.localdate()
    return invoice_services.invoice_issue(
        company=company, user=None, data=issue_data(issue_date=today, sale_date=today, due_date=today)
    )


def _accepted(company: Any) -> Any:
    from ksef_integration.models import Submission, SubmissionStatus

    return Submission.objects.filter(company=company, status=SubmissionStatus.ACCEPTED)


def _pool_pids(app: Any, timeout: float = 5) -> tuple[list[int], dict[int, str]]:
    """The processes that run tasks (the prefork pool's, else the worker's own: threads, solo) and, for
    busy ones, the task each runs; asked over the broker."""
    inspect = app.control.inspect(timeout=timeout)
    stats = inspect.stats() or {}
    active = inspect.active() or {}
    pids = [pid for s in stats.values() for pid in s.get("pool", {}).get("processes", [])]
    if not pids:
        pids = [s["pid"] for s in stats.values() if s.get("pid")]
    busy = {t["worker_pid"]: t["name"] for tasks in active.values() for t in tasks if t.get("worker_pid")}
    if not busy and active:  # threads/solo: tasks run in the worker's own process
        busy = {pid: t["name"] for pid in pids for tasks in active.values() for t in tasks}
    return pids, busy


def run(
    env: dict[str, str], workdir: Path, worker_line: str, beat_line: str | None
) -> tuple[dict[str, float], bool]:
    os.environ.update(env)
    import django

    django.setup()
    from django.db.models import Count

    from invoices.models import Invoice
    from ksef_integration.models import Submission
    from ksef_integration.models.sending import FINAL_STATUSES
    from ksef_simulator.faults import fault_arm, faults_clear
    from ksef_simulator.models import FaultRule, SimInvoice
    from ksefportal.celery import app

    company = _setup()
    log_path = workdir / "worker.log"
    path = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            ["sh", "-c", worker_line], cwd=ROOT, env={**env, "PATH": path}, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    beat = None
    if beat_line:
        with (workdir / "beat.log").open("wb") as log:
            beat = subprocess.Popen(
                ["sh", "-c", beat_line], cwd=ROOT, env={**env, "PATH": path}, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
    figures: dict[str, float] = {}
    peak_rss = 0
    try:
        if not wait_until(lambda: b"ready." in log_path.read_bytes() or proc.poll() is not None, 90):
            raise RuntimeError("worker did not start:\n" + log_path.read_text()[-3000:])
        for _ in range(10):
            _issue(company)
        if not wait_until(lambda: _accepted(company).count() == 10, 90):
            raise RuntimeError("warm-up did not finish:\n" + log_path.read_text()[-3000:])
        peak_rss = rss_kb([proc.pid, *processes_below(proc.pid)])
        pids, busy = _pool_pids(app)
        others = set(processes_below(proc.pid)) - set(pids)  # the shell's exec'd worker, beat (--beat)
        _say(f"worker {proc.pid}: processes {sorted(processes_below(proc.pid))}, pool {pids}")
        if MODE == "busy":
            rule = fault_arm(pattern="sessions.online.send", action="hang", seconds=HANG_S)
            _issue(company)
            if not wait_until(lambda: not FaultRule.objects.filter(pk=rule.pk).exists(), 30, 0.05):
                raise RuntimeError("the send never reached KSeF:\n" + log_path.read_text()[-3000:])
            time.sleep(0.3)  # the send is inside KSeF, the pool process waits for its answer
            pids, busy = _pool_pids(app)
            victims = [pid for pid, name in busy.items() if name == "ksef.send"]
        else:
            victims = [pid for pid in pids if pid not in busy]
        if not victims:
            raise RuntimeError(f"no pool process to kill in mode {MODE}: pool {pids}, busy {busy}")
        victim = victims[0]
        log_mark = len(log_path.read_bytes())
        accepted_before = set(_accepted(company).values_list("pk", flat=True))
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        _say(f"SIGKILLed pool process {victim} ({MODE}); observing {OBSERVE_S:.0f} s")
        issued_after: list[int] = []
        resume_s = float("nan")
        next_issue = killed_at
        next_report = killed_at + 15
        next_kill = killed_at + EVERY_S if EVERY_S > 0 else float("inf")
        kills = 1
        last_progress, max_gap = killed_at, 0.0
        progress = _accepted(company).count()
        rng = random.Random(16)
        while (now := time.monotonic()) < killed_at + OBSERVE_S:
            count = _accepted(company).count()
            if count > progress:
                progress, last_progress = count, now
            max_gap = max(max_gap, now - last_progress)
            if now >= next_kill:
                pool = [p for p in processes_below(proc.pid) if p not in others]
                with contextlib.suppress(Exception):
                    pool = _pool_pids(app, timeout=2)[0] or pool
                if pool:
                    target = rng.choice(pool)
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(target, signal.SIGKILL)
                        kills += 1
                        _say(f"+{now - killed_at:.0f} s: SIGKILLed pool process {target}")
                next_kill += EVERY_S
            if now >= next_issue:
                issued_after.append(_issue(company).pk)
                next_issue += 1
            if resume_s != resume_s and _accepted(company).filter(invoice_id__in=issued_after).exists():
                resume_s = now - killed_at
                _say(f"an invoice issued after the kill was accepted {resume_s:.1f} s after it")
            if now >= next_report:
                peak_rss = max(peak_rss, rss_kb([proc.pid, *processes_below(proc.pid)]))
                new = _accepted(company).exclude(pk__in=accepted_before).count()
                _say(f"+{now - killed_at:.0f} s: accepted since the kill {new}, issued {len(issued_after)}")
                next_report += 15
            time.sleep(0.1)
        after = log_path.read_bytes()[log_mark:].decode(errors="replace")
        figures["pool_kill_resume_s"] = resume_s
        figures["pool_kill_kills"] = kills
        figures["pool_kill_max_gap_s"] = max_gap
        figures["pool_kill_accepted_after"] = _accepted(company).filter(invoice_id__in=issued_after).count()
        figures["pool_kill_issued_after"] = len(issued_after)
        figures["pool_kill_sweeps_after"] = len(re.findall(r"Task ksef\.sweep\[[^\]]+\] succeeded", after))
        figures["pool_kill_worker_lost_logged"] = int("WorkerLostError" in after)
        figures["pool_kill_child_death_logged"] = int(f"pid:{victim} exited" in after)
        faults_clear()
        open_rows = Submission.objects.filter(company=company).exclude(status__in=FINAL_STATUSES)
        drained = wait_until(lambda: not open_rows.exists(), 120, 1)
        held = SimInvoice.objects.filter(context_nip=company.nip, status_code=200)
        groups = held.values("invoice_number").annotate(n=Count("id")).filter(n__gt=1)
        issued = set(Invoice.objects.filter(company=company).values_list("number", flat=True))
        in_ksef = set(held.values_list("invoice_number", flat=True))
        accepted_numbers = set(_accepted(company).values_list("invoice__number", flat=True))
        figures["pool_kill_duplicates"] = sum(g["n"] - 1 for g in groups)
        figures["pool_kill_lost"] = len(issued - accepted_numbers - in_ksef)
        figures["pool_kill_drained"] = int(drained)
        figures["pool_kill_worker_rss_mb"] = peak_rss / 1024
        figures["pool_kill_worker_alive"] = int(proc.poll() is None)
        ok = (
            drained
            and resume_s == resume_s
            and not figures["pool_kill_duplicates"]
            and not figures["pool_kill_lost"]
        )
        _say("worker log after the kill (first 40 lines):\n" + "\n".join(after.splitlines()[:40]))
        return figures, ok
    finally:
        stop_process_group(proc, grace=20)
        if beat is not None:
            stop_process_group(beat, grace=20)


def main() -> int:
    server = postgres_url()
    if server is None or not redis_answers(REDIS_URL):
        print("pool_kill: needs PostgreSQL (DATABASE_URL) and Redis (POOL_KILL_REDIS_URL)", file=sys.stderr)
        return 2
    lines = procfile_lines()
    worker_line = os.environ.get("POOL_KILL_WORKER") or lines["worker"]
    beat_line = os.environ.get("POOL_KILL_BEAT", lines.get("beat", "")) or None
    workdir = Path(tempfile.mkdtemp(prefix="ksef-pool-kill-"))
    queue = f"ksef_pool_kill_{os.getpid()}"
    ok = False
    try:
        with throwaway_postgres(server, "ksef_pool_kill") as database_url:
            port = free_port()
            env = server_environment(
                database_url, workdir,
                **({"REDIS_URL": REDIS_URL} if BROKER == "redis" else {}), KSEF_API_URL=f"http://127.0.0.1:{port}/ksef-sim/v2",
                CELERY_TASK_DEFAULT_QUEUE=queue, WEB_PORT=str(port),
                KSEF_SEND_BACKOFF_SECONDS="1", KSEF_SEND_LEASE_SECONDS=str(LEASE_S),
                KSEF_WORKER_READ_TIMEOUT=str(READ_TIMEOUT_S),
            )  # fmt: skip
            manage(env, "migrate", "--noinput", "-v", "0")
            _say(f"mode {MODE}, broker {BROKER}; worker: {worker_line}; beat: {beat_line}")
            with gunicorn(env, workdir, port=port, workers=2, threads=4):
                figures, ok = run(env, workdir, worker_line, beat_line)
        for name, value in figures.items():
            print(f"{name}: {value:.3f}" if isinstance(value, float) else f"{name}: {value}", flush=True)
        return 0 if ok else 1
    finally:
        queue_forget(REDIS_URL, queue)
        if ok:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            _say(f"logs kept in {workdir}")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    sys.exit(main())

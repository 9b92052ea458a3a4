"""Soak: issue and import continuously for ``SOAK_MINUTES`` (30) while KSeF misbehaves and the worker dies.

``make soak`` (or ``python bench/soak.py``) needs PostgreSQL and Redis: ``DATABASE_URL`` (else
postgres@127.0.0.1:5432) for the server on which a throwaway database is created and dropped, and
``SOAK_REDIS_URL`` (redis://127.0.0.1:6379/6) for the broker, on a queue of its own. It exits with 2 when
either does not answer.

What runs, each in its own process, all with the production settings (``DEBUG=0``):
- gunicorn serving the app with the simulator mounted (rate limits off, invoices processed after 0.5 s);
- the Celery worker and beat, each from its Procfile line as ``make run`` starts them (the worker: the threads
  pool, concurrency 2, under ``bin/celery_worker.py``, which starts a killed worker again), so that the
  sweeper (every 30 s) and the automatic import fan-out run as in production;
- this driver: it issues sales invoices (``SOAK_ISSUE_PER_S``, 1 a second; the company sends automatically),
  lets the simulator generate purchase invoices for the company every ``SOAK_INCOMING_EVERY_S`` (30 s,
  ``SOAK_INCOMING_BATCH`` = 25 each) and then asks for an import as "Pobierz teraz" does (beat's
  automatic import runs every 15 minutes at the most, also on), arms a fault (429, 503, 500, a hang past the
  worker's read timeout or a lost answer) every ``SOAK_FAULT_EVERY_S`` (5 s) on a random call of the sending
  path (send, session open/close/status, status list, UPO, batch open) and every ``SOAK_IMPORT_FAULT_EVERY_S``
  (90 s) on one of the import path (export start/status, download, metadata query, authentication), and
  SIGKILLs the worker's whole process group every ``SOAK_KILL_EVERY_S`` (45 s), starting a new one at once,
  and, as the OOM killer would, ONE process (the Celery worker, a pool process if the worker line used
  prefork, or beat; never the Procfile's own process) every ``SOAK_PROCESS_KILL_EVERY_S`` (20 s), which
  nothing here starts again: the Procfile's supervisor must (issue 16).

One invoice of the second incoming batch is made unreadable in KSeF (a DTD the portal's parser refuses): the
import must keep it aside ("nie udało się zaimportować") and import every other invoice
(``soak_import_poison_kept_aside`` is 1, ``soak_import_missing`` 0).

Then it stops issuing, clears the faults, and waits (at most ``SOAK_DRAIN_TIMEOUT_S``, 600 s) until every
submission is final and every generated purchase invoice is imported. Leases are ``SOAK_LEASE_S`` (20 s;
production: 300 s), so that a killed worker's claims come back within the run.

Figures (``name: value``): ``soak_sent`` (issued), ``soak_accepted`` (our submissions accepted),
``soak_rejected``, ``soak_duplicates`` (extra copies KSeF holds of one invoice number or one file hash),
``soak_lost`` (issued, not accepted by us and not in KSeF either), ``soak_max_wait_s`` (issue to acceptance,
the longest), ``soak_import_generated``, ``soak_imported``, ``soak_import_missing``,
``soak_import_duplicates``, ``soak_worker_kills``, ``soak_process_kills``, ``soak_faults_fired``,
``soak_drain_s``, ``soak_faults_armed``, ``soak_import_poison_kept_aside``. The exit status is 1 when
anything was duplicated or lost, the poison invoice was not kept aside, or the drain timed out.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import logging
import os
import random
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
)

MINUTES = float(os.environ.get("SOAK_MINUTES", "30"))
ISSUE_PER_S = float(os.environ.get("SOAK_ISSUE_PER_S", "1"))
INCOMING_EVERY_S = float(os.environ.get("SOAK_INCOMING_EVERY_S", "30"))
INCOMING_BATCH = int(os.environ.get("SOAK_INCOMING_BATCH", "25"))
FAULT_EVERY_S = float(os.environ.get("SOAK_FAULT_EVERY_S", "5"))
KILL_EVERY_S = float(os.environ.get("SOAK_KILL_EVERY_S", "45"))
PROCESS_KILL_EVERY_S = float(os.environ.get("SOAK_PROCESS_KILL_EVERY_S", "20"))
DRAIN_TIMEOUT_S = float(os.environ.get("SOAK_DRAIN_TIMEOUT_S", "600"))
LEASE_S = float(os.environ.get("SOAK_LEASE_S", "20"))
READ_TIMEOUT_S = 5.0
REDIS_URL = os.environ.get("SOAK_REDIS_URL", "redis://127.0.0.1:6379/6")

# The sending path makes many calls (faults every FAULT_EVERY_S); the import path a few per run, and one fault
# fails a run, so its faults are rarer (IMPORT_FAULT_EVERY_S). A pattern is armed again only once its previous
# rule has fired, so that faults on rarely called endpoints do not pile up.
SEND_FAULT_PATTERNS = (
    "sessions.online.send", "sessions.online.send", "sessions.online.send", "sessions.invoices.list",
    "sessions.online.open", "sessions.online.close", "sessions.status", "sessions.invoices.upo",
    "sessions.batch.open",
)  # fmt: skip
IMPORT_FAULT_PATTERNS = (
    "invoices.exports.start", "invoices.exports.status", "invoices.download", "invoices.query.metadata",
    "auth.",
)  # fmt: skip
IMPORT_FAULT_EVERY_S = float(os.environ.get("SOAK_IMPORT_FAULT_EVERY_S", "90"))
FAULT_ACTIONS: tuple[dict[str, Any], ...] = (
    {"action": "drop"},
    {"action": "503"},
    {"action": "500"},
    {"action": "429", "seconds": 2},
    {"action": "hang", "seconds": READ_TIMEOUT_S + 1},
)


def _say(message: str) -> None:
    print(f"soak: {message}", file=sys.stderr, flush=True)


def procfile_line(name: str) -> str:
    """A process's command line as the Procfile (``make run``) gives it."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        key, _, command = line.partition(":")
        if key.strip() == name:
            return command.strip()
    raise RuntimeError(f"the Procfile has no {name}: line")


class Worker:
    """A Procfile line (the worker's, or beat's) run as ``make run`` runs it (``sh -c``), in its own process
    group, so that SIGKILL of the group takes every process of it (the supervisor, the worker, any pool)."""

    def __init__(self, env: dict[str, str], workdir: Path, name: str = "worker") -> None:
        self.env, self.workdir, self.name = env, workdir, name
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log_path = self.workdir / f"{self.name}-{self.starts}.log"
        path = f"{Path(sys.executable).parent}:{self.env.get('PATH', '')}"
        with log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                ["sh", "-c", procfile_line(self.name)], cwd=ROOT, env={**self.env, "PATH": path},
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        ready = b"ready." if self.name == "worker" else b"beat: Starting"
        deadline = time.monotonic() + 60
        while ready not in log_path.read_bytes():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start:\n" + log_path.read_text()[-3000:])
            time.sleep(0.2)

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def below(self) -> list[int]:
        """The processes the Procfile's one started (the Celery worker or beat, pool processes if any)."""
        return processes_below(self.proc.pid) if self.proc is not None and self.proc.poll() is None else []

    def stop(self) -> None:
        if self.proc is not None:
            stop_process_group(self.proc)


def _setup(api_url: str) -> Any:
    """The company, connected to the simulator with a token, sending and importing automatically."""
    from django.utils import timezone

    from accounts.models import Role
    from ksef_integration.connect.services import connection_connect_token
    from ksef_integration.models import KsefConnection
    from ksef_simulator import services_core
    from ksef_simulator.conf import config_update
    from tests.factories import MembershipFactory

    config_update(
        token_activation_delay=0, auth_delay=0, invoice_processing_delay=500, permanent_storage_lag=0,
        hwm_lag=0, rate_limit_profile="off",
    )  # fmt: skip
    membership = MembershipFactory.create(role=Role.OWNER)
    company = membership.company
    _, token = services_core.token_generate(
        nip=company.nip, permissions=["InvoiceRead", "InvoiceWrite"], description="soak"
    )
    connection_connect_token(company=company, user=membership.user, raw_token=token)
    KsefConnection.objects.filter(company=company).update(
        auto_send=True,
        auto_import=True,
        import_start_date=timezone.localdate() - dt.timedelta(days=2),
    )
    return company


def _figures(company: Any, generated: list[str], kills: int, faults_fired: int, drain_s: float) -> dict:
    from django.db.models import Count

    from invoices.models import Direction, Invoice
    from ksef_integration.models import Submission, SubmissionStatus
    from ksef_simulator.models import SimInvoice

    sales = Invoice.objects.filter(company=company, direction=Direction.SALES)
    issued = set(sales.values_list("number", flat=True))
    submissions = Submission.objects.filter(company=company)
    statuses = collections.Counter(submissions.values_list("status", flat=True))
    accepted_numbers = set(
        submissions.filter(status=SubmissionStatus.ACCEPTED).values_list("invoice__number", flat=True)
    )
    held = SimInvoice.objects.filter(context_nip=company.nip, status_code=200)
    in_ksef = set(held.values_list("invoice_number", flat=True))
    duplicates = 0
    for field in ("invoice_number", "invoice_hash"):
        groups = held.values(field).annotate(n=Count("id")).filter(n__gt=1)
        duplicates = max(duplicates, sum(group["n"] - 1 for group in groups))
    waits = [
        (finished - created).total_seconds()
        for created, finished in submissions.filter(status=SubmissionStatus.ACCEPTED).values_list(
            "invoice__created_at", "finished_at"
        )
        if finished is not None
    ]
    purchases = Invoice.objects.filter(company=company, direction=Direction.PURCHASE)
    imported = set(purchases.filter(ksef_number__in=generated).values_list("ksef_number", flat=True))
    import_duplicates = sum(
        g["n"] - 1
        for g in purchases.exclude(ksef_number=None)
        .values("ksef_number")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    return {
        "soak_sent": len(issued),
        "soak_accepted": statuses.get(SubmissionStatus.ACCEPTED, 0),
        "soak_rejected": statuses.get(SubmissionStatus.REJECTED, 0)
        + statuses.get(SubmissionStatus.FAILED_LOCAL, 0),
        "soak_duplicates": duplicates,
        "soak_lost": len(issued - accepted_numbers - in_ksef),
        "soak_max_wait_s": max(waits, default=float("nan")),
        "soak_import_generated": len(generated),
        "soak_imported": len(imported),
        "soak_import_missing": len(set(generated) - imported),
        "soak_import_duplicates": import_duplicates,
        "soak_worker_kills": kills,
        "soak_faults_fired": faults_fired,
        "soak_drain_s": drain_s,
    }


def _poison(ksef_number: str) -> None:
    """Turn one invoice KSeF holds into a document the portal cannot read (a DTD, which the hardened
    parser refuses), as a broken issuer's software or a KSeF fault could: the import must keep it aside as
    "nie udało się zaimportować" and go on with every other invoice."""
    from ksef_simulator.models import SimInvoice

    unreadable = b'<?xml version="1.0"?><!DOCTYPE Faktura [<!ENTITY x "x">]><Faktura>&x;</Faktura>'
    SimInvoice.objects.filter(ksef_number=ksef_number).update(xml=unreadable, invoice_size=len(unreadable))


def _kept_aside(company: Any, ksef_number: str) -> bool:
    from invoices.models import Invoice
    from ksef_integration.models import ImportFailure

    return (
        bool(ksef_number)
        and ImportFailure.objects.filter(company=company, ksef_number=ksef_number).exists()
        and not Invoice.objects.filter(company=company, ksef_number=ksef_number).exists()
    )


def _drained(company: Any, generated: list[str]) -> bool:
    from invoices.models import Direction, Invoice
    from ksef_integration.models import Submission
    from ksef_integration.models.sending import FINAL_STATUSES

    open_submissions = Submission.objects.filter(company=company).exclude(status__in=FINAL_STATUSES)
    imported = Invoice.objects.filter(
        company=company, direction=Direction.PURCHASE, ksef_number__in=generated
    )
    return not open_submissions.exists() and imported.count() == len(generated)


def soak(env: dict[str, str], workdir: Path, api_url: str) -> tuple[dict[str, float], bool]:
    os.environ.update(env)
    import django

    django.setup()
    from django.utils import timezone

    from invoices import services as invoice_services
    from ksef_integration.importing.services import import_enqueue_on_commit
    from ksef_simulator import services_invoices
    from ksef_simulator.faults import fault_arm, faults_clear
    from ksef_simulator.models import FaultRule
    from tests.invoices.factories import issue_data

    logging.getLogger("invoices").setLevel(logging.WARNING)  # one line per issued invoice is noise here
    company = _setup(api_url)
    rng = random.Random(20261125)
    worker = Worker(env, workdir)
    worker.start()
    beat = Worker(env, workdir, "beat") if "beat:" in (ROOT / "Procfile").read_text() else None
    if beat is not None:
        beat.start()
    generated: list[str] = []
    poison = ""
    faults_armed: list[int] = []
    kills = 0
    process_kills = 0

    def arm(patterns: tuple[str, ...]) -> None:
        pattern = rng.choice(patterns)
        if not FaultRule.objects.filter(pattern=pattern).exists():
            faults_armed.append(fault_arm(pattern=pattern, count=1, **rng.choice(FAULT_ACTIONS)).pk)

    try:
        start = time.monotonic()
        end = start + MINUTES * 60
        next_issue = next_incoming = next_fault = start
        next_import_fault = start + IMPORT_FAULT_EVERY_S / 2
        next_kill = start + KILL_EVERY_S
        next_process_kill = start + PROCESS_KILL_EVERY_S / 2
        next_report = start + 30
        while (now := time.monotonic()) < end:
            if now >= next_issue:
                today = timezone.localdate()
                invoice_services.invoice_issue(
                    company=company,
                    user=None,
                    data=issue_data(issue_date=today, sale_date=today, due_date=today),
                )
                next_issue += 1 / ISSUE_PER_S
            if now >= next_incoming:
                today = timezone.localdate()
                batch = services_invoices.invoices_generate(
                    buyer_nip=company.nip, count=INCOMING_BATCH, date_from=today, date_to=today, sellers=10
                )
                if not poison and generated:  # the second batch carries the poison, among good invoices
                    poison = batch.pop(len(batch) // 2)
                    _poison(poison)
                generated += batch
                import_enqueue_on_commit(company=company)  # "Pobierz teraz"; beat would wait 15 minutes
                next_incoming += INCOMING_EVERY_S
            if now >= next_fault:
                arm(SEND_FAULT_PATTERNS)
                next_fault += FAULT_EVERY_S
            if now >= next_import_fault:
                arm(IMPORT_FAULT_PATTERNS)
                next_import_fault += IMPORT_FAULT_EVERY_S
            if now >= next_kill:
                worker.kill()
                kills += 1
                worker.start()
                next_kill += KILL_EVERY_S
            if now >= next_process_kill:
                # One process, not the group: what the OOM killer does. Any process below the Procfile's
                # ones: the Celery worker (threads) or a prefork pool process, or beat.
                victims = worker.below() + (beat.below() if beat is not None else [])
                if victims:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(rng.choice(victims), signal.SIGKILL)
                        process_kills += 1
                next_process_kill += PROCESS_KILL_EVERY_S
            if now >= next_report:
                so_far = _figures(company, generated, kills, 0, 0)
                _say(
                    f"{(now - start) / 60:.1f} min: issued {so_far['soak_sent']}, "
                    f"accepted {so_far['soak_accepted']}, imported {so_far['soak_imported']} "
                    f"of {len(generated)}, worker kills {kills}, single-process kills {process_kills}"
                )
                next_report += 30
            time.sleep(0.05)
        _say("issuing stopped; clearing the faults and waiting for the queue to drain")
        fired = len(faults_armed) - FaultRule.objects.filter(pk__in=faults_armed).count()
        faults_clear()
        drain_start = time.monotonic()
        drained = False
        while time.monotonic() - drain_start < DRAIN_TIMEOUT_S:
            if _drained(company, generated):
                drained = True
                break
            if time.monotonic() >= next_incoming:
                import_enqueue_on_commit(company=company)
                next_incoming = time.monotonic() + INCOMING_EVERY_S
            time.sleep(1)
        drain_s = time.monotonic() - drain_start
        figures = _figures(company, generated, kills, fired, drain_s)
        figures["soak_faults_armed"] = len(faults_armed)
        figures["soak_process_kills"] = process_kills
        figures["soak_import_poison_kept_aside"] = int(_kept_aside(company, poison))
        if not drained:
            _say(f"the queue did not drain in {DRAIN_TIMEOUT_S:.0f} s; worker log:\n{_log_tail(workdir)}")
        ok = (
            drained
            and figures["soak_duplicates"] == 0
            and figures["soak_lost"] == 0
            and (not poison or figures["soak_import_poison_kept_aside"] == 1)
        )
        return figures, ok
    finally:
        worker.stop()
        if beat is not None:
            beat.stop()


def _log_tail(workdir: Path) -> str:
    logs = sorted(workdir.glob("worker-*.log"), key=lambda p: p.stat().st_mtime)
    return logs[-1].read_text(errors="replace")[-3000:] if logs else ""


def main() -> int:
    server = postgres_url()
    if server is None:
        print(
            "soak: needs PostgreSQL (DATABASE_URL or postgres@127.0.0.1:5432); it does not answer",
            file=sys.stderr,
        )
        return 2
    if not redis_answers(REDIS_URL):
        print(f"soak: needs Redis at {REDIS_URL} (SOAK_REDIS_URL); it does not answer", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="ksef-soak-"))
    queue = f"ksef_load_soak_{os.getpid()}"
    ok = False
    try:
        with throwaway_postgres(server, "ksef_load_soak") as database_url:
            port = free_port()
            api_url = f"http://127.0.0.1:{port}/ksef-sim/v2"
            env = server_environment(
                database_url, workdir,
                REDIS_URL=REDIS_URL, KSEF_API_URL=api_url,
                CELERY_TASK_DEFAULT_QUEUE=queue,
                KSEF_SEND_BACKOFF_SECONDS="1", KSEF_SEND_LEASE_SECONDS=str(LEASE_S),
                KSEF_WORKER_READ_TIMEOUT=str(READ_TIMEOUT_S),
            )  # fmt: skip
            manage(env, "migrate", "--noinput", "-v", "0")
            _say(f"{MINUTES:g} minutes on {database_url.rsplit('/', 1)[-1]}, Redis {REDIS_URL}")
            with gunicorn(env, workdir, port=port, workers=2, threads=4):
                figures, ok = soak(env, workdir, api_url)
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

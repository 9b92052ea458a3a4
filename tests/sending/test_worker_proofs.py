"""Issue 6 "Must show": a REAL Celery worker (subprocess, Redis, PostgreSQL) delivers issued invoices to the
simulator exactly once: plainly (200; the backlog that builds up goes partly through batch sessions), with
faults in ~20 % of the online sends (100 by default, see FAULTY) and across a SIGKILL of the worker (200);
these two on the online path (``KSEF_SEND_BATCH_THRESHOLD`` is raised for their worker; test_batch.py
covers the batch path's crashes). ``KSEF_PROOF_INVOICES=200`` runs all three with 200. Every XML sent
validates against the official FA(3) XSD, and KSeF holds each invoice once, under our number.

The sweeper (``ksef.sweep``, run by beat in production) is driven from the test: it re-queues rows whose
backoff has passed and hands back claims of a dead worker once their lease (5 s here) runs out.
"""

from __future__ import annotations

import collections
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from accounts.models import Company
from invoices import services as invoice_services
from invoices.models import Invoice, KsefStatus
from ksef_integration.fa3 import schema
from ksef_integration.models import KsefConnection, Submission
from ksef_integration.models import SubmissionStatus as S
from ksef_integration.sending import drain
from ksef_simulator import services_core
from ksef_simulator.conf import config_update
from ksef_simulator.faults import fault_arm
from ksef_simulator.models import FaultRule, SimInvoice
from tests import contract
from tests.conftest import ROOT, _database_url, wait_until
from tests.invoices.factories import issue_data

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.real_broker]

LEASE_SECONDS = 5
SEND_PATH = re.compile(r"/sessions/online/[^/]+/invoices$")
READ_TIMEOUT_SECONDS = 2
# The issue's count is 200. With faults the run takes ~70 s at 200 on 2 shared cores (each of the 20 hangs
# costs a read timeout), so it runs 100 unless KSEF_PROOF_INVOICES says otherwise (CI: 200).
PLAIN = int(os.environ.get("KSEF_PROOF_INVOICES", "200"))
FAULTY = int(os.environ.get("KSEF_PROOF_INVOICES", "100"))
KILLED = int(os.environ.get("KSEF_PROOF_INVOICES", "200"))
ONLINE_ONLY = {"KSEF_SEND_BATCH_THRESHOLD": "1000000"}


# --- a real worker that talks to this test's simulator -------------------------------------------------


class Workers:
    """Starts real ``celery worker`` subprocesses as tests/conftest.py does (the threads pool, as the Procfile
    runs it), plus this module's knobs; each in its own process group, so that SIGKILL reaches every process
    of it (a prefork pool's children too, should the pool change)."""

    def __init__(self, api_url: str, tmp_path: Path) -> None:
        self.api_url = api_url
        self.tmp_path = tmp_path
        self.logs: list[Path] = []
        (tmp_path / "mail").mkdir(exist_ok=True)

    def log_tail(self) -> str:
        return "\n".join(path.read_text(errors="replace")[-2000:] for path in self.logs)

    @contextmanager
    def start(self, **extra_env: str) -> Iterator[subprocess.Popen[bytes]]:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": _database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "CELERY_TASK_DEFAULT_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
            "EMAIL_URL": f"filemail:///{self.tmp_path / 'mail'}",  # django-environ drops one slash
            "PYTHONUNBUFFERED": "1",
            "KSEF_API_URL": self.api_url,
            "KSEF_SEND_BACKOFF_SECONDS": "0.2",
            "KSEF_SEND_LEASE_SECONDS": str(LEASE_SECONDS),
            "KSEF_WORKER_READ_TIMEOUT": str(READ_TIMEOUT_SECONDS),
            **extra_env,
        }
        log_path = self.tmp_path / f"worker-{len(self.logs) + 1}.log"
        self.logs.append(log_path)
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [
                    sys.executable, "-m", "celery", "-A", "ksefportal", "worker",
                    "--loglevel", "INFO", "--concurrency", "1", "--pool", "threads",
                    "--without-gossip", "--without-mingle", "--without-heartbeat",
                    "--queues", settings.CELERY_TASK_DEFAULT_QUEUE,
                ],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        try:
            ready = wait_until(
                lambda: proc.poll() is not None or b"ready." in log_path.read_bytes(), timeout=60
            )
            if not ready or proc.poll() is not None:
                raise RuntimeError("Celery worker did not start:\n" + self.log_tail())
            yield proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)


@pytest.fixture
def workers(postgres_and_redis: None, live_server: Any, tmp_path: Path) -> Workers:
    return Workers(f"{live_server.url}/ksef-sim/v2", tmp_path)


@pytest.fixture
def connected(
    postgres_and_redis: None, live_server: Any, alice_client: Any, company_a: Company
) -> Iterator[KsefConnection]:
    config_update(token_activation_delay=0, auth_delay=0, invoice_processing_delay=0)
    with override_settings(
        KSEF_API_URL=f"{live_server.url}/ksef-sim/v2", KSEF_SEND_LEASE_SECONDS=LEASE_SECONDS
    ):
        _, token = services_core.token_generate(
            nip=company_a.nip, permissions=["InvoiceRead", "InvoiceWrite"], description="portal"
        )
        assert alice_client.post("/uslugi-dodatkowe/ksef/token/", {"token": token}).status_code == 302
        connection = KsefConnection.objects.get(company=company_a)
        connection.auto_send = True
        connection.save(update_fields=["auto_send"])
        yield connection


# --- helpers -------------------------------------------------------------------------------------------


def issue_many(company: Company, count: int, *, tick: Callable[[], None] | None = None) -> list[Invoice]:
    """Issue ``count`` sales invoices; auto_send queues each with ``ksef.send`` on commit."""
    today = timezone.localdate()
    invoices = []
    for _ in range(count):
        invoices.append(
            invoice_services.invoice_issue(
                company=company,
                user=None,
                data=issue_data(issue_date=today, sale_date=today, due_date=today),
            )
        )
        if tick is not None:
            tick()
    return invoices


def accepted_count(company: Company) -> int:
    return Submission.objects.filter(company=company, status=S.ACCEPTED).count()


def drive(company: Company, count: int, *, timeout: float, tick: Callable[[], None] | None = None) -> bool:
    """Wait until all ``count`` are accepted, running the sweeper about once a second (as beat would)."""
    deadline = time.monotonic() + timeout
    last_sweep = 0.0
    while time.monotonic() < deadline:
        if accepted_count(company) == count:
            return True
        if tick is not None:
            tick()
        if time.monotonic() - last_sweep >= 1.0:
            drain.submissions_sweep()
            last_sweep = time.monotonic()
        time.sleep(0.2)
    return accepted_count(company) == count


def assert_exactly_once(company: Company, invoices: list[Invoice], workers: Workers) -> None:
    ours = {invoice.number for invoice in invoices}
    assert len(ours) == len(invoices)
    statuses = collections.Counter(
        Submission.objects.filter(company=company).values_list("status", flat=True)
    )
    assert statuses == {S.ACCEPTED: len(invoices)}, (statuses, workers.log_tail())
    # The simulator holds each of our invoices exactly once (status 200), under our invoice number.
    held = list(
        SimInvoice.objects.filter(context_nip=company.nip, status_code=200, processed=True).values_list(
            "invoice_number", "ksef_number"
        )
    )
    numbers = collections.Counter(number for number, _ in held)
    assert sorted(numbers.elements()) == sorted(ours), "lost or foreign invoices in KSeF"
    assert [n for n, times in numbers.items() if times > 1] == [], "an invoice is in KSeF twice"
    # Each invoice carries the KSeF number KSeF gave its file, and its UPO.
    in_ksef = dict(held)
    hashes = dict(
        SimInvoice.objects.filter(context_nip=company.nip, status_code=200).values_list(
            "ksef_number", "invoice_hash"
        )
    )
    for invoice in Invoice.objects.filter(company=company).select_related("ksef_submission"):
        assert invoice.ksef_status == KsefStatus.ACCEPTED
        assert invoice.ksef_number == in_ksef[invoice.number]
        submission = invoice.ksef_submission
        assert submission.ksef_number == invoice.ksef_number
        assert submission.ksef_number in submission.upo
        # What went to KSeF is valid FA(3), and it is what KSeF holds under that number.
        assert schema.validate(bytes(submission.xml or b"")) == [], invoice.number
        assert submission.xml_sha256_b64 == hashes[submission.ksef_number]


# --- the proofs ----------------------------------------------------------------------------------------


def test_worker_delivers_every_issued_invoice_once(connected: KsefConnection, workers: Workers) -> None:
    company = connected.company
    with workers.start():
        invoices = issue_many(company, PLAIN)
        done = drive(company, PLAIN, timeout=max(60, PLAIN))
        assert done, workers.log_tail()
    assert_exactly_once(company, invoices, workers)


def _faults(total: int) -> list[dict[str, Any]]:
    """20 % of the sends and some status-list calls fail: 429, 503, a hang past the timeout, a lost answer."""
    hang = {"action": "hang", "seconds": READ_TIMEOUT_SECONDS + 1}
    kinds: list[dict[str, Any]] = [
        {"action": "drop"},
        {"action": "503"},
        hang,
        {"action": "429", "seconds": 1},
    ]
    plan: list[dict[str, Any]] = []
    # 20 % of the sends; the statuses come from the session's invoice list, a few calls per round (not one
    # per invoice), so fewer of those fail: one for every 5 send faults.
    sends = max(4, total // 5)
    plan += [{"pattern": "sessions.online.send", **kinds[i % len(kinds)]} for i in range(sends)]
    lists = [
        {"pattern": "sessions.invoices.list", **kinds[i % len(kinds)]} for i in range(max(2, sends // 5))
    ]
    # Spread the list faults evenly among the send faults, so that faults cover the whole run.
    step = max(1, len(plan) // len(lists))
    for index, rule in enumerate(lists):
        plan.insert(min(len(plan), index * (step + 1)), rule)
    return plan


def test_worker_delivers_exactly_once_despite_faults(connected: KsefConnection, workers: Workers) -> None:
    company = connected.company
    pending = _faults(FAULTY)
    armed: list[int] = []

    by_progress: list[int] = []
    start = len(contract.RECORDS)

    def arm_next() -> None:
        # One new rule for every 4 sends KSeF received: each rule hits the next matching call, so faults
        # are spread over the whole run (about 1 send in 5 fails) rather than bunched together.
        sends = sum(1 for e in contract.RECORDS[start:] if e.method == "POST" and SEND_PATH.search(e.path))
        while pending and len(by_progress) <= sends // 4:
            rule = pending.pop(0)
            by_progress.append(fault_arm(count=1, **rule).pk)

    # The one session open of the run: its answer is lost after KSeF opened it, then KSeF is unavailable.
    armed += [fault_arm(pattern="sessions.online.open", action=a).pk for a in ("drop", "503")]
    with workers.start(**ONLINE_ONLY):
        invoices = issue_many(company, FAULTY, tick=arm_next)
        done = drive(company, FAULTY, timeout=max(60, FAULTY), tick=arm_next)
        assert done, workers.log_tail()
    assert_exactly_once(company, invoices, workers)
    assert pending == [], "the run ended before every fault was armed"
    armed += by_progress
    unfired = list(FaultRule.objects.filter(pk__in=armed).values_list("pattern", "action"))
    assert [rule for rule in unfired if rule[0] != "sessions.invoices.list"] == [], unfired
    assert len(unfired) <= 3, f"the run met too few faults: {unfired}"


def test_worker_killed_mid_run_and_restarted_loses_and_doubles_nothing(
    connected: KsefConnection, workers: Workers
) -> None:
    company = connected.company
    # Slow KSeF down a little so that the kill lands in the middle of the run.
    config_update(invoice_processing_delay=300)  # milliseconds
    with workers.start(**ONLINE_ONLY) as first:
        invoices = issue_many(company, KILLED)
        sent = Submission.objects.filter(company=company, status=S.SENT)
        assert wait_until(lambda: sent.count() >= 10, timeout=40), workers.log_tail()
        # Hold the next send inside KSeF (shorter than the read timeout), and kill the worker while it waits:
        # KSeF then keeps the file although we never saw its reference.
        held = fault_arm(pattern="sessions.online.send", action="hang", seconds=1.5)
        assert wait_until(
            lambda: not FaultRule.objects.filter(pk=held.pk).exists(), timeout=20, interval=0.02
        )
        time.sleep(0.2)  # the send is inside KSeF now
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    # The dead worker's round: claimed rows, tied to the session before sending, no reference seen.
    orphans = Submission.objects.filter(company=company, status=S.INFLIGHT, invoice_reference="")
    hashes = set(orphans.exclude(session_reference="").values_list("xml_sha256_b64", flat=True))
    assert hashes, workers.log_tail()
    # KSeF finishes the held send: it has a file of ours whose reference we never saw.
    in_ksef = SimInvoice.objects.filter(context_nip=company.nip, invoice_hash__in=hashes)
    assert wait_until(lambda: in_ksef.count() == 1, timeout=10)
    assert accepted_count(company) < KILLED, (
        "the worker finished before it was killed: the test proved nothing"
    )
    with workers.start(**ONLINE_ONLY):
        done = drive(company, KILLED, timeout=max(60, KILLED))
        assert done, workers.log_tail()
    assert_exactly_once(company, invoices, workers)

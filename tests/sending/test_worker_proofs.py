"""Issue 6 "Must show": a REAL Celery worker (subprocess, Redis, PostgreSQL) delivers every issued invoice
to the simulator exactly once: plainly, with faults in ~20 % of the send/status/open calls, and across a
SIGKILL of the worker. The issue asks for 200 invoices; by default these tests use fewer (60, 40, 40) to
stay fast; ``KSEF_PROOF_INVOICES=200`` runs each with the full count.

The sweeper (``ksef.sweep``, run by beat in production) is driven from the test: it re-queues rows whose
backoff has passed and hands back claims of a dead worker once their lease (5 s here) runs out.
"""

from __future__ import annotations

import collections
import os
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
from ksef_integration.models import KsefConnection, Submission
from ksef_integration.models import SubmissionStatus as S
from ksef_integration.services import send
from ksef_simulator import services_core
from ksef_simulator.conf import config_update
from ksef_simulator.faults import fault_arm
from ksef_simulator.models import SimInvoice
from tests.conftest import ROOT, _database_url, wait_until
from tests.invoices.factories import issue_data

pytestmark = pytest.mark.django_db(transaction=True)

LEASE_SECONDS = 5
READ_TIMEOUT_SECONDS = 2
PLAIN = int(os.environ.get("KSEF_PROOF_INVOICES", "60"))
HARD = int(os.environ.get("KSEF_PROOF_INVOICES", "40"))  # with faults, and across a SIGKILL


# --- a real worker that talks to this test's simulator -------------------------------------------------


class Workers:
    """Starts real ``celery worker`` subprocesses as tests/conftest.py does, plus this module's knobs; each in
    its own process group, so that SIGKILL reaches the pool child running the task, not only the parent."""

    def __init__(self, api_url: str, tmp_path: Path) -> None:
        self.api_url = api_url
        self.tmp_path = tmp_path
        self.logs: list[Path] = []
        (tmp_path / "mail").mkdir(exist_ok=True)

    def log_tail(self) -> str:
        return "\n".join(path.read_text(errors="replace")[-2000:] for path in self.logs)

    @contextmanager
    def start(self) -> Iterator[subprocess.Popen[bytes]]:
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
        }
        log_path = self.tmp_path / f"worker-{len(self.logs) + 1}.log"
        self.logs.append(log_path)
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [
                    sys.executable, "-m", "celery", "-A", "ksefportal", "worker",
                    "--loglevel", "INFO", "--concurrency", "1", "--pool", "prefork",
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


def issue_many(company: Company, count: int) -> list[Invoice]:
    """Issue ``count`` sales invoices; auto_send queues each with ``ksef.send`` on commit."""
    today = timezone.localdate()
    return [
        invoice_services.invoice_issue(
            company=company,
            user=None,
            data=issue_data(issue_date=today, sale_date=today, due_date=today),
        )
        for _ in range(count)
    ]


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
            send.submissions_sweep()
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
    for invoice in Invoice.objects.filter(company=company).select_related("ksef_submission"):
        assert invoice.ksef_status == KsefStatus.ACCEPTED
        assert invoice.ksef_number == in_ksef[invoice.number]
        submission = invoice.ksef_submission
        assert submission.ksef_number == invoice.ksef_number
        assert submission.ksef_number in submission.upo


# --- the proofs ----------------------------------------------------------------------------------------


def test_worker_delivers_every_issued_invoice_once(connected: KsefConnection, workers: Workers) -> None:
    company = connected.company
    with workers.start():
        invoices = issue_many(company, PLAIN)
        done = drive(company, PLAIN, timeout=max(60, PLAIN))
        assert done, workers.log_tail()
    assert_exactly_once(company, invoices, workers)


def _faults(total: int) -> list[dict[str, Any]]:
    """~20 % of the send, status and open calls: 429, 503, a hang past the read timeout, a dropped answer."""
    hang = {"action": "hang", "seconds": READ_TIMEOUT_SECONDS + 1}
    kinds: list[dict[str, Any]] = [
        {"action": "drop"},
        {"action": "503"},
        hang,
        {"action": "429", "seconds": 1},
    ]
    plan: list[dict[str, Any]] = []
    per_endpoint = max(4, total // 5)
    for endpoint in ("sessions.online.send", "sessions.invoices.status"):
        plan += [{"pattern": endpoint, **kinds[i % len(kinds)]} for i in range(per_endpoint)]
    # Interleave the endpoints so that faults are spread over the run, not bunched at its start.
    return sorted(plan, key=lambda rule: (plan.index(rule) % per_endpoint, rule["pattern"]))


def test_worker_delivers_exactly_once_despite_faults(connected: KsefConnection, workers: Workers) -> None:
    company = connected.company
    pending = _faults(HARD)
    armed: list[int] = []

    def arm_next() -> None:
        # One new rule per tick: each hits the next matching call, so faults are spread over the run.
        if pending:
            rule = pending.pop(0)
            armed.append(fault_arm(count=1, **rule).pk)

    # The one session open of the run: its answer is lost after KSeF opened it, then KSeF is unavailable.
    armed += [fault_arm(pattern="sessions.online.open", action=a).pk for a in ("drop", "503")]
    with workers.start():
        invoices = issue_many(company, HARD)
        done = drive(company, HARD, timeout=max(60, HARD), tick=arm_next)
        assert done, workers.log_tail()
    assert_exactly_once(company, invoices, workers)
    from ksef_simulator.models import FaultRule

    unfired = list(FaultRule.objects.filter(pk__in=armed).values_list("pattern", "action"))
    assert [rule for rule in unfired if rule[0] != "sessions.invoices.status"] == [], unfired
    assert len(unfired) <= 3, f"the run met too few faults: {unfired}"


def test_worker_killed_mid_run_and_restarted_loses_and_doubles_nothing(
    connected: KsefConnection, workers: Workers
) -> None:
    company = connected.company
    # Slow KSeF down a little so that the kill lands in the middle of the run.
    config_update(invoice_processing_delay=300)  # milliseconds
    with workers.start() as first:
        invoices = issue_many(company, HARD)
        sent = Submission.objects.filter(company=company, status=S.SENT)
        assert wait_until(lambda: sent.count() >= 10, timeout=40), workers.log_tail()
        # Hold the next send inside KSeF (shorter than the read timeout), and kill the worker while it waits:
        # KSeF then keeps the file although we never saw its reference.
        fault_arm(pattern="sessions.online.send", action="hang", seconds=1.5)
        inflight = Submission.objects.filter(company=company, status=S.INFLIGHT)
        assert wait_until(inflight.exists, timeout=20, interval=0.05), workers.log_tail()
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    assert inflight.filter(invoice_reference="").count() == 1
    assert accepted_count(company) < HARD, "the worker finished before it was killed: the test proved nothing"
    with workers.start():
        done = drive(company, HARD, timeout=max(60, HARD))
        assert done, workers.log_tail()
    assert_exactly_once(company, invoices, workers)

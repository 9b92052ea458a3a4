"""Issue 8 "Must show", end to end with a REAL Celery worker (subprocess, PostgreSQL, Redis): KSeF (the
simulator) is switched to unavailable → 20 invoices are issued, each with KOD I and KOD II → KSeF is back →
the worker delivers all 20 with ``offlineMode: true``; KSeF accepts each once, as ``invoicingMode`` Offline.

The first invoice is issued offline24 by choice; the worker's failed attempts to send it mark KSeF
unavailable, so the other 19 are issued offline automatically. Recovery is noticed by ``ksef.offline_probe``
(beat, every minute in production; queued by the test here), which makes the waiting invoices due at once.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from accounts.models import Company
from invoices import services as invoice_services
from invoices.models import Invoice, KsefStatus
from invoices.visualisation import qr_codes
from ksef_integration import tasks
from ksef_integration.ksef.qr import LABEL_CERTIFICATE, LABEL_OFFLINE
from ksef_integration.models import KsefAvailability, KsefConnection, OfflineInvoice, Submission
from ksef_integration.models import SubmissionStatus as S
from ksef_integration.sending import drain
from ksef_simulator.conf import config_update
from ksef_simulator.models import SimInvoice
from ksef_simulator.pages.qr import qr_link_verify
from tests.conftest import ROOT, _database_url, wait_until
from tests.invoices.factories import issue_data
from tests.offline.conftest import upload_certificate

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.real_broker]

COUNT = 20


@pytest.fixture
def worker(postgres_and_redis: None, live_server: Any, tmp_path: Path) -> Iterator[Path]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_TASK_DEFAULT_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
        "EMAIL_URL": f"filemail:///{tmp_path}",
        "PYTHONUNBUFFERED": "1",
        "KSEF_API_URL": f"{live_server.url}/ksef-sim/v2",
        "KSEF_SEND_BACKOFF_SECONDS": "0.5",
        "KSEF_SEND_LEASE_SECONDS": "10",
        "KSEF_WORKER_READ_TIMEOUT": "3",
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
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        ready = wait_until(lambda: proc.poll() is not None or b"ready." in log_path.read_bytes(), timeout=60)
        assert ready, log_path.read_text(errors="replace")
        assert proc.poll() is None, log_path.read_text(errors="replace")
        yield log_path
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _issue(company: Company, *, offline24: bool = False) -> Invoice:
    today = timezone.localdate()
    data = issue_data(
        issue_date=today, sale_date=today, due_date=today, ksef_offline_mode="offline24" if offline24 else ""
    )
    return invoice_services.invoice_issue(company=company, user=None, data=data)


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


def test_twenty_invoices_issued_while_ksef_is_down_are_all_delivered_offline_once(
    connected: KsefConnection, worker: Path
) -> None:
    company = connected.company
    upload_certificate(company)
    started = time.monotonic()
    config_update(unavailable=True)

    first = _issue(company, offline24=True)
    unavailable = KsefAvailability.objects.filter(company=company, unavailable_since__isnull=False)
    assert wait_until(unavailable.exists, timeout=60), _tail(worker)
    invoices = [first] + [_issue(company) for _ in range(COUNT - 1)]

    reasons = collections.Counter(
        OfflineInvoice.objects.filter(company=company).values_list("reason", flat=True)
    )
    assert reasons == {OfflineInvoice.Reason.CHOSEN: 1, OfflineInvoice.Reason.UNREACHABLE: COUNT - 1}
    for invoice in Invoice.objects.filter(company=company):
        assert invoice.ksef_status == KsefStatus.OFFLINE
        codes = qr_codes(invoice)
        assert [code.label for code in codes] == [LABEL_OFFLINE, LABEL_CERTIFICATE]
        assert qr_link_verify(codes[1].url).ok, codes[1].url
    assert not SimInvoice.objects.filter(seller_nip=company.nip).exists()

    config_update(unavailable=False)
    tasks.offline_probe.delay()
    deadline = time.monotonic() + 90
    last_sweep = 0.0
    accepted = Submission.objects.filter(company=company, status=S.ACCEPTED)
    while accepted.count() < COUNT and time.monotonic() < deadline:
        if time.monotonic() - last_sweep >= 2.0:  # as beat would
            drain.submissions_sweep()
            last_sweep = time.monotonic()
        time.sleep(0.2)
    assert accepted.count() == COUNT, _tail(worker)
    elapsed = time.monotonic() - started

    # KSeF holds each of our invoices exactly once, accepted, sent with offlineMode and marked Offline.
    held = list(
        SimInvoice.objects.filter(seller_nip=company.nip).values_list(
            "invoice_number", "status_code", "offline_requested", "invoicing_mode", "ksef_number"
        )
    )
    numbers = collections.Counter(row[0] for row in held)
    assert sorted(numbers) == sorted(invoice.number for invoice in invoices)
    assert set(numbers.values()) == {1}, "an invoice reached KSeF twice"
    assert {row[1:4] for row in held} == {(200, True, "Offline")}
    in_ksef = {row[0]: row[4] for row in held}
    for invoice in Invoice.objects.filter(company=company):
        assert invoice.ksef_status == KsefStatus.ACCEPTED
        assert invoice.ksef_number == in_ksef[invoice.number]
        assert qr_codes(invoice)[0].label == invoice.ksef_number  # the KSeF number replaces OFFLINE
    assert not unavailable.exists()
    print(f"\n{COUNT} offline invoices: issued, recovered and delivered in {elapsed:.1f} s")

"""A real Celery worker (subprocess, Redis, PostgreSQL): "Pobierz teraz" → invoices from the simulator, also
across a SIGKILL of the worker in the middle of an import."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from invoices.models import Invoice
from ksef_integration import queue
from ksef_integration.importing import services as importing
from ksef_integration.models import ImportRun, KsefConnection
from ksef_simulator import services_invoices
from ksef_simulator.api import exports as sim_exports
from tests.conftest import ROOT, _database_url, wait_until
from tests.importing.conftest import START

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.real_broker]


@pytest.fixture
def simulator_url_for_worker(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Set before the worker fixture starts, so the subprocess talks to this test's simulator.
    monkeypatch.setenv("KSEF_API_URL", f"{live_server.url}/ksef-sim/v2")


def test_download_now_imports_through_a_real_worker(
    simulator_url_for_worker: None,
    celery_worker_process: dict[str, Any],
    connected: KsefConnection,
    alice_client: Any,
) -> None:
    company = connected.company
    generated = services_invoices.invoices_generate(
        buyer_nip=company.nip, count=25, date_from=START, date_to=START.replace(month=10), sellers=4, seed=11
    )
    response = alice_client.post("/ustawienia/ksef/pobierz-teraz/")
    assert response.status_code == 302
    imported = wait_until(lambda: Invoice.objects.filter(company=company).count() == 25, timeout=60)
    log = celery_worker_process["log"].read_text(errors="replace")
    assert imported, log[-3000:]
    numbers = Invoice.objects.filter(company=company).values_list("ksef_number", flat=True)
    assert set(numbers) == set(generated)
    runs = ImportRun.objects.filter(company=company, status=ImportRun.Status.SUCCEEDED)
    assert wait_until(runs.exists, timeout=30)


def _kill_worker(proc: Any) -> None:
    """SIGKILL the worker and its children if any (a prefork pool's; the threads pool has none)."""
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    for pid in [proc.pid, *map(int, children)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=10)
    for pid in map(int, children):  # gone: /proc has no such process (or a zombie without parent)
        assert wait_until(lambda pid=pid: not Path(f"/proc/{pid}").exists() or _zombie(pid), timeout=10)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def _start_worker(tmp_path: Path) -> subprocess.Popen[bytes]:
    """A second real worker, started like ``celery_worker_process`` does (the restart after the kill)."""
    log_path = tmp_path / "worker-2.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_TASK_DEFAULT_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
        "PYTHONUNBUFFERED": "1",
    }
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
    assert wait_until(lambda: proc.poll() is not None or b"ready." in log_path.read_bytes(), timeout=60)
    assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
    return proc


def test_sigkill_of_the_worker_mid_import_then_a_rerun_leaves_no_gaps_and_no_duplicates(
    simulator_url_for_worker: None,
    celery_worker_process: dict[str, Any],
    connected: KsefConnection,
    alice_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    company = connected.company
    monkeypatch.setattr(sim_exports, "MAX_INVOICES", 40)  # the simulator runs in this process: many windows
    generated = services_invoices.invoices_generate(
        buyer_nip=company.nip,
        count=600,
        date_from=START,
        date_to=START.replace(month=11),
        sellers=30,
        seed=12,
    )
    invoices = Invoice.objects.filter(company=company)
    assert alice_client.post("/ustawienia/ksef/pobierz-teraz/").status_code == 302
    # kill -9 once some, but not all, of the invoices are in
    assert wait_until(lambda: invoices.count() >= 80, timeout=60, interval=0.02)
    _kill_worker(celery_worker_process["process"])
    killed_at = time.monotonic()
    at_kill = invoices.count()
    assert 0 < at_kill < 600, at_kill
    killed = ImportRun.objects.get(company=company)
    assert killed.status == ImportRun.Status.RUNNING  # nobody finished it: the worker died
    # what was committed is consistent: no duplicates, only invoices KSeF has
    numbers = list(invoices.values_list("ksef_number", flat=True))
    assert len(numbers) == len(set(numbers))
    assert set(numbers) <= set(generated)

    # time passes beyond the lease of the dead run; a new worker starts and the owner presses the button again
    ImportRun.objects.filter(pk=killed.pk).update(heartbeat_at=timezone.now() - importing.LEASE * 2)
    worker = _start_worker(tmp_path)
    try:
        # The next turn the dead worker queued and had taken is lost with it (acks_late: back only after the
        # broker's visibility timeout); its queue marker holds back a new import for MARKER_SECONDS, so the
        # press must come later than that (else nothing is queued: seen when the new worker started fast).
        time.sleep(max(0.0, killed_at + queue.MARKER_SECONDS - time.monotonic()))
        assert alice_client.post("/ustawienia/ksef/pobierz-teraz/").status_code == 302
        done = ImportRun.objects.filter(company=company, status=ImportRun.Status.SUCCEEDED)
        assert wait_until(done.exists, timeout=120), (tmp_path / "worker-2.log").read_text()[-3000:]
    finally:
        worker.terminate()
        worker.wait(timeout=20)
    numbers = list(invoices.values_list("ksef_number", flat=True))
    assert len(numbers) == len(set(numbers)) == 600
    assert set(numbers) == set(generated)
    killed.refresh_from_db()
    assert killed.status == ImportRun.Status.ABANDONED
    assert done.get().invoices_new == 600 - at_kill

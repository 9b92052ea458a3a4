"""A real Celery worker (subprocess, Redis, PostgreSQL): "Pobierz teraz" → invoices from the simulator."""

from __future__ import annotations

from typing import Any

import pytest

from invoices.models import Invoice
from ksef_integration.models import ImportRun, KsefConnection
from ksef_simulator import services_invoices
from tests.conftest import wait_until
from tests.importing.conftest import START

pytestmark = pytest.mark.django_db(transaction=True)


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

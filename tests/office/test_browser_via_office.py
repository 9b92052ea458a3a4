"""Issue 20 in a real browser, with a real Celery worker: the client's owner grants the accounting office
InvoiceRead in KSeF (the simulator's Aplikacja Podatnika) → the office's user chooses "Pobieraj przez biuro",
"Pobierz teraz" imports with the office's own certificate → Biuro shows the client with its counts → the
owner revokes in KSeF → the next "Pobierz teraz" is refused and Biuro shows the client as "brak uprawnień".

Two browser contexts: the owner's (the simulator's pages) and the office's user (the portal on a phone).
The worker is a subprocess against this test's PostgreSQL and Redis, talking to the simulator on
``live_server``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import Company, Role, User
from ksef_integration.models import ImportRun, KsefConnection
from ksef_simulator import services_invoices
from ksef_simulator.conf import config_update
from tests.conftest import screenshot, wait_until
from tests.factories import MembershipFactory
from tests.office.test_via_office import connect_with_certificate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.real_broker]

PURCHASES = 3


@pytest.fixture
def simulator_for_the_worker(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Where the worker subprocess (started after this) and this process find the simulator."""
    api_url = f"{live_server.url}/ksef-sim/v2"
    monkeypatch.setenv("KSEF_API_URL", api_url)
    config_update(
        token_activation_delay=0, auth_delay=0, permission_operation_delay=0, invoice_processing_delay=0,
        permanent_storage_lag=0, hwm_lag=0,
    )  # fmt: skip
    with override_settings(KSEF_API_URL=api_url):
        yield api_url


@pytest.fixture
def worker(simulator_for_the_worker: str, celery_worker_process: dict[str, Any]) -> dict[str, Any]:
    return celery_worker_process


def _import_now(page: Any, worker: dict[str, Any], company: Company, status: str) -> None:
    before = ImportRun.objects.filter(company=company).count()
    page.goto("/ustawienia/ksef/")
    page.get_by_role("button", name="Pobierz teraz").click()
    page.wait_for_url("**/ustawienia/ksef/")
    finished = wait_until(
        lambda: (
            ImportRun.objects.filter(company=company, status=status).count() > 0
            and ImportRun.objects.filter(company=company).count() > before
        ),
        timeout=60,
    )
    assert finished, worker["log"].read_text(errors="replace")[-3000:]


def test_grant_then_biuro_counts_then_revoke_then_brak_uprawnien(
    worker: dict[str, Any],
    live_server: Any,
    chromium: Any,
    page: Any,
    client: Any,
    company_a: Company,
    company_b: Company,
    bob: User,
) -> None:
    client_company, office = company_a, company_b
    connect_with_certificate(office, bob)  # the office, on its own KSeF certificate
    MembershipFactory.create(user=bob, company=client_company, role=Role.ACCOUNTANT)
    today = timezone.localdate()
    services_invoices.invoices_generate(
        buyer_nip=client_company.nip, count=PURCHASES, date_from=today - dt.timedelta(days=2), date_to=today,
        sellers=2,
    )  # fmt: skip

    # The client's owner, in KSeF's own application: Uprawnienia → Nadaj uprawnienia podmiotowi.
    owner = chromium.new_context(base_url=live_server.url, locale="pl-PL")
    owner.set_default_timeout(15_000)
    ksef = owner.new_page()
    ksef.goto("/ksef-sim/")
    ksef.fill("#id_nip", client_company.nip)
    ksef.get_by_role("button", name="Zaloguj się").click()
    ksef.goto("/ksef-sim/uprawnienia/")
    ksef.fill("#id_entity-nip", office.nip)
    ksef.fill("#id_entity-full_name", office.name)
    ksef.check("input[name='entity-permissions'][value='InvoiceRead']")
    ksef.fill("#id_entity-description", "Obsługa księgowa")
    ksef.locator("form[action$='/podmiot/'] button").click()
    ksef.get_by_text(f"NIP {office.nip}").first.wait_for()
    screenshot(ksef, "via-office-1-ksef-grant")

    # The office's user works in the client's company (the switcher), on a phone.
    client.force_login(bob)
    assert client.post(reverse("accounts:company_switch", args=[client_company.uuid])).status_code == 302
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page.goto("/ustawienia/ksef/")
    page.select_option("#via-office-choice", str(office.uuid))
    page.locator("#via-office-submit").click()
    page.wait_for_url("**/ustawienia/ksef/")
    assert office.nip in page.locator("#ksef-method").inner_text()
    screenshot(page, "via-office-2-connected")
    _import_now(page, worker, client_company, ImportRun.Status.SUCCEEDED)

    page.goto("/biuro/")
    card = page.locator(f"#client-{client_company.nip}")
    assert card.get_attribute("data-health") == "active"
    assert card.locator("[data-field=new]").inner_text() == str(PURCHASES)
    assert card.locator("[data-field=waiting]").inner_text() == "0"
    assert card.locator("[data-field=rejected]").inner_text() == "0"
    assert card.locator("[data-field=import]").inner_text() != "—"
    assert page.locator(f"#client-{office.nip}").get_attribute("data-health") == "active"
    screenshot(page, "via-office-3-biuro")

    # The owner takes the permission back in KSeF.
    ksef.goto("/ksef-sim/uprawnienia/")
    ksef.get_by_role("button", name="Odbierz").click()
    ksef.get_by_text("Nikomu nie nadano uprawnień").wait_for()
    owner.close()

    _import_now(page, worker, client_company, ImportRun.Status.FAILED)
    page.goto("/biuro/")
    card = page.locator(f"#client-{client_company.nip}")
    assert card.get_attribute("data-health") == "no_permissions"
    assert "brak uprawnień" in card.locator("[data-field=health]").inner_text()
    assert "office-row--problem" in card.get_attribute("class")  # counted among those needing attention
    assert card.locator("[data-field=new]").inner_text() == str(PURCHASES)  # what was imported stays
    screenshot(page, "via-office-4-brak-uprawnien")
    page.goto("/ustawienia/ksef/")
    reason = KsefConnection.objects.get(company=client_company).attention_reason
    assert office.nip in reason
    assert reason in page.locator("#ksef-status").locator("..").inner_text()

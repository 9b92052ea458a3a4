"""Issue 22 "Must show" in a real browser: an invoice issued on Wystaw shows "w kolejce", a real Celery
worker sends it, and the invoice page turns to "przyjęta przez KSeF" with its KSeF number and KOD I without
a reload; the buyer's e-mail leaves once KSeF accepted it; Dokumenty and Start follow too. And the connect
flow shows its steps while KSeF is asked.

The worker is started only after the page shows the invoice queued (the message waits in Redis), so the
change is watched, not raced.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import override_settings

from invoices.models import Invoice, KsefStatus
from ksef_integration.models import InvoiceDelivery, KsefConnection
from ksef_simulator import services_core
from ksef_simulator.conf import config_update
from tests.conftest import screenshot, wait_until
from tests.test_browser_send import connected, simulator_for_the_worker  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.real_broker, pytest.mark.browser]

BUYER = "faktury@lecki.example"


def _login(page: Any, client: Any, live_server: Any) -> None:
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )


def test_an_issued_invoice_goes_from_queued_to_accepted_without_a_reload(
    connected: KsefConnection,  # noqa: F811
    alice_client: Any,
    page: Any,
    live_server: Any,
    request: pytest.FixtureRequest,
) -> None:
    _login(page, alice_client, live_server)
    page.goto("/dokumenty/wystaw/")
    page.fill("#id_nip", "5260250274")
    page.fill("#id_name", "Zakład Usług Różnych Łęcki")
    page.fill("#id_address_line1", "ul. Źródlana 5")
    page.fill("#id_address_line2", "00-950 Warszawa")
    page.fill("#id_delivery_email", BUYER)
    page.fill("#id_lines-0-name", "Wdrożenie KSeF")
    page.fill("#id_lines-0-unit_price", "1500")
    page.get_by_role("button", name="Wystaw fakturę").click()
    page.wait_for_url(re.compile(r"/dokumenty/[0-9a-f-]{36}/$"))

    status = page.locator("#ksef-card .ksef-status")
    assert status.inner_text() == "w kolejce"
    assert page.locator("#invoice-document img, #invoice-document svg").count() == 0  # no KOD I yet
    page.locator("#delivery-panel").wait_for()
    assert InvoiceDelivery.objects.count() == 0  # nothing e-mailed before KSeF accepted it
    page.evaluate("window.__notReloaded = true")
    screenshot(page, "live-1-queued")

    # Dokumenty in a second tab, also left alone.
    listing = page.context.new_page()
    listing.goto("/dokumenty/")
    invoice = Invoice.objects.get(company=connected.company)
    cell = listing.locator(f"#doc-status-{invoice.uuid}")
    assert cell.inner_text() == "w kolejce"
    listing.evaluate("window.__notReloaded = true")

    worker = request.getfixturevalue("celery_worker_process")  # now the queued message is sent
    status.filter(has_text="przyjęta przez KSeF").wait_for(timeout=60_000)
    invoice.refresh_from_db()
    assert invoice.ksef_status == KsefStatus.ACCEPTED, worker["log"].read_text(errors="replace")[-3000:]
    assert page.evaluate("window.__notReloaded") is True
    assert page.locator("#ksef-card .mono").first.inner_text() == invoice.ksef_number
    # The document came along with the status: KOD I with the KSeF number is drawn now.
    page.locator("#invoice-document").filter(has_text=invoice.ksef_number).wait_for()
    # …and so did the head: "Korekta" is a link now (it waited for the KSeF number).
    page.locator("#invoice-head a").filter(has_text="Korekta").wait_for()
    assert page.locator("#correction-waits").count() == 0
    screenshot(page, "live-2-accepted")

    # The buyer's e-mail follows KSeF's acceptance; the log on the page says so, without a reload.
    page.locator('#delivery-panel .delivery[data-status="sent"]').wait_for(timeout=30_000)
    assert page.evaluate("window.__notReloaded") is True
    assert wait_until(
        lambda: any(BUYER in p.read_text(errors="replace") for p in worker["mail_dir"].iterdir())
    )
    screenshot(page, "live-3-emailed")

    cell.filter(has_text="przyjęta przez KSeF").wait_for(timeout=30_000)
    assert listing.evaluate("window.__notReloaded") is True
    assert listing.locator("#doc-live[hx-trigger]").count() == 0  # nothing moves: the list stopped asking


def test_the_connect_flow_shows_its_steps_while_ksef_is_asked(
    simulator_for_the_worker: str,  # noqa: F811
    alice_client: Any,
    company_a: Any,
    page: Any,
    live_server: Any,
) -> None:
    config_update(token_activation_delay=0, auth_delay=2500, invoice_processing_delay=0)
    _, token = services_core.token_generate(
        nip=company_a.nip, permissions=["InvoiceRead", "InvoiceWrite"], description="portal"
    )
    _login(page, alice_client, live_server)
    with override_settings(KSEF_API_URL=simulator_for_the_worker):
        page.goto("/uslugi-dodatkowe/ksef/token/")
        page.get_by_label("Numer tokena").fill(token)
        # What the list shows is written down as it changes (sessionStorage outlives the navigation to
        # "Gotowe!"; Playwright's locators wait for a pending navigation, so they cannot look meanwhile).
        page.evaluate(
            """() => new MutationObserver(() => {
                 const list = document.querySelector('#connect-progress');
                 if (!list || list.hidden) return;
                 const seen = JSON.parse(sessionStorage.getItem('seen') || '[]');
                 seen.push([...list.querySelectorAll('li')].map(li => li.dataset.step + ':' + li.className));
                 sessionStorage.setItem('seen', JSON.stringify(seen));
               }).observe(document.body, {subtree: true, childList: true, attributes: true})"""
        )
        button = page.get_by_role("button", name="Integruj z KSeF")
        button.click()
        page.wait_for_url("**/gotowe/", timeout=30_000)
    assert "Gotowe!" in page.locator("h1").inner_text()
    seen = page.evaluate("JSON.parse(sessionStorage.getItem('seen') || '[]')")
    # While KSeF was asked: the token checked, the login awaited; the list asked again as it went.
    assert ["checked:is-done", "logged_in:is-current", "permissions:"] in seen, seen

"""Issue 8 as a user sees it in Chromium: the "Praca w trybie offline" tab, Wystaw with offline24 chosen,
and the invoice page with KOD I (OFFLINE), KOD II (CERTYFIKAT) and the legal deadline."""

from __future__ import annotations

import re
from typing import Any

import pytest

from invoices.models import Invoice, KsefOfflineMode, KsefStatus
from ksef_integration.ksef.qr import LABEL_CERTIFICATE, LABEL_OFFLINE
from ksef_integration.models import KsefConnection, Submission
from ksef_integration.sending.display import ksef_qr_codes
from tests.conftest import screenshot
from tests.offline.conftest import upload_certificate

pytestmark = pytest.mark.django_db(transaction=True)


def log_in(page: Any, alice_client: Any, live_server: Any) -> None:
    page.context.add_cookies(
        [{"name": "sessionid", "value": alice_client.cookies["sessionid"].value, "url": live_server.url}]
    )


def test_offline_tab_then_wystaw_offline24_shows_both_codes_and_the_deadline(
    connected: KsefConnection,
    alice_client: Any,
    page: Any,
    live_server: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log_in(page, alice_client, live_server)

    page.goto("/uslugi-dodatkowe/ksef/?zakladka=offline")
    tab = page.locator("[role=tabpanel]")
    tab.wait_for()
    assert "offline24" in tab.inner_text()
    assert page.get_by_role("link", name=re.compile("certyfikat", re.I)).count() >= 1
    screenshot(page, "offline-1-zakladka-bez-certyfikatu")

    upload_certificate(connected.company, key_type="EC")
    page.goto("/ustawienia/ksef/")
    screenshot(page, "offline-2-ustawienia-z-certyfikatem")

    page.goto("/dokumenty/wystaw/")
    page.fill("#id_nip", "5260250274")
    page.fill("#id_name", "Zakład Usług Różnych Łęcki")
    page.fill("#id_address_line1", "ul. Źródlana 5")
    page.fill("#id_address_line2", "00-950 Warszawa")
    page.fill("#id_lines-0-name", "Serwis awaryjny")
    page.fill("#id_lines-0-quantity", "1")
    page.fill("#id_lines-0-unit_price", "1000")
    page.select_option("#id_lines-0-vat_rate", "23")
    page.check("#id_offline24")
    screenshot(page, "offline-3-wystaw-offline24")
    page.get_by_role("button", name="Wystaw fakturę").click()
    page.wait_for_url(re.compile(r"/dokumenty/[0-9a-f-]{36}/$"))

    invoice = Invoice.objects.get(company=connected.company)
    assert (invoice.ksef_offline_mode, invoice.ksef_status) == (KsefOfflineMode.OFFLINE24, KsefStatus.OFFLINE)
    assert Submission.objects.filter(invoice=invoice).count() == 1
    kod1, kod2 = ksef_qr_codes(invoice)
    assert (kod1.label, kod2.label) == (LABEL_OFFLINE, LABEL_CERTIFICATE)

    html = page.content()
    assert kod1.url in html
    # KOD II is signed on each render (RSA-PSS and ECDSA signatures are randomised): all but the signature.
    assert kod2.url.rsplit("/", 1)[0] + "/" in html
    body = page.locator("body").inner_text()
    assert LABEL_OFFLINE in body
    assert LABEL_CERTIFICATE in body
    assert "pozostało" in body  # the deadline counts down
    screenshot(page, "offline-4-faktura-offline")

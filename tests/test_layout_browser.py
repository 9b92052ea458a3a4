"""What a phone (390 px) shows: no page is wider than the screen and no tab label is cut off."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Company
from ksef_integration.encryption import secret_encrypt
from ksef_integration.models import AuthMethod
from tests.conftest import screenshot
from tests.factories import active_connection

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = [
    "/",
    "/uslugi-dodatkowe/ksef/",
    "/dokumenty/",
    "/dokumenty/?direction=purchase",
    "/ustawienia/ksef/",
    "/biuro/",
]
OVERFLOWING = """() => [...document.querySelectorAll('.tabs, .tab, h1, h2, .button, .card')]
    .filter(el => el.scrollWidth > el.clientWidth + 1).map(el => el.textContent.trim())"""


def test_no_page_is_wider_than_a_phone_and_no_tab_is_cut_off(
    page: Any, live_server: Any, alice_client: Any, company_a: Company
) -> None:
    page.context.add_cookies(
        [{"name": "sessionid", "value": alice_client.cookies["sessionid"].value, "url": live_server.url}]
    )
    for path in PAGES:
        page.goto(path)
        name = path.strip("/").replace("/", "-").replace("?direction=", "-") or "start"
        screenshot(page, f"layout-390-{name}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
        assert page.evaluate(OVERFLOWING) == [], path


def test_a_long_certificate_serial_stays_inside_its_card(
    page: Any, live_server: Any, alice_client: Any, company_a: Company
) -> None:
    """Dane i ustawienia → KSeF of a company connected by certificate: a serial of 40 hex digits (what some
    issuers write; KSeF's own are 16) wraps instead of running out of the Połączenie card."""
    serial = "493DC36A1E2249E1FF8F4D258037E9EE818AFB21"
    active_connection(
        company_a,
        method=AuthMethod.CERTIFICATE,
        certificate_serial=serial,
        token_ciphertext="",
        private_key_ciphertext=secret_encrypt("not-a-real-key"),
        certificate_pem="not-a-real-certificate",
    )
    page.context.add_cookies(
        [{"name": "sessionid", "value": alice_client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page.goto("/ustawienia/ksef/")
    screenshot(page, "layout-390-ustawienia-ksef-certyfikat")
    assert serial in page.content()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.evaluate(OVERFLOWING) == []


def test_the_purchase_inbox_is_a_list_of_cards_on_a_phone(
    page: Any, live_server: Any, alice_client: Any, company_a: Company
) -> None:
    """Zakupy → Do zapłaty at 390 px: each invoice is a card whose number, KSeF number, seller, due date,
    amount and status stay inside the screen (nothing to scroll sideways), the tick is a finger's size."""
    from tests.payments.inbox_helpers import purchase_invoice

    for index in range(3):
        purchase_invoice(
            company_a,
            number=f"FZ/2026/11/{index}/ODDZIAŁ-POZNAŃ-WSCHÓD",
            seller_name="Przedsiębiorstwo Handlowo-Usługowe Młyn Zbożowy Spółka Akcyjna",
            gross="1234567.89",
        )
    page.context.add_cookies(
        [{"name": "sessionid", "value": alice_client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page.goto("/dokumenty/do-zaplaty/")
    screenshot(page, "layout-390-do-zaplaty")
    assert page.locator("tr.inbox-row").count() == 3
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.evaluate(OVERFLOWING) == []
    outside = page.evaluate(
        """() => [...document.querySelectorAll('.inbox-row, .inbox-row td, .inbox-row .mono-small')]
        .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1
            || el.scrollWidth > el.clientWidth + 1)
        .map(el => el.className || el.textContent.trim().slice(0, 40))"""
    )
    assert outside == []
    # the amount is labelled and below the seller, not in a column off-screen
    row = page.locator("tr.inbox-row").first
    seller_box = row.locator("td[data-label]").first.bounding_box()
    amount_box = row.locator("td.num").bounding_box()
    assert amount_box["y"] > seller_box["y"]
    assert row.locator('input[name="invoice"]').bounding_box()["width"] >= 20

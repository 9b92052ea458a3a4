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

PAGES = ["/", "/uslugi-dodatkowe/ksef/", "/dokumenty/", "/dokumenty/?direction=purchase", "/ustawienia/ksef/"]
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

"""Issue 19 in a browser: Wystaw's live totals for gross prices, a margin scheme and a discount on the whole
invoice are the amounts the server then saves (and FA(3) states)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from accounts.models import Company
from invoices.models import Invoice

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_live_totals_follow_gross_prices_a_margin_scheme_and_an_invoice_discount(
    alice_client: Any, company_a: Company, page: Any, live_server: Any
) -> None:
    page.context.add_cookies(
        [{"name": "sessionid", "value": alice_client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page.goto("/dokumenty/wystaw/")
    page.fill("#id_name", "Kawiarnia Sp. z o.o.")
    page.fill("#id_nip", "5260250274")
    page.fill("#id_address_line1", "ul. Prosta 1")
    page.fill("#id_lines-0-name", "Kawa")
    page.fill("#id_lines-0-quantity", "3")
    page.fill("#id_lines-0-unit_price", "12,30")
    page.select_option("#id_lines-0-vat_rate", "23")
    page.locator("[data-add-line]").click()
    page.fill("#id_lines-1-name", "Ciastko")
    page.fill("#id_lines-1-quantity", "1")
    page.fill("#id_lines-1-unit_price", "8,99")
    page.select_option("#id_lines-1-vat_rate", "8")
    page.check("#id_prices_gross")
    page.fill("#id_discount_percent", "5")
    # 36.90 - 1.85 = 35.05 gross at 23 % (tax 6.55 out of it), 8.99 - 0.45 = 8.54 at 8 % (tax 0.63)
    totals = page.locator("[data-totals]")
    totals.locator("[data-total-gross]").filter(has_text="43,59").wait_for()
    assert totals.locator("[data-total-vat]").inner_text() == "7,18"
    assert totals.locator("[data-total-net]").inner_text() == "36,41"
    assert page.locator("[data-line-net]").first.inner_text() == "35,05"
    assert totals.locator("[data-discount-note] output").inner_text() == "2,30"

    page.select_option("#id_margin_scheme", "used_goods")  # a margin scheme: no rate, no tax
    totals.locator("[data-total-vat]").filter(has_text="0,00").wait_for()
    assert totals.locator("[data-total-gross]").inner_text() == "43,59"
    assert not page.locator("#id_lines-0-vat_rate").is_visible()

    page.select_option("#id_margin_scheme", "")
    totals.locator("[data-total-vat]").filter(has_text="7,18").wait_for()
    page.get_by_role("button", name="Wystaw fakturę").click()
    page.wait_for_url(re.compile(r"/dokumenty/[0-9a-f-]{36}/$"))
    invoice = Invoice.objects.get(company=company_a)
    assert (invoice.total_net, invoice.total_vat, invoice.total_gross) == (
        Decimal("36.41"),
        Decimal("7.18"),
        Decimal("43.59"),
    )
    assert invoice.prices_gross
    assert page.locator("#annotation-gross-prices").is_visible()
    assert page.locator("#invoice-discount").is_visible()

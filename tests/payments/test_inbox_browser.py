"""In Chromium: an owner approves two purchase invoices, rejects one as "nie dotyczy nas", pays the two in
one file (the download happens), imports the bank's statement and sees them paid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Company
from payments import transfers
from payments.models import PurchaseEntry
from tests.conftest import screenshot
from tests.payments.inbox_helpers import mt940_for, purchase_invoice
from tests.payments.transfers.helpers import PAYER_NRB

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _tick(page: Any, number: str) -> None:
    page.locator(f'tr[data-number="{number}"] input[name="invoice"]').check()


def test_owner_approves_rejects_pays_and_imports_the_statement(
    page: Any, live_server: Any, alice_client: Any, company_a: Company, tmp_path: Path
) -> None:
    for number, gross in (("FZ/11/2026", "1230.00"), ("FZ/12/2026", "2460.00"), ("FZ/13/2026", "99.00")):
        purchase_invoice(company_a, number=number, gross=gross)
    page.context.add_cookies(
        [{"name": "sessionid", "value": alice_client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page.goto("/dokumenty/?direction=purchase")
    page.locator("#to-pay").click()
    page.wait_for_url("**/do-zaplaty/")
    assert page.locator("tr.inbox-row--unread").count() == 3

    _tick(page, "FZ/11/2026")
    _tick(page, "FZ/12/2026")
    page.locator("#bulk-accept").click()
    page.wait_for_url("**/do-zaplaty/")
    assert "FZ/11/2026" in page.locator(".messages").inner_text()
    _tick(page, "FZ/13/2026")
    page.locator("#reject-reason").fill("nie dotyczy nas")
    page.locator("#bulk-reject").click()
    page.wait_for_url("**/do-zaplaty/")
    assert page.locator('tr[data-number="FZ/13/2026"]').count() == 0  # hidden by default
    screenshot(page, "inbox-accepted")

    _tick(page, "FZ/11/2026")
    _tick(page, "FZ/12/2026")
    page.locator("#bulk-pay").click()
    page.locator("#id_payer_account").fill(f"PL{PAYER_NRB}")
    page.locator("#id_execution_date").fill(timezone.localdate().isoformat())
    page.locator('input[name="file_format"][value="pain001"]').check()
    page.locator("#pay-submit").click()
    page.wait_for_url("**/do-zaplaty/pliki/*/")
    with page.expect_download() as info:
        page.locator("#file-download").click()
    download = info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(str(saved))
    data = saved.read_bytes()
    transfers.pain001_validate(data)
    orders = transfers.pain001_parse(data)
    assert len(orders) == 2
    screenshot(page, "inbox-file")

    statement = tmp_path / "wyciag.sta"
    statement.write_bytes(mt940_for(orders, booked=timezone.localdate()))
    page.goto("/dokumenty/do-zaplaty/")
    page.locator("#inbox-statement").click()
    page.locator('input[name="statement"]').set_input_files(str(statement))
    page.locator("#statement-submit").click()
    page.locator("tr.statement-row--paid").first.wait_for()  # the POST answers on the same URL
    assert page.locator("tr.statement-row--paid").count() == 2
    screenshot(page, "inbox-statement")

    page.goto("/dokumenty/do-zaplaty/?status=paid")
    assert page.locator("tr.inbox-row--paid").count() == 2
    assert set(PurchaseEntry.objects.values_list("status", flat=True)) == {"paid", "rejected"}
    page.goto("/dokumenty/do-zaplaty/?status=rejected")
    assert "nie dotyczy nas" in page.locator('tr[data-number="FZ/13/2026"]').inner_text()

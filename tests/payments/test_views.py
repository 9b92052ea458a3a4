"""'Sprawdź na białej liście' on a purchase invoice's page: who may ask, what the page shows, tenancy."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Company, Role
from ksef_simulator.whitelist import accounts_for
from payments.models import WhitelistCheck, WhitelistResult
from tests.conftest import add_member
from tests.payments.conftest import ACTIVE_NIP, FOREIGN_ACCOUNT, purchase

pytestmark = pytest.mark.django_db(transaction=True)


def _member_client(company: Company, role: str) -> Client:
    client = Client()
    client.force_login(add_member(company, role, f"{role}@example.com").user)
    return client


def _page(client: Any, invoice: Any) -> str:
    response = client.get(reverse("invoices:detail", kwargs={"invoice_uuid": invoice.uuid}))
    assert response.status_code == 200
    return str(response.content.decode())


def test_the_owner_checks_and_the_page_shows_the_proof(
    wl_url: str, alice_client: Any, company_a: Company
) -> None:
    invoice = purchase(company_a, bank_account=accounts_for(ACTIVE_NIP)[0])
    page = _page(alice_client, invoice)
    assert 'id="whitelist-check"' in page
    assert 'id="whitelist-block"' in page  # above 15,000 PLN and not checked yet
    url = reverse("payments:whitelist_check", kwargs={"invoice_uuid": invoice.uuid})
    response = alice_client.post(url)
    assert response.status_code == 302
    assert response["Location"] == reverse("invoices:detail", kwargs={"invoice_uuid": invoice.uuid})
    check = WhitelistCheck.objects.get(invoice=invoice)
    assert check.result == WhitelistResult.ON_LIST
    page = _page(alice_client, invoice)
    assert check.request_id in page
    assert check.checked_for.strftime("%d.%m.%Y") in page
    assert 'id="whitelist-block"' not in page


def test_an_accountant_may_check_a_viewer_may_not(wl_url: str, company_a: Company) -> None:
    invoice = purchase(company_a, bank_account=FOREIGN_ACCOUNT)
    url = reverse("payments:whitelist_check", kwargs={"invoice_uuid": invoice.uuid})
    viewer = _member_client(company_a, Role.VIEWER)
    assert 'id="whitelist-check"' not in _page(viewer, invoice)
    assert viewer.post(url).status_code == 403
    assert not WhitelistCheck.objects.exists()
    accountant = _member_client(company_a, Role.ACCOUNTANT)
    assert accountant.post(url).status_code == 302
    assert WhitelistCheck.objects.get().result == WhitelistResult.NOT_ON_LIST
    assert accountant.get(url).status_code == 405  # POST only


def test_only_the_owner_may_allow_paying_anyway(wl_url: str, alice_client: Any, company_a: Company) -> None:
    invoice = purchase(company_a, bank_account=FOREIGN_ACCOUNT)
    alice_client.post(reverse("payments:whitelist_check", kwargs={"invoice_uuid": invoice.uuid}))
    url = reverse("payments:whitelist_override", kwargs={"invoice_uuid": invoice.uuid})
    accountant = _member_client(company_a, Role.ACCOUNTANT)
    assert 'name="reason"' not in _page(accountant, invoice)
    assert accountant.post(url, {"reason": "Znam ten rachunek"}).status_code == 403
    assert 'name="reason"' in _page(alice_client, invoice)
    alice_client.post(url, {"reason": ""})
    assert not WhitelistCheck.objects.get().is_overridden  # a reason is required
    alice_client.post(url, {"reason": "Rachunek potwierdzony pisemnie przez dostawcę"})
    page = _page(alice_client, invoice)
    assert "Rachunek potwierdzony pisemnie przez dostawcę" in page
    assert 'id="whitelist-block"' not in page


def test_another_companys_invoice_is_not_found(wl_url: str, alice_client: Any, company_b: Company) -> None:
    invoice = purchase(company_b, bank_account=FOREIGN_ACCOUNT)
    for name in ("payments:whitelist_check", "payments:whitelist_override"):
        url = reverse(name, kwargs={"invoice_uuid": invoice.uuid})
        assert alice_client.post(url, {"reason": "x"}).status_code == 404
    assert not WhitelistCheck.objects.exists()


def test_a_sales_invoice_has_no_white_list_panel(alice_client: Any, company_a: Company) -> None:
    invoice = purchase(company_a, direction="sales", bank_account=FOREIGN_ACCOUNT)
    assert 'id="whitelist"' not in _page(alice_client, invoice)

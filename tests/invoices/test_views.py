"""Wystaw, Dodaj, Korekta, the invoice page and its visualisation, as a logged-in user sees them."""

import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from accounts.models import Company, Role, User
from invoices import services
from invoices.models import Contractor, Direction, Invoice, InvoiceKind
from invoices.visualisation import QrCode, set_qr_provider
from tests.conftest import add_member
from tests.invoices.factories import issue_data

pytestmark = pytest.mark.django_db


def issue_post(**overrides: str) -> dict[str, str]:
    data = {
        "idempotency_key": str(uuid.uuid4()),
        "nip": "526-025-02-74",
        "name": "Zakład Usług Różnych Łęcki",
        "address_line1": "ul. Źródlana 5",
        "address_line2": "00-950 Warszawa",
        "country_code": "PL",
        "email": "",
        "issue_date": "2026-11-20",
        "sale_date": "2026-11-20",
        "place_of_issue": "Kraków",
        "currency": "PLN",
        "exchange_rate": "",
        "payment_method": "6",
        "due_date": "2026-12-04",
        "bank_account": "61 1090 1014 0000 0712 1981 2874",
        "notes": "",
        "lines-TOTAL_FORMS": "3",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "1",
        "lines-MAX_NUM_FORMS": "500",
        "lines-0-name": "Usługa księgowa",
        "lines-0-quantity": "2",
        "lines-0-unit": "h",
        "lines-0-unit_price": "150,50",
        "lines-0-vat_rate": "23",
        "lines-1-name": "Usunięta pozycja",
        "lines-1-quantity": "1",
        "lines-1-unit": "szt.",
        "lines-1-unit_price": "999",
        "lines-1-vat_rate": "8",
        "lines-1-DELETE": "on",
        "lines-2-name": "",
        "lines-2-quantity": "1",
        "lines-2-unit": "szt.",
        "lines-2-unit_price": "",
        "lines-2-vat_rate": "23",
    }
    data.update(overrides)
    return data


def test_issue_page_renders_with_remembered_contractors(alice_client: Any, company_a: Company) -> None:
    Contractor.objects.create(company=company_a, nip="5260250274", name="Stały Klient")
    html = alice_client.get(reverse("invoices:issue")).content.decode()
    assert 'name="idempotency_key"' in html
    assert '<option value="5260250274">Stały Klient</option>' in html
    assert "js/invoice_form.js" in html
    assert 'id="line-template"' in html


def test_issue_happy_path(alice_client: Any, company_a: Company) -> None:
    response = alice_client.post(reverse("invoices:issue"), issue_post(), follow=True)
    invoice = Invoice.objects.get()
    assert response.redirect_chain[-1][0] == reverse("invoices:detail", kwargs={"invoice_uuid": invoice.uuid})
    assert invoice.number == "FV/1/11/2026"
    assert [line.name for line in invoice.lines.all()] == [
        "Usługa księgowa"
    ]  # deleted and blank rows dropped
    assert (invoice.total_net, invoice.total_vat, invoice.total_gross) == (
        Decimal("301.00"),
        Decimal("69.23"),
        Decimal("370.23"),
    )
    assert invoice.bank_account == "61109010140000071219812874"
    html = response.content.decode()
    assert "FV/1/11/2026" in html
    assert "Nie wysłano do KSeF" in html
    assert "370,23" in html


def test_double_submit_makes_one_invoice(alice_client: Any, company_a: Company) -> None:
    data = issue_post()
    first = alice_client.post(reverse("invoices:issue"), data)
    second = alice_client.post(reverse("invoices:issue"), data)
    assert Invoice.objects.count() == 1
    assert first["Location"] == second["Location"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"nip": "1234567891"}, "cyfrę kontrolną"),
        ({"lines-0-name": "", "lines-0-unit_price": ""}, "To pole jest wymagane"),
        ({"lines-0-quantity": "-1"}, "większa lub równa 0"),
        ({"lines-0-unit_price": "abc"}, "Wpisz liczbę"),
        ({"currency": "EUR"}, "kursu"),
        ({"issue_date": "2026-13-01"}, "poprawną datę"),
        ({"due_date": "2026-11-01"}, "Termin płatności"),
        ({"issue_date": "2099-01-02", "due_date": "2099-01-10"}, "z datą z przyszłości"),
        ({"name": ""}, "To pole jest wymagane"),
    ],
)
def test_bad_input_explains_and_saves_nothing(
    alice_client: Any, company_a: Company, overrides: dict[str, str], message: str
) -> None:
    response = alice_client.post(reverse("invoices:issue"), issue_post(**overrides))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Nic nie zostało zapisane" in html
    assert message in html, html[html.find("field__errors") - 500 : html.find("field__errors") + 500]
    assert Invoice.objects.count() == 0
    assert Contractor.objects.count() == 0


def test_contractor_lookup_is_per_company(alice_client: Any, company_a: Company, company_b: Company) -> None:
    Contractor.objects.create(company=company_a, nip="5260250274", name="Klient A", address_line1="ul. A 1")
    Contractor.objects.create(company=company_b, nip="1234563218", name="Klient B")
    url = reverse("invoices:contractor_lookup")
    assert alice_client.get(url, {"nip": "526-025-02-74"}).json() == {
        "found": True, "nip": "5260250274", "name": "Klient A", "address_line1": "ul. A 1",
        "address_line2": "", "country_code": "PL", "email": "", "bank_account": "",
        "delivery_email": "", "delivery_language": "pl",
    }  # fmt: skip
    assert alice_client.get(url, {"nip": "1234563218"}).json() == {"found": False}


@pytest.mark.parametrize("role", [Role.ACCOUNTANT, Role.OWNER])
def test_accountants_and_owners_may_issue(client: Any, company_a: Company, role: str) -> None:
    client.force_login(add_member(company_a, role, "member@example.com").user)
    assert client.post(reverse("invoices:issue"), issue_post()).status_code == 302
    assert Invoice.objects.count() == 1


def test_viewer_reads_but_cannot_write(client: Any, company_a: Company) -> None:
    original = services.invoice_issue(company=company_a, user=None, data=issue_data())
    client.force_login(add_member(company_a, Role.VIEWER, "viewer@example.com").user)
    assert client.get(reverse("invoices:list")).status_code == 200
    assert client.get(reverse("invoices:detail", kwargs={"invoice_uuid": original.uuid})).status_code == 200
    page = client.get(reverse("invoices:issue")).content.decode()
    assert "idempotency_key" not in page  # no form, an explanation instead
    correct_url = reverse("invoices:correct", kwargs={"invoice_uuid": original.uuid})
    assert client.post(reverse("invoices:issue"), issue_post()).status_code == 403
    assert client.post(reverse("invoices:add"), issue_post(number="1/2026")).status_code == 403
    assert client.post(correct_url, {"reason": "x"}).status_code == 403
    assert Invoice.objects.count() == 1


def test_add_purchase_by_hand(alice_client: Any, company_a: Company) -> None:
    response = alice_client.post(reverse("invoices:add"), issue_post(number="FS 17/2026"))
    invoice = Invoice.objects.get()
    assert response.status_code == 302
    assert (invoice.direction, invoice.number, invoice.seller_nip) == (
        Direction.PURCHASE,
        "FS 17/2026",
        "5260250274",
    )
    assert invoice.buyer_nip == company_a.nip
    response = alice_client.post(reverse("invoices:add"), issue_post(number=""))
    assert response.status_code == 200
    assert Invoice.objects.count() == 1


def test_correction_form_is_prefilled_and_issues_a_kor(
    alice_client: Any, company_a: Company, alice: User
) -> None:
    original = services.invoice_issue(company=company_a, user=alice, data=issue_data())
    url = reverse("invoices:correct", kwargs={"invoice_uuid": original.uuid})
    html = alice_client.get(url).content.decode()
    assert 'value="Usługa księgowa"' in html
    assert 'value="1000,00"' in html
    post = {
        "idempotency_key": str(uuid.uuid4()),
        "reason": "Rabat",
        "issue_date": "2026-11-25",
        "notes": "",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "1",
        "lines-MIN_NUM_FORMS": "1",
        "lines-MAX_NUM_FORMS": "500",
        "lines-0-name": "Usługa księgowa",
        "lines-0-quantity": "1",
        "lines-0-unit": "usł.",
        "lines-0-unit_price": "900",
        "lines-0-vat_rate": "23",
    }
    response = alice_client.post(url, post, follow=True)
    kor = Invoice.objects.get(kind=InvoiceKind.KOR)
    assert kor.total_gross == Decimal("-123.00")
    html = response.content.decode()
    assert "KOR/1/11/2026" in html
    assert "Przed korektą" in html
    assert alice_client.post(url, {**post, "reason": ""}).status_code == 200  # reason required
    assert Invoice.objects.filter(kind=InvoiceKind.KOR).count() == 1


def test_invoice_page_shows_ksef_data(alice_client: Any, company_a: Company) -> None:
    invoice = services.invoice_issue(company=company_a, user=None, data=issue_data())
    invoice.ksef_status = "accepted"
    invoice.ksef_number = "5265877635-20261120-0100001AF629-AF"
    invoice.save()
    html = alice_client.get(
        reverse("invoices:detail", kwargs={"invoice_uuid": invoice.uuid})
    ).content.decode()
    assert "5265877635-20261120-0100001AF629-AF" in html
    assert "przyjęta przez KSeF" in html
    assert reverse("invoices:pdf", kwargs={"invoice_uuid": invoice.uuid}) in html


def test_preview_renders_the_provided_qr_codes(alice_client: Any, company_a: Company) -> None:
    invoice = services.invoice_issue(company=company_a, user=None, data=issue_data())
    url = reverse("invoices:preview", kwargs={"invoice_uuid": invoice.uuid})
    assert "<svg" not in alice_client.get(url).content.decode()
    previous = set_qr_provider(lambda inv: [QrCode(f"https://qr.example/invoice/{inv.uuid}", "OFFLINE")])
    try:
        html = alice_client.get(url).content.decode()
    finally:
        set_qr_provider(previous)
    assert "<svg" in html
    assert f"https://qr.example/invoice/{invoice.uuid}" in html
    assert "OFFLINE" in html

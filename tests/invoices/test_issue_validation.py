"""Issue 16: Wystaw and Korekta refuse, next to the field and before a number is taken, whatever KSeF would
refuse; every VAT rate the form offers makes an FA(3) file the simulator's validator takes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from lxml import etree

from accounts.models import Company
from invoices import services
from invoices.acceptance import set_acceptance_check
from invoices.errors import InvoiceInvalid
from invoices.forms import MAX_LINES
from invoices.models import Invoice, InvoiceLine, NumberingCounter
from invoices.services import LineData, PartyData
from ksef_integration.sending.mapping import invoice_acceptance_issues, invoice_xml_build
from ksef_simulator.fa3_schema import parse_invoice
from ksef_simulator.processing import invoice_fields
from tests.invoices.factories import issue_data
from tests.invoices.test_views import issue_post

pytestmark = pytest.mark.django_db

NS = {"f": "http://crd.gov.pl/wzor/2025/06/25/13775/"}


def post(client: Any, **overrides: str) -> Any:
    today = timezone.localdate().isoformat()
    values = {"issue_date": today, "sale_date": today, "due_date": today, "lines-TOTAL_FORMS": "1"}
    values.update(overrides)
    data = issue_post(**values)
    data.pop("lines-1-DELETE")  # issue_post's second row is a deleted one; here rows count as given
    return client.post(reverse("invoices:issue"), data)


def numbers_taken(company: Company) -> int:
    return sum(NumberingCounter.objects.filter(series__company=company).values_list("last_number", flat=True))


def accepted_by_simulator(invoice: Invoice) -> etree._Element:
    """The file sending would build, through the simulator's own XSD check and metadata reading."""
    root = parse_invoice(invoice_xml_build(Invoice.objects.prefetch_related("lines").get(pk=invoice.pk)).xml)
    invoice_fields(root)
    return root


def field_errors(response: Any) -> dict[str, Any]:
    return dict(response.context["form"].errors)


def line_errors(response: Any, index: int = 0) -> dict[str, Any]:
    return dict(response.context["formset"].forms[index].errors)


def refused(response: Any, company: Company, numbers_before: int) -> None:
    assert response.status_code == 200
    assert not Invoice.objects.filter(company=company).exists()
    assert numbers_taken(company) == numbers_before


def test_exempt_line_needs_the_legal_basis_before_a_number_is_taken(
    alice_client: Any, company_a: Company
) -> None:
    response = post(alice_client, **{"lines-0-vat_rate": "zw"})
    refused(response, company_a, 0)
    assert {"exemption_basis", "exemption_text"} <= set(field_errors(response))
    assert 'id="rate-annotations"' in response.content.decode()

    response = post(
        alice_client,
        **{"lines-0-vat_rate": "zw", "exemption_basis": "act", "exemption_text": "art. 43 ust. 1 pkt 37"},
    )
    assert response.status_code == 302
    root = accepted_by_simulator(Invoice.objects.get(company=company_a))
    assert root.findtext(".//f:Zwolnienie/f:P_19", namespaces=NS) == "1"
    assert root.findtext(".//f:Zwolnienie/f:P_19A", namespaces=NS) == "art. 43 ust. 1 pkt 37"
    assert root.findtext(".//f:P_13_7", namespaces=NS) == "301.00"


def test_reverse_charge_prints_the_annotation_and_needs_a_polish_nip(
    alice_client: Any, company_a: Company
) -> None:
    response = post(alice_client, nip="", **{"lines-0-vat_rate": "oo"})
    refused(response, company_a, 0)
    assert "nip" in field_errors(response)

    assert post(alice_client, **{"lines-0-vat_rate": "oo"}).status_code == 302
    root = accepted_by_simulator(Invoice.objects.get(company=company_a))
    assert root.findtext(".//f:Adnotacje/f:P_18", namespaces=NS) == "1"
    assert root.findtext(".//f:P_13_10", namespaces=NS) == "301.00"


@pytest.mark.parametrize("rate", ["0 WDT", "np II"])
def test_intra_eu_rates_need_an_eu_buyer_with_a_vat_ue_number(
    alice_client: Any, company_a: Company, rate: str
) -> None:
    response = post(alice_client, **{"lines-0-vat_rate": rate})  # a Polish buyer
    refused(response, company_a, 0)
    assert "country_code" in field_errors(response)
    response = post(alice_client, nip="", country_code="DE", **{"lines-0-vat_rate": rate})
    refused(response, company_a, 0)
    assert "foreign_id" in field_errors(response)

    response = post(
        alice_client, nip="", country_code="GR", foreign_id="EL 123 456 789", **{"lines-0-vat_rate": rate}
    )
    assert response.status_code == 302
    root = accepted_by_simulator(Invoice.objects.get(company=company_a))
    ident = root.find("f:Podmiot2/f:DaneIdentyfikacyjne", NS)
    assert (ident.findtext("f:KodUE", namespaces=NS), ident.findtext("f:NrVatUE", namespaces=NS)) == (
        "EL",
        "123456789",
    )
    assert root.findtext(".//f:Adnotacje/f:P_18", namespaces=NS) == ("1" if rate == "np II" else "2")


def test_export_needs_a_buyer_outside_the_eu(alice_client: Any, company_a: Company) -> None:
    response = post(alice_client, **{"lines-0-vat_rate": "0 EX"})
    refused(response, company_a, 0)
    assert "country_code" in field_errors(response)
    response = post(
        alice_client, nip="", country_code="US", foreign_id="12-3456789", **{"lines-0-vat_rate": "0 EX"}
    )
    assert response.status_code == 302
    root = accepted_by_simulator(Invoice.objects.get(company=company_a))
    assert root.findtext(".//f:P_13_6_3", namespaces=NS) == "301.00"


@pytest.mark.parametrize("rate", ["23", "8", "5", "0 KR", "np I"])
def test_the_plain_rates_go_through(alice_client: Any, company_a: Company, rate: str) -> None:
    assert post(alice_client, **{"lines-0-vat_rate": rate}).status_code == 302
    accepted_by_simulator(Invoice.objects.get(company=company_a))


def test_an_amount_too_large_is_refused_next_to_the_line(alice_client: Any, company_a: Company) -> None:
    response = post(alice_client, **{"lines-0-quantity": "999999999", "lines-0-unit_price": "99999999,99"})
    refused(response, company_a, 0)
    assert "unit_price" in line_errors(response)
    assert alice_client.get(reverse("invoices:list")).status_code == 200


def test_totals_too_large_are_refused_before_a_number_is_taken(alice_client: Any, company_a: Company) -> None:
    lines = {"lines-TOTAL_FORMS": "3"}
    for i in range(3):
        lines |= {
            f"lines-{i}-name": f"Pozycja {i}",
            f"lines-{i}-quantity": "4000000000000000",
            f"lines-{i}-unit": "szt.",
            f"lines-{i}-unit_price": "1",
            f"lines-{i}-vat_rate": "23",
        }
    response = post(alice_client, **lines)
    refused(response, company_a, 0)
    assert response.context["form"].non_field_errors()


def test_dates_ksef_cannot_carry_are_refused_in_the_form(alice_client: Any, company_a: Company) -> None:
    response = post(alice_client, issue_date="0001-01-01", sale_date="2051-01-01", due_date="2099-01-01")
    refused(response, company_a, 0)
    assert {"issue_date", "sale_date", "due_date"} <= set(field_errors(response))


def test_the_xsd_refusal_lands_on_its_field(alice_client: Any, company_a: Company) -> None:
    # The form takes any two letters; FA(3)'s KodKraju only the codes of its list.
    response = post(alice_client, country_code="XX")
    refused(response, company_a, 0)
    assert "country_code" in field_errors(response)
    response = post(alice_client, **{"lines-0-unit": "x" * 32, "lines-0-name": "y" * 512})
    assert response.status_code == 302  # the longest values the form takes are within FA(3)'s


def test_a_refusal_by_the_acceptance_check_keeps_the_number_free(company_a: Company) -> None:
    # Without the hook the invoice would be saved; with it, refused before numbering.
    party = PartyData(name="Nabywca", nip="5260250274", address_line1="ul. Długa 1", country_code="XX")
    data = issue_data(issue_date=timezone.localdate(), sale_date=None, party=party)
    previous = set_acceptance_check(None)
    try:
        assert services.invoice_issue(company=company_a, user=None, data=data).number
    finally:
        set_acceptance_check(previous)
    taken = numbers_taken(company_a)
    with pytest.raises(InvoiceInvalid) as refusal:
        services.invoice_issue(
            company=company_a,
            user=None,
            data=issue_data(issue_date=timezone.localdate(), party=party),
        )
    assert [issue.field for issue in refusal.value.issues] == ["country_code"]
    assert numbers_taken(company_a) == taken


def test_acceptance_issues_point_at_the_line(company_a: Company) -> None:
    invoice = Invoice(
        company=company_a,
        direction="sales",
        kind="VAT",
        number="FV/1/12/2026",
        issue_date=timezone.localdate(),
        seller_name=company_a.name,
        seller_nip=company_a.nip,
        seller_address_line1="ul. Prosta 1",
        buyer_name="Nabywca",
        buyer_nip="5260250274",
    )
    lines = [
        InvoiceLine(ordinal=1, name="ok", quantity=Decimal(1), unit_price=Decimal(1), vat_rate="23",
                    net_value=Decimal("1.00"), vat_amount=Decimal("0.23"), gross_value=Decimal("1.23")),
        InvoiceLine(ordinal=2, name="bad", quantity=Decimal(1), unit_price=Decimal(1), vat_rate="23",
                    net_value=Decimal("2.00"), vat_amount=Decimal("0.23"), gross_value=Decimal("2.23")),
    ]  # fmt: skip
    issues = invoice_acceptance_issues(invoice, lines)
    assert [(issue.line, issue.field) for issue in issues] == [(1, "net_value")]


def test_too_many_lines_get_a_message_not_a_bare_400(alice_client: Any, company_a: Company) -> None:
    count = MAX_LINES + 1
    lines: dict[str, str] = {"lines-TOTAL_FORMS": str(count)}
    for i in range(count):
        lines |= {
            f"lines-{i}-name": f"P{i}",
            f"lines-{i}-quantity": "1",
            f"lines-{i}-unit_price": "1",
            f"lines-{i}-vat_rate": "23",
        }
    response = post(alice_client, **lines)
    refused(response, company_a, 0)
    assert response.context["formset"].non_form_errors()


def test_the_longest_allowed_invoice_is_issued(alice_client: Any, company_a: Company) -> None:
    lines: dict[str, str] = {"lines-TOTAL_FORMS": str(MAX_LINES)}
    for i in range(MAX_LINES):
        lines |= {
            f"lines-{i}-name": f"Pozycja {i}",
            f"lines-{i}-quantity": "1",
            f"lines-{i}-unit_price": "1,01",
            f"lines-{i}-vat_rate": "23",
        }
    assert post(alice_client, **lines).status_code == 302
    invoice = Invoice.objects.get(company=company_a)
    assert invoice.lines.count() == MAX_LINES
    accepted_by_simulator(invoice)


@pytest.mark.parametrize(
    "cursor",
    [
        "2026-01-01_9223372036854775808",
        "2026-01-01_-5",
        "2026-01-01_0",
        "9999-12-31_1",
        "x_y",
        "_",
        "2026-01-01",
    ],
)
def test_any_cursor_gives_a_page(alice_client: Any, company_a: Company, cursor: str) -> None:
    services.invoice_issue(company=company_a, user=None, data=issue_data(issue_date=timezone.localdate()))
    assert alice_client.get(reverse("invoices:list"), {"after": cursor}).status_code == 200


def test_the_number_hint_is_the_real_next_number(alice_client: Any, company_a: Company) -> None:
    today = timezone.localdate()
    services.invoice_issue(company=company_a, user=None, data=issue_data(issue_date=today, sale_date=today))
    page = alice_client.get(reverse("invoices:issue")).content.decode()
    assert f"FV/2/{today:%m}/{today:%Y}" in page


def test_a_correction_adding_an_exempt_line_needs_the_basis(company_a: Company) -> None:
    today = timezone.localdate()
    original = services.invoice_issue(company=company_a, user=None, data=issue_data(issue_date=today))
    Invoice.objects.filter(pk=original.pk).update(ksef_status="not_sent")
    with pytest.raises(InvoiceInvalid) as refusal:
        services.invoice_correct(
            original=original,
            user=None,
            data=services.CorrectionData(
                reason="Zmiana stawki",
                lines=[LineData("Usługa księgowa", Decimal(1), Decimal(1000), "zw")],
                issue_date=today,
            ),
        )
    assert {issue.field for issue in refusal.value.issues} == {"exemption_basis", "exemption_text"}
    kor = services.invoice_correct(
        original=original,
        user=None,
        data=services.CorrectionData(
            reason="Zmiana stawki",
            lines=[LineData("Usługa księgowa", Decimal(1), Decimal(1000), "zw")],
            issue_date=today,
            exemption_basis="directive",
            exemption_text="art. 132 ust. 1 lit. i dyrektywy 2006/112/WE",
        ),
    )
    root = accepted_by_simulator(kor)
    assert root.findtext(".//f:Zwolnienie/f:P_19B", namespaces=NS).startswith("art. 132")
    assert kor.number.startswith("KOR/1/")


def test_a_party_foreign_id_is_kept(company_a: Company) -> None:
    data = issue_data(
        issue_date=timezone.localdate(),
        party=PartyData(name="Kunde GmbH", foreign_id="de 123 456 789", country_code="DE"),
        lines=[LineData("Ware", Decimal(1), Decimal(10), "0 WDT")],
    )
    invoice = services.invoice_issue(company=company_a, user=None, data=data)
    assert invoice.buyer_foreign_id == "DE123456789"
    accepted_by_simulator(invoice)
    _ = dt


def test_the_invoice_shows_the_annotations_and_keeps_labels_apart(
    alice_client: Any, company_a: Company
) -> None:
    response = post(
        alice_client,
        place_of_issue="Warszawa",
        exemption_basis="act",
        exemption_text="art. 113 ust. 1 ustawy o VAT",
        **{
            "lines-TOTAL_FORMS": "2",
            "lines-1-name": "Montaż",
            "lines-1-quantity": "1",
            "lines-1-unit_price": "100",
            "lines-1-vat_rate": "oo",
            "lines-0-vat_rate": "zw",
        },
    )
    assert response.status_code == 302
    invoice = Invoice.objects.get(company=company_a)
    page = alice_client.get(
        reverse("invoices:detail", kwargs={"invoice_uuid": invoice.uuid})
    ).content.decode()
    assert 'id="annotation-reverse-charge"' in page
    assert 'id="annotation-exemption"' in page
    assert "art. 113 ust. 1 ustawy o VAT" in page
    assert "</dt><dd" not in page  # "Miejsce wystawieniaWarszawa" when the text is read without the CSS
    pdf = alice_client.get(reverse("invoices:pdf", kwargs={"invoice_uuid": invoice.uuid}))
    assert pdf.status_code == 200


def test_a_company_name_ending_with_a_full_stop_gets_no_second_one(
    alice_client: Any, company_a: Company
) -> None:
    Company.objects.filter(pk=company_a.pk).update(name="Alfa Sp. z o.o.")
    url = reverse("accounts:company_switch", kwargs={"company_uuid": company_a.uuid})
    page = alice_client.post(url, follow=True).content.decode()
    assert "Alfa Sp. z o.o." in page
    assert "o.o.." not in page


def test_a_post_beyond_the_upload_limit_gets_the_portal_page(alice_client: Any, company_a: Company) -> None:
    fields = {f"lines-{i}-name": "x" for i in range(10_001)}
    response = alice_client.post(reverse("invoices:issue"), fields)
    assert response.status_code == 400
    assert 'id="bad-request"' in response.content.decode()  # not Django's bare "Bad Request (400)"
    assert not Invoice.objects.filter(company=company_a).exists()


def test_korekta_shows_the_refusal_next_to_the_field(alice_client: Any, company_a: Company) -> None:
    today = timezone.localdate()
    original = services.invoice_issue(company=company_a, user=None, data=issue_data(issue_date=today))
    url = reverse("invoices:correct", kwargs={"invoice_uuid": original.uuid})
    assert 'id="rate-annotations"' in alice_client.get(url).content.decode()
    form = {
        "idempotency_key": "6f1c1b8e-7f4b-4b53-9f0e-0d7c8a1e2b3c",
        "reason": "Zmiana stawki",
        "issue_date": today.isoformat(),
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "1",
        "lines-MAX_NUM_FORMS": "1000",
        "lines-0-name": "Usługa księgowa",
        "lines-0-quantity": "1",
        "lines-0-unit": "usł.",
        "lines-0-unit_price": "1000",
        "lines-0-vat_rate": "zw",
    }
    numbers = numbers_taken(company_a)
    response = alice_client.post(url, form)
    assert response.status_code == 200
    assert {"exemption_basis", "exemption_text"} <= set(field_errors(response))
    assert numbers_taken(company_a) == numbers
    form |= {"exemption_basis": "act", "exemption_text": "art. 43 ust. 1 pkt 37 ustawy o VAT"}
    assert alice_client.post(url, form).status_code == 302
    assert numbers_taken(company_a) == numbers + 1


def test_fixing_a_stopped_invoice_is_checked_the_same_way(alice_client: Any, company_a: Company) -> None:
    today = timezone.localdate()
    invoice = services.invoice_issue(company=company_a, user=None, data=issue_data(issue_date=today))
    Invoice.objects.filter(pk=invoice.pk).update(ksef_status="failed_local", ksef_status_message="x")
    url = reverse("invoices:edit", kwargs={"invoice_uuid": invoice.uuid})
    data = issue_post(issue_date=today.isoformat(), sale_date="", due_date="", **{"lines-0-vat_rate": "oo"})
    data["nip"] = ""
    response = alice_client.post(url, data)
    assert response.status_code == 200
    assert "nip" in field_errors(response)
    invoice.refresh_from_db()
    assert invoice.ksef_status == "failed_local"  # nothing changed
    assert invoice.lines.get().vat_rate == "23"


def test_paid_in_full_is_stated_on_the_invoice_and_in_fa3(alice_client: Any, company_a: Company) -> None:
    """ "Zapłacono w całości (data)": Zaplacono + DataZaplaty in FA(3), "Zapłacono" on the page and PDF; a
    payment date in the future is refused next to the field before a number is used."""
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    response = post(alice_client, paid_on=tomorrow)
    refused(response, company_a, 0)
    assert "paid_on" in field_errors(response)

    today = timezone.localdate()
    response = post(alice_client, paid_on=today.isoformat())
    assert response.status_code == 302
    invoice = Invoice.objects.get(company=company_a)
    assert invoice.paid_on == today
    root = accepted_by_simulator(invoice)
    assert root.findtext(".//f:Platnosc/f:Zaplacono", namespaces=NS) == "1"
    assert root.findtext(".//f:Platnosc/f:DataZaplaty", namespaces=NS) == today.isoformat()
    page = alice_client.get(
        reverse("invoices:detail", kwargs={"invoice_uuid": invoice.uuid})
    ).content.decode()
    assert f'<dd id="paid-on">{today:%d.%m.%Y}</dd>' in page
    assert "Zapłacono" in page


def test_a_billing_period_replaces_the_sale_date(alice_client: Any, company_a: Company) -> None:
    """ "Okres rozliczeniowy od/do": FA(3) OkresFa (P_6_Od, P_6_Do) instead of P_6, shown on the page; half a
    period, or one that ends before it starts, is refused next to the field before a number is used."""
    start = timezone.localdate().replace(day=1) - dt.timedelta(days=1)
    start = start.replace(day=1)  # the first day of last month
    end = timezone.localdate().replace(day=1) - dt.timedelta(days=1)
    response = post(alice_client, period_from=start.isoformat())
    refused(response, company_a, 0)
    assert "period_to" in field_errors(response)
    response = post(alice_client, period_from=end.isoformat(), period_to=start.isoformat())
    refused(response, company_a, 0)
    assert "period_to" in field_errors(response)

    response = post(alice_client, period_from=start.isoformat(), period_to=end.isoformat())
    assert response.status_code == 302
    invoice = Invoice.objects.get(company=company_a)
    assert (invoice.period_from, invoice.period_to, invoice.sale_date) == (start, end, None)
    root = accepted_by_simulator(invoice)
    assert root.findtext(".//f:Fa/f:OkresFa/f:P_6_Od", namespaces=NS) == start.isoformat()
    assert root.findtext(".//f:Fa/f:OkresFa/f:P_6_Do", namespaces=NS) == end.isoformat()
    assert root.find(".//f:Fa/f:P_6", NS) is None
    page = alice_client.get(
        reverse("invoices:detail", kwargs={"invoice_uuid": invoice.uuid})
    ).content.decode()
    assert f'<dd id="billing-period">{start:%d.%m.%Y} \u2013 {end:%d.%m.%Y}</dd>' in page

"""Issue 19, table-driven: one invoice per FA(3) case Wystaw offers. Each row says what the user types, which
FA(3) elements the file must then carry and why. Each invoice is typed into the form, built, XSD-checked by
the simulator, accepted over real HTTP, downloaded back from KSeF (``GET /invoices/ksef/{number}``) and
parsed: the downloaded file says what was typed, and the invoice page and PDF answer."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from lxml import etree

from accounts.models import Company
from invoices.formatting import money, price
from invoices.models import Invoice, KsefStatus
from ksef_integration.connect.session import ksef_client_for
from ksef_integration.fa3 import parse_invoice
from ksef_integration.fa3.builder import compute_totals
from ksef_integration.models import SubmissionStatus as S
from ksef_simulator.conf import config_update
from tests.sending.test_send_simulator import (
    connected,  # noqa: F401 - the fixture stored_at_once uses
    run,
)
from tests.test_browser_send import pdf_text

pytestmark = pytest.mark.django_db(transaction=True)

NS = {"fa": "http://crd.gov.pl/wzor/2025/06/25/13775/"}
TODAY = timezone.localdate()


@dataclass(frozen=True)
class Case:
    name: str
    typed: dict[str, str]  # form fields over the plain domestic invoice below
    expected: dict[str, list[str]]  # XPath (FA(3) namespace "fa") -> the texts of its elements, in order
    why: str
    lines: list[dict[str, str]] = field(default_factory=list)  # replaces the one plain line


def _line(**values: str) -> dict[str, str]:
    return {"name": "Usługa", "quantity": "1", "unit": "szt.", "unit_price": "100", "vat_rate": "23"} | values


CASES = [
    Case(
        "line discount",
        {},
        {
            "//fa:FaWiersz/fa:P_10": ["20", "1.23"],
            "//fa:FaWiersz/fa:P_11": ["180.00", "11.07"],
            "//fa:P_13_1": ["191.07"],
            "//fa:P_14_1": ["43.95"],
        },
        "P_10 is the discount not already in the unit price (10 % of 2 x 100, 10 % of 12,30 to the grosz); "
        "P_11 is the value after it, and the rate's totals are summed from P_11",
        lines=[
            _line(quantity="2", discount_percent="10"),
            _line(unit_price="12,30", discount_percent="10"),
        ],
    ),
    Case(
        "GTU codes",
        {},
        {"//fa:FaWiersz/fa:GTU": ["GTU_12", "GTU_06"]},
        "JPK_VAT needs the goods group per line; FA(3) carries it as GTU in the line",
        lines=[_line(gtu="GTU_12"), _line(name="Laptop", gtu="GTU_06"), _line(name="Bez grupy")],
    ),
    Case(
        "Annex 15 above 15,000 PLN",
        {},
        {"//fa:FaWiersz/fa:P_12_Zal_15": ["1"], "//fa:Adnotacje/fa:P_18A": ["1"]},
        "art. 106e ust. 1 pkt 18a: Annex 15 goods (here 16,000 + VAT) on an invoice above 15,000 PLN gross "
        "need split payment; the form adds it even though the issuer did not tick it",
        lines=[_line(name="Telefony komórkowe", quantity="10", unit_price="1600", annex15="on")],
    ),
    Case(
        "Annex 15 below 15,000 PLN",
        {},
        {"//fa:FaWiersz/fa:P_12_Zal_15": ["1"], "//fa:Adnotacje/fa:P_18A": ["2"]},
        "below the threshold split payment stays the issuer's choice: not added",
        lines=[_line(name="Telefon komórkowy", quantity="1", unit_price="1600", annex15="on")],
    ),
    Case(
        "cash accounting",
        {"cash_accounting": "on"},
        {"//fa:Adnotacje/fa:P_16": ["1"], "//fa:Adnotacje/fa:P_17": ["2"]},
        'art. 106e ust. 1 pkt 16: a small taxpayer on the cash method writes "metoda kasowa" (P_16 = 1)',
    ),
    Case(
        "self-billing",
        {"self_billing": "on"},
        {"//fa:Adnotacje/fa:P_17": ["1"], "//fa:Adnotacje/fa:P_16": ["2"]},
        'art. 106e ust. 1 pkt 17: an invoice the buyer issues writes "samofakturowanie" (P_17 = 1)',
    ),
    Case(
        "reverse charge",
        {},
        {"//fa:Adnotacje/fa:P_18": ["1"], "//fa:FaWiersz/fa:P_12": ["oo"], "//fa:P_13_10": ["100.00"]},
        "the oo rate: the buyer settles the tax (P_18 = 1), the net goes to P_13_10 and no tax is charged",
        lines=[_line(vat_rate="oo")],
    ),
    Case(
        "intra-EU supply with a discount",
        {
            **{"nip": "", "foreign_id": "DE123456789", "country_code": "DE"},
            **{"currency": "EUR", "exchange_rate": "4,25"},
        },
        {
            "//fa:Podmiot2/fa:DaneIdentyfikacyjne/fa:KodUE": ["DE"],
            "//fa:Podmiot2/fa:DaneIdentyfikacyjne/fa:NrVatUE": ["123456789"],
            "//fa:FaWiersz/fa:P_12": ["0 WDT"],
            "//fa:FaWiersz/fa:P_10": ["5"],
            "//fa:P_13_6_2": ["95.00"],
        },
        "0 % WDT needs the buyer's EU VAT number (KodUE + NrVatUE); the discount lowers the 0 % base",
        lines=[_line(vat_rate="0 WDT", discount_percent="5")],
    ),
    Case(
        "exemption",
        {"exemption_basis": "act", "exemption_text": "art. 43 ust. 1 pkt 37 ustawy o VAT"},
        {
            "//fa:Zwolnienie/fa:P_19": ["1"],
            "//fa:Zwolnienie/fa:P_19A": ["art. 43 ust. 1 pkt 37 ustawy o VAT"],
        },
        "the zw rate needs the legal basis of the exemption (P_19 + P_19A for the Polish act)",
        lines=[_line(vat_rate="zw")],
    ),
    Case(
        "paid in full",
        {"paid_on": TODAY.isoformat()},
        {"//fa:Platnosc/fa:Zaplacono": ["1"], "//fa:Platnosc/fa:DataZaplaty": [TODAY.isoformat()]},
        "an invoice the buyer already paid says so with the date (Zaplacono + DataZaplaty)",
    ),
    Case(
        "partly paid",
        {"partial_amount": "50,00", "partial_paid_on": (TODAY - dt.timedelta(days=2)).isoformat()},
        {
            "//fa:Platnosc/fa:ZnacznikZaplatyCzesciowej": ["1"],
            "//fa:ZaplataCzesciowa/fa:KwotaZaplatyCzesciowej": ["50.00"],
            "//fa:ZaplataCzesciowa/fa:DataZaplatyCzesciowej": [(TODAY - dt.timedelta(days=2)).isoformat()],
            "//fa:Platnosc/fa:Zaplacono": [],
        },
        "part of the price paid before the invoice: the flag, the amount and the day (ZaplataCzesciowa)",
    ),
    Case(
        "codes and procedure per line",
        {},
        {
            "//fa:FaWiersz/fa:PKWiU": ["62.01.11.0"],
            "//fa:FaWiersz/fa:CN": ["8471 30 00"],
            "//fa:FaWiersz/fa:GTIN": ["5901234123457"],
            "//fa:FaWiersz/fa:Indeks": ["SKU-17"],
            "//fa:FaWiersz/fa:Procedura": ["B_SPV"],
        },
        "classification symbols, the product code and a JPK_VAT procedure marker travel with their line",
        lines=[
            _line(
                name="Bon podarunkowy jednego przeznaczenia",
                pkwiu="62.01.11.0",
                cn="8471 30 00",
                gtin="5901234123457",
                index="SKU-17",
                procedure="B_SPV",
            )
        ],
    ),
    Case(
        "own sale date per line",
        {"sale_date": TODAY.isoformat()},
        {
            "//fa:Fa/fa:P_6": [],
            "//fa:FaWiersz/fa:P_6A": [(TODAY - dt.timedelta(days=9)).isoformat(), TODAY.isoformat()],
        },
        "P_6 is only for a date all lines share: once one line has its own (P_6A), every line states one",
        lines=[_line(sale_date=(TODAY - dt.timedelta(days=9)).isoformat()), _line(name="Druga usługa")],
    ),
    Case(
        "related parties",
        {"related_parties": "on"},
        {"//fa:Fa/fa:TP": ["1"]},
        "a sale between related parties carries the JPK_VAT marker TP",
    ),
    Case(
        "a recipient besides the buyer (Podmiot3)",
        {
            "third_role": "2",
            "third_name": "Szkoła Podstawowa nr 5",
            "third_nip": "7740001454",
            "third_address_line1": "ul. Szkolna 5",
            "third_address_line2": "09-400 Płock",
        },
        {
            "//fa:Podmiot3/fa:DaneIdentyfikacyjne/fa:NIP": ["7740001454"],
            "//fa:Podmiot3/fa:DaneIdentyfikacyjne/fa:Nazwa": ["Szkoła Podstawowa nr 5"],
            "//fa:Podmiot3/fa:Rola": ["2"],
            "//fa:Podmiot2/fa:JST": ["2"],
        },
        "goods delivered to someone other than the buyer: the recipient is named with its role (Rola 2)",
    ),
    Case(
        "a local government unit as recipient (JST)",
        {"third_role": "8", "third_name": "Urząd Gminy Zielonki", "third_nip": "5252248481"},
        {"//fa:Podmiot3/fa:Rola": ["8"], "//fa:Podmiot2/fa:JST": ["1"]},
        "a municipality buys for its unit: Podmiot3 names the unit (Rola 8) and Podmiot2 says JST = 1",
    ),
    Case(
        "billing period",
        {
            "sale_date": "",
            "period_from": (TODAY - dt.timedelta(days=30)).isoformat(),
            "period_to": TODAY.isoformat(),
        },
        {
            "//fa:OkresFa/fa:P_6_Od": [(TODAY - dt.timedelta(days=30)).isoformat()],
            "//fa:OkresFa/fa:P_6_Do": [TODAY.isoformat()],
        },
        "services billed per period state the period instead of a sale date (OkresFa)",
    ),
    Case(
        "discount on the whole invoice, a percent",
        {"discount_percent": "10"},
        {
            "//fa:FaWiersz/fa:P_10": ["20", "5"],
            "//fa:FaWiersz/fa:P_11": ["180.00", "45.00"],
            "//fa:P_13_1": ["180.00"],
            "//fa:P_14_1": ["41.40"],
            "//fa:P_13_2": ["45.00"],
            "//fa:P_14_2": ["3.60"],
            "//fa:P_15": ["270.00"],
            "//fa:DodatkowyOpis/fa:Klucz": ["Rabat od całej faktury"],
            "//fa:DodatkowyOpis/fa:Wartosc": ["10% (25,00 PLN), uwzględniony w rabatach pozycji (P_10)"],
        },
        "FA(3) has no invoice-level discount: 10 % is taken off every line as its P_10 (art. 106e ust. 1 pkt "
        "10: discounts not in the unit price), so P_11 and the per-rate totals agree, and DodatkowyOpis says "
        "what the discount was",
        lines=[_line(quantity="2"), _line(name="Dostawa", unit_price="50", vat_rate="8")],
    ),
    Case(
        "discount on the whole invoice, an amount, with a line's own discount",
        {"discount_amount": "10,00"},
        {
            "//fa:FaWiersz/fa:P_10": ["14.74", "5.26"],
            "//fa:FaWiersz/fa:P_11": ["85.25", "94.74"],
            "//fa:P_13_1": ["179.99"],
            "//fa:P_14_1": ["41.40"],
            "//fa:P_15": ["221.39"],
            "//fa:DodatkowyOpis/fa:Wartosc": ["10,00 PLN, uwzględniony w rabatach pozycji (P_10)"],
        },
        "10,00 zł is spread over the lines in proportion to their values after their own discounts "
        "(89,99 and 100,00 → 4,74 and 5,26, the grosz left by rounding to the larger remainder), "
        "so the shares add up to exactly 10,00; each P_10 is the line's own discount (10,00) plus its share",
        lines=[
            _line(quantity="3", unit_price="33,33", discount_percent="10"),
            _line(name="Druga usługa"),
        ],
    ),
    Case(
        "gross prices",
        {"prices_gross": "on"},
        {
            "//fa:FaWiersz/fa:P_9B": ["12.3", "0.99", "0.99", "8.99"],
            "//fa:FaWiersz/fa:P_11A": ["36.90", "0.99", "0.99", "8.99"],
            "//fa:FaWiersz/fa:P_9A": [],
            "//fa:FaWiersz/fa:P_11": [],
            "//fa:FaWiersz/fa:P_11Vat": [],
            "//fa:FaWiersz/fa:P_12": ["23", "23", "23", "8"],
            "//fa:P_13_1": ["31.61"],
            "//fa:P_14_1": ["7.27"],
            "//fa:P_13_2": ["8.32"],
            "//fa:P_14_2": ["0.67"],
            "//fa:P_15": ["47.87"],
        },
        "art. 106e ust. 7-8: a shop pricing gross states the gross unit price (P_9B) and value (P_11A) "
        "instead of the net ones, and the tax of each rate comes from the rate's gross sum: 38,88 x 23/123 "
        "= 7,27 (the lines' own taxes would add up to 7,28)",
        lines=[
            _line(name="Kawa", quantity="3", unit_price="12,30"),
            _line(name="Woda", unit_price="0,99"),
            _line(name="Woda gazowana", unit_price="0,99"),
            _line(name="Ciastko", unit_price="8,99", vat_rate="8"),
        ],
    ),
    Case(
        "gross prices with a discount on the whole invoice",
        {"prices_gross": "on", "discount_percent": "5"},
        {
            "//fa:FaWiersz/fa:P_9B": ["61.5"],
            "//fa:FaWiersz/fa:P_10": ["6.15"],
            "//fa:FaWiersz/fa:P_11A": ["116.85"],
            "//fa:P_13_1": ["95.00"],
            "//fa:P_14_1": ["21.85"],
            "//fa:P_15": ["116.85"],
        },
        "with gross prices P_10 is a gross discount (art. 106e ust. 1 pkt 10 with ust. 7): 5 % of 123,00; "
        "the tax is then taken out of the 116,85 left",
        lines=[_line(name="Zestaw", quantity="2", unit_price="61,50")],
    ),
    Case(
        "margin scheme: second-hand goods",
        {"margin_scheme": "used_goods"},
        {
            "//fa:PMarzy/fa:P_PMarzy": ["1"],
            "//fa:PMarzy/fa:P_PMarzy_3_1": ["1"],
            "//fa:PMarzy/fa:P_PMarzyN": [],
            "//fa:FaWiersz/fa:P_12": [],
            "//fa:FaWiersz/fa:P_9B": ["45000"],
            "//fa:FaWiersz/fa:P_11A": ["45000.00"],
            "//fa:FaWiersz/fa:P_11": [],
            "//fa:P_13_11": ["45000.00"],
            "//fa:P_13_1": [],
            "//fa:P_14_1": [],
            "//fa:P_15": ["45000.00"],
        },
        'art. 120 with art. 106e ust. 3: the invoice says "procedura marży - towary używane" (P_PMarzy_3_1) '
        "and shows neither a rate nor a tax (no P_12, no P_14_x); the price the buyer pays goes to "
        "P_9B/P_11A and the sale's value to P_13_11 (the VAT rate typed in the line is ignored)",
        lines=[_line(name="Samochód osobowy, używany", unit_price="45000")],
    ),
    Case(
        "margin scheme: travel agency, with a discount",
        {"margin_scheme": "travel", "discount_amount": "100"},
        {
            "//fa:PMarzy/fa:P_PMarzy_2": ["1"],
            "//fa:FaWiersz/fa:P_10": ["100"],
            "//fa:FaWiersz/fa:P_11A": ["2900.00"],
            "//fa:P_13_11": ["2900.00"],
            "//fa:P_15": ["2900.00"],
        },
        'art. 119: "procedura marży dla biur podróży" (P_PMarzy_2); the discount on the invoice lowers the '
        "line's value and P_13_11",
        lines=[_line(name="Wycieczka do Rzymu", quantity="2", unit_price="1500")],
    ),
    Case(
        "margin scheme: works of art",
        {"margin_scheme": "art"},
        {"//fa:PMarzy/fa:P_PMarzy_3_2": ["1"], "//fa:P_13_11": ["1200.00"]},
        'art. 120: "procedura marży - dzieła sztuki" (P_PMarzy_3_2)',
        lines=[_line(name="Obraz olejny", unit_price="1200")],
    ),
    Case(
        "margin scheme: collectors' items and antiques",
        {"margin_scheme": "antiques"},
        {"//fa:PMarzy/fa:P_PMarzy_3_3": ["1"], "//fa:P_13_11": ["850.50"]},
        'art. 120: "procedura marży - przedmioty kolekcjonerskie i antyki" (P_PMarzy_3_3)',
        lines=[_line(name="Zegar kominkowy", unit_price="850,50")],
    ),
    Case(
        "long notes",
        {"notes": "Warunki: " + "x" * 400},
        {"//fa:Stopka/fa:Informacje/fa:StopkaFaktury": ["Warunki: " + "x" * 400]},
        "notes over 256 characters do not fit DodatkowyOpis: they go whole to the footer, never cut",
    ),
]


def _form(case: Case) -> dict[str, str]:
    lines = case.lines or [_line()]
    data = {
        "idempotency_key": str(uuid.uuid4()),
        "name": "Kontrahent Sp. z o.o.",
        "nip": "5260250274",
        "foreign_id": "",
        "country_code": "PL",
        "address_line1": "ul. Prosta 1",
        "address_line2": "00-950 Warszawa",
        "issue_date": TODAY.isoformat(),
        "sale_date": TODAY.isoformat(),
        "currency": "PLN",
        "exchange_rate": "",
        "payment_method": "6",
        "due_date": (TODAY + dt.timedelta(days=14)).isoformat(),
        "bank_account": "61 1090 1014 0000 0712 1981 2874",
        "lines-TOTAL_FORMS": str(len(lines)),
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "1",
        "lines-MAX_NUM_FORMS": "1000",
    } | case.typed
    for i, line in enumerate(lines):
        data |= {f"lines-{i}-{key}": value for key, value in line.items()}
    return data


@pytest.fixture
def stored_at_once(connected: Any) -> None:  # noqa: F811 - the imported fixture, asked for by name
    """KSeF keeps an accepted invoice for download a moment later; here at once."""
    config_update(permanent_storage_lag=0)


def _flat(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").split())


@pytest.mark.usefixtures("stored_at_once")
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_each_case_reaches_ksef_as_typed(company_a: Company, alice_client: Any, case: Case) -> None:
    response = alice_client.post(reverse("invoices:issue"), _form(case))
    assert response.status_code == 302, response.context["form"].errors if response.context else ""
    invoice = Invoice.objects.get(company=company_a)
    submission = run(invoice)
    assert submission.status == S.ACCEPTED, submission.last_error_message
    invoice.refresh_from_db()
    assert invoice.ksef_status == KsefStatus.ACCEPTED

    assert invoice.ksef_number
    downloaded = ksef_client_for(company=company_a).invoices.invoice_download(ksef_number=invoice.ksef_number)
    root = etree.fromstring(downloaded)
    for path, texts in case.expected.items():
        assert [el.text for el in root.xpath(path, namespaces=NS)] == texts, f"{path}: {case.why}"
    parsed = parse_invoice(downloaded)
    lines = sorted(invoice.lines.all(), key=lambda line: line.ordinal)
    assert [(x.discount, x.gtu or "") for x in parsed.lines] == [(x.discount, x.gtu) for x in lines]
    # gross prices and margin schemes come back as typed (P_9B/P_11A, PMarzy), and the per-rate totals
    # follow from the lines
    assert [
        (x.unit_price_gross, x.gross_value if x.unit_price_gross is not None else None) for x in lines
    ] == [(x.unit_price_gross, x.gross_value) for x in parsed.lines]
    assert (parsed.annotations.margin is not None) == bool(invoice.margin_scheme)
    assert parsed.totals is not None
    assert parsed.totals == compute_totals(parsed)
    assert parsed.totals.gross == invoice.total_gross
    assert parsed.annotations.cash_accounting == invoice.cash_accounting
    assert parsed.annotations.self_billing == invoice.self_billing

    page = alice_client.get(reverse("invoices:detail", kwargs={"invoice_uuid": invoice.uuid}))
    assert page.status_code == 200
    html = page.content.decode()
    if invoice.cash_accounting:
        assert 'id="annotation-cash-accounting"' in html
        assert "metoda kasowa" in html.lower()
    if invoice.self_billing:
        assert "samofakturowanie" in html.lower()
    for line in lines:
        if line.gtu:
            assert f"<td>{line.gtu}</td>" in html
        for code in line.codes():
            assert code in html
    own_dates = any(x.sale_date for x in lines)  # then every line states one (P_6A)
    common = invoice.sale_date or invoice.issue_date
    assert [(x.pkwiu, x.cn, x.gtin, x.index, x.procedure, x.sale_date) for x in parsed.lines] == [
        (
            x.pkwiu or None,
            x.cn or None,
            x.gtin or None,
            x.index or None,
            x.procedure or None,
            (x.sale_date or common) if own_dates else None,
        )
        for x in lines
    ]
    assert parsed.related_parties == invoice.related_parties
    if invoice.related_parties:
        assert 'id="annotation-related-parties"' in html
    assert [(int(p.role or 0), p.name) for p in parsed.third_parties] == [
        (third["role"], third["name"]) for third in invoice.third_parties
    ]
    for third in invoice.third_parties_shown():
        assert str(third["name"]) in html
    for amount, paid_on in invoice.partial_payments_made():
        assert f"{amount:.2f}".replace(".", ",") + f" PLN ({paid_on:%d.%m.%Y})" in html
    discount = invoice.invoice_discount_total
    assert ('id="invoice-discount"' in html) == bool(discount)
    assert ('id="annotation-gross-prices"' in html) == invoice.prices_gross
    assert ('id="annotation-margin"' in html) == bool(invoice.margin_scheme)
    if invoice.margin_scheme:
        assert invoice.margin_label in html
    pdf = alice_client.get(reverse("invoices:pdf", kwargs={"invoice_uuid": invoice.uuid}))
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    text = pdf_text(pdf.content)
    for third in invoice.third_parties:
        assert third["name"] in text
    drawn = _flat(text)  # the PDF draws the grouping space as a space and may wrap long words
    if invoice.margin_scheme:
        assert _flat(invoice.margin_label) in drawn
    if discount:
        assert _flat(money(discount)) in drawn
        assert money(discount) in html
    for line in lines:
        if line.unit_price_gross is not None:  # the gross price typed is what both show
            assert f'<td class="num">{price(line.unit_price_gross)}</td>' in html
            assert _flat(price(line.unit_price_gross)) in drawn


@pytest.mark.usefixtures("stored_at_once")
def test_the_seller_s_krs_regon_and_bdo_go_in_the_footer(company_a: Company, alice_client: Any) -> None:
    """Company data → KRS, REGON (checked with its check digit), BDO; each invoice then carries them in
    Stopka/Rejestry, as they were on the day it was issued."""
    edit = reverse("accounts:company_edit")
    form = {
        "company_name": company_a.name,
        "nip": company_a.nip,
        "address_line1": company_a.address_line1,
        "address_line2": company_a.address_line2,
        "country_code": "PL",
        "krs": "0000123456",
        "regon": "123456785",
        "bdo": "000012345",
    }
    refused = alice_client.post(edit, form | {"regon": "123456789"})
    assert refused.status_code == 200
    assert "To nie jest poprawny REGON" in refused.content.decode()
    assert alice_client.post(edit, form).status_code == 302
    response = alice_client.post(reverse("invoices:issue"), _form(CASES[0]))
    assert response.status_code == 302
    invoice = Invoice.objects.get(company=company_a)
    assert run(invoice).status == S.ACCEPTED
    invoice.refresh_from_db()
    assert invoice.ksef_number
    downloaded = ksef_client_for(company=company_a).invoices.invoice_download(ksef_number=invoice.ksef_number)
    root = etree.fromstring(downloaded)
    assert [el.text for el in root.xpath("//fa:Stopka/fa:Rejestry/*", namespaces=NS)] == [
        "0000123456",
        "123456785",
        "000012345",
    ]
    html = alice_client.get(
        reverse("invoices:detail", kwargs={"invoice_uuid": invoice.uuid})
    ).content.decode()
    assert "KRS 0000123456" in html
    assert "REGON 123456785" in html

"""Issue 19: an advance invoice (ZAL), the final invoice that settles it (ROZ) and their corrections
(KOR_ZAL, KOR_ROZ), as stories typed into Wystaw and Korekta, sent to the simulator over real HTTP,
downloaded back from KSeF and read again.

The amounts are worked out by hand below, from the rules in invoices/advances.py: the advance is split over
the order's rates in proportion to their gross values, the tax taken out of each share (art. 106f ust. 1
pkt 3); the final invoice states its lines' totals less the advance's, and P_15 what is left to pay. A
correction of either states the changes (after less before) in P_13_x/P_14_x/P_15 and the amount before it
in P_15ZK, as the Ministry's FA samples of KOR_ZAL and KOR_ROZ do.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from lxml import etree

from accounts.models import Company
from invoices import services
from invoices.errors import InvoiceInvalid
from invoices.models import Invoice, InvoiceKind, KsefStatus
from ksef_integration.connect.session import ksef_client_for
from ksef_integration.fa3 import parse_invoice
from ksef_integration.models import SubmissionStatus as S
from ksef_integration.sending.mapping import invoice_xml_build
from tests.invoices.factories import issue_data
from tests.sending.test_fa3_cases import NS, _form, _line, stored_at_once  # noqa: F401 - fixture by name
from tests.sending.test_send_simulator import (
    connected,  # noqa: F401 - the fixture stored_at_once uses
    run,
)
from tests.test_browser_send import pdf_text

pytestmark = pytest.mark.django_db(transaction=True)

# The order: 10,000 net at 23 % (12,300 gross) and 1,000 net at 8 % (1,080 gross): 13,380 gross in all.
ORDER = [
    _line(name="Meble kuchenne na wymiar", quantity="1", unit_price="10000", vat_rate="23"),
    _line(name="Montaż w lokalu mieszkalnym", quantity="1", unit_price="1000", vat_rate="8"),
]


def _typed(**extra: str) -> dict[str, str]:
    from tests.sending.test_fa3_cases import Case

    return _form(Case("", extra, {}, "", lines=ORDER))


def _texts(root: Any, path: str) -> list[str]:
    return [el.text for el in root.xpath(path, namespaces=NS)]


def _download(company: Company, invoice: Invoice) -> bytes:
    assert invoice.ksef_number
    return ksef_client_for(company=company).invoices.invoice_download(ksef_number=invoice.ksef_number)


@pytest.mark.usefixtures("stored_at_once")
def test_advance_then_final_invoice_reach_ksef_with_the_advance_deducted(
    company_a: Company, alice_client: Any
) -> None:
    # 1. The advance invoice: 5,000 PLN received on a 13,380 PLN order.
    response = alice_client.post(reverse("invoices:issue"), _typed(kind="ZAL", advance_amount="5 000,00"))
    assert response.status_code == 302, response.context["form"].errors if response.context else ""
    advance = Invoice.objects.get(company=company_a)
    assert advance.kind == InvoiceKind.ZAL
    assert advance.number.startswith("FZ/1/")
    # 23 %: 5,000 x 12,300 / 13,380 = 4,596.41, tax 4,596.41 x 23/123 = 859.49; 8 %: the rest, 403.59,
    # tax 403.59 x 8/108 = 29.90.
    assert (advance.total_net, advance.total_vat, advance.total_gross) == (
        Decimal("4110.61"),
        Decimal("889.39"),
        Decimal("5000.00"),
    )
    assert run(advance).status == S.ACCEPTED
    advance.refresh_from_db()
    root = etree.fromstring(_download(company_a, advance))
    assert _texts(root, "//fa:RodzajFaktury") == ["ZAL"]
    assert _texts(root, "//fa:P_13_1") == ["3736.92"]
    assert _texts(root, "//fa:P_14_1") == ["859.49"]
    assert _texts(root, "//fa:P_13_2") == ["373.69"]
    assert _texts(root, "//fa:P_14_2") == ["29.90"]
    assert _texts(root, "//fa:P_15") == ["5000.00"]
    assert _texts(root, "//fa:Zamowienie/fa:WartoscZamowienia") == ["13380.00"]
    assert _texts(root, "//fa:ZamowienieWiersz/fa:P_7Z") == [line["name"] for line in ORDER]
    assert _texts(root, "//fa:ZamowienieWiersz/fa:P_11NettoZ") == ["10000.00", "1000.00"]
    assert _texts(root, "//fa:ZamowienieWiersz/fa:P_11VatZ") == ["2300.00", "80.00"]
    assert root.xpath("//fa:FaWiersz", namespaces=NS) == [], "an advance invoice has no lines of a sale"

    detail = reverse("invoices:detail", kwargs={"invoice_uuid": advance.uuid})
    page = alice_client.get(detail).content.decode()
    assert "Faktura zaliczkowa" in page
    assert "13\u00a0380,00" in page  # the order's value is shown beside the advance

    # 2. The final invoice for the whole order settles it.
    form = alice_client.get(reverse("invoices:issue")).content.decode()
    assert str(advance.uuid) in form
    assert advance.number in form
    response = alice_client.post(reverse("invoices:issue"), _typed(kind="ROZ", advances=str(advance.uuid)))
    assert response.status_code == 302, response.context["form"].errors if response.context else ""
    final = Invoice.objects.get(company=company_a, kind=InvoiceKind.ROZ)
    assert final.number.startswith("FV/1/"), "a final invoice is numbered in the main series"
    advance.refresh_from_db()
    assert advance.settled_by_id == final.pk
    # 23 %: 10,000 - 3,736.92 = 6,263.08 net, 2,300 - 859.49 = 1,440.51 tax; 8 %: 626.31 and 50.10.
    assert (final.total_net, final.total_vat, final.total_gross) == (
        Decimal("6889.39"),
        Decimal("1490.61"),
        Decimal("8380.00"),
    )
    assert run(final).status == S.ACCEPTED
    final.refresh_from_db()
    downloaded = _download(company_a, final)
    root = etree.fromstring(downloaded)
    assert _texts(root, "//fa:RodzajFaktury") == ["ROZ"]
    assert _texts(root, "//fa:P_13_1") == ["6263.08"]
    assert _texts(root, "//fa:P_14_1") == ["1440.51"]
    assert _texts(root, "//fa:P_13_2") == ["626.31"]
    assert _texts(root, "//fa:P_14_2") == ["50.10"]
    assert _texts(root, "//fa:P_15") == ["8380.00"], "P_15 of a final invoice is what is left to pay"
    assert _texts(root, "//fa:FakturaZaliczkowa/fa:NrKSeFFaZaliczkowej") == [advance.ksef_number]
    assert _texts(root, "//fa:FaWiersz/fa:P_11") == ["10000.00", "1000.00"], "the lines are the whole sale"
    parsed = parse_invoice(downloaded)
    assert [ref.ksef_number for ref in parsed.advance_invoices] == [advance.ksef_number]

    page = alice_client.get(reverse("invoices:detail", kwargs={"invoice_uuid": final.uuid})).content.decode()
    assert "Faktura rozliczeniowa" in page
    assert advance.number in page
    assert advance.ksef_number in page
    pdf = alice_client.get(reverse("invoices:pdf", kwargs={"invoice_uuid": final.uuid}))
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")

    # 3. The advance is settled: it is no longer offered, and settling it again is refused.
    form = alice_client.get(reverse("invoices:issue")).content.decode()
    assert str(advance.uuid) not in form
    with pytest.raises(InvoiceInvalid) as refused:
        services.invoice_issue(
            company=company_a,
            user=None,
            data=_data(kind=InvoiceKind.ROZ, advances=(advance.uuid,)),
        )
    assert [(issue.field, issue.message) for issue in refused.value.issues] == [
        ("advances", f"Faktura zaliczkowa {advance.number} jest już rozliczona.")
    ]


def _data(**overrides: Any) -> services.InvoiceData:
    lines = [
        services.LineData(name="Meble", quantity=Decimal(1), unit_price=Decimal(10000), vat_rate="23"),
        services.LineData(name="Montaż", quantity=Decimal(1), unit_price=Decimal(1000), vat_rate="8"),
    ]
    return issue_data(lines=lines, idempotency_key=uuid.uuid4(), **overrides)


def test_a_final_invoice_waits_for_the_advance_s_ksef_number(
    connected: Any,  # noqa: F811 - the imported fixture
) -> None:
    company = connected.company
    advance = services.invoice_issue(
        company=company, user=None, data=_data(kind=InvoiceKind.ZAL, advance_amount=Decimal(1000))
    )
    advance.refresh_from_db()
    assert advance.ksef_status == KsefStatus.QUEUED  # queued for KSeF, no number yet
    # Its correction (KOR_ZAL) waits for the number too, as a VAT invoice's does.
    assert advance.correction_waits_for_ksef_number()
    assert not advance.can_be_corrected()
    with pytest.raises(InvoiceInvalid) as refused:
        services.invoice_issue(
            company=company, user=None, data=_data(kind=InvoiceKind.ROZ, advances=(advance.uuid,))
        )
    assert refused.value.issues[0].field == "advances"
    assert "w drodze do KSeF" in refused.value.issues[0].message
    assert not Invoice.objects.filter(kind=InvoiceKind.ROZ).exists()


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (Decimal("13380.01"), "Zaliczka nie może być większa niż wartość zamówienia"),
        (Decimal("0"), "Zaliczka musi być większa od zera"),
    ],
)
def test_an_advance_outside_the_order_s_value_is_refused(
    company_a: Company, amount: Decimal, message: str
) -> None:
    with pytest.raises(InvoiceInvalid) as refused:
        services.invoice_issue(
            company=company_a, user=None, data=_data(kind=InvoiceKind.ZAL, advance_amount=amount)
        )
    assert refused.value.issues[0].field == "advance_amount"
    assert refused.value.issues[0].message.startswith(message)
    assert not Invoice.objects.filter(company=company_a).exists()


# --- corrections: KOR_ROZ and KOR_ZAL ----------------------------------------------------------------------


def _correction_form(lines: list[dict[str, str]], **extra: str) -> dict[str, str]:
    """The Korekta form as a person fills it: reason, date and the lines after the correction."""
    data = {
        "idempotency_key": str(uuid.uuid4()),
        "reason": "Zmiana zakresu prac",
        "issue_date": _typed()["issue_date"],
        "notes": "",
        "lines-TOTAL_FORMS": str(len(lines)),
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "1",
        "lines-MAX_NUM_FORMS": "1000",
    } | extra
    for i, line in enumerate(lines):
        data |= {f"lines-{i}-{key}": value for key, value in line.items()}
    return data


def _issued(client: Any, url: str, data: dict[str, str]) -> None:
    response = client.post(url, data)
    assert response.status_code == 302, response.context["form"].errors if response.context else ""


def _page(client: Any, invoice: Invoice) -> str:
    return str(client.get(reverse("invoices:detail", kwargs={"invoice_uuid": invoice.uuid})).content.decode())


def _pdf(client: Any, invoice: Invoice) -> str:
    pdf = client.get(reverse("invoices:pdf", kwargs={"invoice_uuid": invoice.uuid}))
    assert pdf.status_code == 200
    return pdf_text(pdf.content).replace("\u00a0", " ")  # the PDF draws the grouping space as a space


@pytest.mark.usefixtures("stored_at_once")
def test_advance_then_final_invoice_then_its_correction(company_a: Company, alice_client: Any) -> None:
    """ZAL → ROZ → KOR_ROZ: the fitting (8 %) costs 1,200 net instead of 1,000; the advance stays deducted."""
    _issued(alice_client, reverse("invoices:issue"), _typed(kind="ZAL", advance_amount="5000"))
    advance = Invoice.objects.get(company=company_a, kind=InvoiceKind.ZAL)
    assert run(advance).status == S.ACCEPTED
    advance.refresh_from_db()
    _issued(alice_client, reverse("invoices:issue"), _typed(kind="ROZ", advances=str(advance.uuid)))
    final = Invoice.objects.get(company=company_a, kind=InvoiceKind.ROZ)
    correct_url = reverse("invoices:correct", kwargs={"invoice_uuid": final.uuid})
    assert correct_url not in _page(alice_client, final), (
        "no correction before KSeF numbers the final invoice"
    )
    assert run(final).status == S.ACCEPTED
    final.refresh_from_db()

    # The settled advance is corrected through the final invoice only.
    advance_page = _page(alice_client, advance)
    assert reverse("invoices:correct", kwargs={"invoice_uuid": advance.uuid}) not in advance_page
    assert 'id="advance-settled"' in advance_page
    refused = alice_client.get(reverse("invoices:correct", kwargs={"invoice_uuid": advance.uuid}))
    assert refused.status_code == 302

    assert correct_url in _page(alice_client, final)
    form = alice_client.get(correct_url).content.decode()
    assert 'id="settled-advances"' in form
    assert advance.number in form
    assert 'id="left-to-pay-before">8\u00a0380,00 PLN' in form
    after = [ORDER[0], ORDER[1] | {"unit_price": "1200"}]
    _issued(alice_client, correct_url, _correction_form(after))
    correction = Invoice.objects.get(company=company_a, kind=InvoiceKind.KOR_ROZ)
    assert correction.number.startswith("KOR/1/"), "corrections of every kind share the KOR series"
    assert correction.corrected_invoice_id == final.pk
    # The 23 % side does not change; 8 %: 1,200 - 373.69 = 826.31 net and 96.00 - 29.90 = 66.10 tax after,
    # 626.31 and 50.10 before: +200.00 and +16.00. Left to pay: 8,380.00 before, 8,596.00 after.
    assert (correction.total_net, correction.total_vat, correction.total_gross) == (
        Decimal("200.00"),
        Decimal("16.00"),
        Decimal("216.00"),
    )
    assert run(correction).status == S.ACCEPTED
    correction.refresh_from_db()
    downloaded = _download(company_a, correction)
    root = etree.fromstring(downloaded)
    assert _texts(root, "//fa:RodzajFaktury") == ["KOR_ROZ"]
    assert _texts(root, "//fa:DaneFaKorygowanej/fa:NrFaKorygowanej") == [final.number]
    assert _texts(root, "//fa:DaneFaKorygowanej/fa:NrKSeFFaKorygowanej") == [final.ksef_number]
    assert _texts(root, "//fa:P_13_1") == [], "a rate the correction does not change is not stated"
    assert _texts(root, "//fa:P_13_2") == ["200.00"]
    assert _texts(root, "//fa:P_14_2") == ["16.00"]
    assert _texts(root, "//fa:P_15") == ["216.00"], (
        "P_15 of a correction is the change of what is left to pay"
    )
    assert _texts(root, "//fa:P_15ZK") == ["8380.00"], "P_15ZK: what was left to pay before the correction"
    assert _texts(root, "//fa:FakturaZaliczkowa/fa:NrKSeFFaZaliczkowej") == [advance.ksef_number]
    assert _texts(root, "//fa:FaWiersz/fa:StanPrzed") == ["1", "1"]
    assert _texts(root, "//fa:FaWiersz/fa:P_11") == ["10000.00", "1000.00", "10000.00", "1200.00"]
    assert root.xpath("//fa:Zamowienie", namespaces=NS) == []
    parsed = parse_invoice(downloaded)
    assert parsed.kind.value == "KOR_ROZ"
    assert parsed.correction is not None
    assert parsed.correction.advance_paid_before == Decimal("8380.00")
    assert [c.ksef_number for c in parsed.correction.corrected] == [final.ksef_number]
    assert parsed.totals is not None
    assert [(r.bucket, r.net, r.vat) for r in parsed.totals.rates] == [
        ("2", Decimal("200.00"), Decimal("16.00"))
    ]
    assert parsed.totals.gross == Decimal("216.00")
    assert [ref.ksef_number for ref in parsed.advance_invoices] == [advance.ksef_number]
    assert [(line.net_value, line.before_correction) for line in parsed.lines] == [
        (Decimal("10000.00"), True),
        (Decimal("1000.00"), True),
        (Decimal("10000.00"), False),
        (Decimal("1200.00"), False),
    ]

    page = _page(alice_client, correction)
    assert 'data-kind="KOR_ROZ"' in page
    assert final.number in page
    assert advance.number in page
    assert 'id="left-to-pay-before">8\u00a0380,00 PLN' in page
    assert 'id="left-to-pay-after">8\u00a0596,00 PLN' in page
    text = _pdf(alice_client, correction)
    assert final.number in text
    assert advance.number in text
    assert "8 380,00" in text
    assert "8 596,00" in text

    # A second correction starts from the first one's state: 8,596.00 left to pay, fitting 1,200.
    form = alice_client.get(correct_url).content.decode()
    assert 'id="left-to-pay-before">8\u00a0596,00 PLN' in form
    _issued(alice_client, correct_url, _correction_form([ORDER[0], ORDER[1]]))
    back = Invoice.objects.filter(company=company_a, kind=InvoiceKind.KOR_ROZ).latest("id")
    assert back.stated is not None
    assert (back.stated.paid_before, back.total_gross) == (Decimal("8596.00"), Decimal("-216.00"))


@pytest.mark.usefixtures("stored_at_once")
def test_part_of_an_advance_given_back_then_settled(company_a: Company, alice_client: Any) -> None:
    """KOR_ZAL: 2,000 of the 5,000 advance was given back. The order is restated before and after (it does
    not change: the schema asks for both rows to confirm it), the advance's tax changes per rate, and the
    final invoice then deducts the advance as corrected."""
    _issued(alice_client, reverse("invoices:issue"), _typed(kind="ZAL", advance_amount="5000"))
    advance = Invoice.objects.get(company=company_a, kind=InvoiceKind.ZAL)
    assert run(advance).status == S.ACCEPTED
    advance.refresh_from_db()
    correct_url = reverse("invoices:correct", kwargs={"invoice_uuid": advance.uuid})
    assert correct_url in _page(alice_client, advance)
    form = alice_client.get(correct_url).content.decode()
    assert 'id="advance-before">5\u00a0000,00 PLN' in form
    assert 'id="order-value-before">13\u00a0380,00 PLN' in form
    offered = re.search(r"name=\"advance_amount\" value=\"([^\"]*)\"", form)
    assert offered, "the advance as it stands is offered"
    assert offered.group(1) == "5000.00"
    _issued(alice_client, correct_url, _correction_form(ORDER, advance_amount="3 000,00"))
    correction = Invoice.objects.get(company=company_a, kind=InvoiceKind.KOR_ZAL)
    assert correction.number.startswith("KOR/1/")
    # After: 23 % 3,000 x 12,300 / 13,380 = 2,757.85, tax x 23/123 = 515.70, net 2,242.15; 8 %: the rest,
    # 242.15, tax x 8/108 = 17.94, net 224.21. Before (the advance invoice): 3,736.92 + 859.49 and
    # 373.69 + 29.90. Changes: -1,494.77 / -343.79 and -149.48 / -11.96, -2,000.00 in all.
    assert (correction.total_net, correction.total_vat, correction.total_gross) == (
        Decimal("-1644.25"),
        Decimal("-355.75"),
        Decimal("-2000.00"),
    )
    assert run(correction).status == S.ACCEPTED
    correction.refresh_from_db()
    downloaded = _download(company_a, correction)
    root = etree.fromstring(downloaded)
    assert _texts(root, "//fa:RodzajFaktury") == ["KOR_ZAL"]
    assert _texts(root, "//fa:DaneFaKorygowanej/fa:NrKSeFFaKorygowanej") == [advance.ksef_number]
    assert _texts(root, "//fa:P_13_1") == ["-1494.77"]
    assert _texts(root, "//fa:P_14_1") == ["-343.79"]
    assert _texts(root, "//fa:P_13_2") == ["-149.48"]
    assert _texts(root, "//fa:P_14_2") == ["-11.96"]
    assert _texts(root, "//fa:P_15") == ["-2000.00"], "P_15 of a KOR_ZAL is the change of the advance"
    assert _texts(root, "//fa:P_15ZK") == ["5000.00"], "P_15ZK: the advance before the correction"
    assert _texts(root, "//fa:Zamowienie/fa:WartoscZamowienia") == ["13380.00"]
    assert _texts(root, "//fa:ZamowienieWiersz/fa:StanPrzedZ") == ["1", "1"]
    assert _texts(root, "//fa:ZamowienieWiersz/fa:P_11NettoZ") == ["10000.00", "1000.00"] * 2
    assert root.xpath("//fa:FaWiersz", namespaces=NS) == [], "the order is in Zamowienie, not in FaWiersz"
    parsed = parse_invoice(downloaded)
    assert parsed.kind.value == "KOR_ZAL"
    assert parsed.correction is not None
    assert parsed.correction.advance_paid_before == Decimal("5000.00")
    assert parsed.totals is not None
    assert [(r.bucket, r.net, r.vat) for r in parsed.totals.rates] == [
        ("1", Decimal("-1494.77"), Decimal("-343.79")),
        ("2", Decimal("-149.48"), Decimal("-11.96")),
    ]
    assert parsed.totals.gross == Decimal("-2000.00")
    assert parsed.order_xml is not None
    assert "StanPrzedZ" in parsed.order_xml

    page = _page(alice_client, correction)
    assert 'data-kind="KOR_ZAL"' in page
    assert 'id="advance-before">5\u00a0000,00 PLN' in page
    assert 'id="advance-after">3\u00a0000,00 PLN' in page
    assert 'id="order-value-before">' in page
    assert 'id="order-value-after">' in page
    text = _pdf(alice_client, correction)
    assert advance.number in text
    assert "5 000,00" in text
    assert "3 000,00" in text
    assert "-2 000,00" in text

    # The final invoice deducts the advance as it stands now: 13,380 - 3,000 = 10,380 left to pay.
    form = alice_client.get(reverse("invoices:issue")).content.decode()
    assert f"{advance.number} · " in form
    assert "3\u00a0000,00 PLN" in form, "Wystaw offers the advance as it stands after the correction"
    _issued(alice_client, reverse("invoices:issue"), _typed(kind="ROZ", advances=str(advance.uuid)))
    final = Invoice.objects.get(company=company_a, kind=InvoiceKind.ROZ)
    assert final.total_gross == Decimal("10380.00")
    assert run(final).status == S.ACCEPTED
    final.refresh_from_db()
    root = etree.fromstring(_download(company_a, final))
    assert _texts(root, "//fa:P_13_1") == ["7757.85"]  # 10,000 - 2,242.15
    assert _texts(root, "//fa:P_14_1") == ["1784.30"]  # 2,300 - 515.70
    assert _texts(root, "//fa:P_13_2") == ["775.79"]  # 1,000 - 224.21
    assert _texts(root, "//fa:P_14_2") == ["62.06"]  # 80 - 17.94
    assert _texts(root, "//fa:P_15") == ["10380.00"]


def _advance(company: Company, amount: str = "5000") -> Invoice:
    """An advance invoice never handed to KSeF (no connection): it may be corrected at once (NrKSeFN)."""
    return services.invoice_issue(
        company=company, user=None, data=_data(kind=InvoiceKind.ZAL, advance_amount=Decimal(amount))
    )


@pytest.mark.parametrize(
    ("typed", "lines", "field", "message"),
    [
        (
            {"advance_amount": "13380.01"},
            ORDER,
            "advance_amount",
            "Zaliczka nie może być większa niż wartość zamówienia",
        ),
        (
            {"advance_amount": "5000"},
            [ORDER[1]],  # the order shrinks to 1,080 gross under an advance of 5,000
            "advance_amount",
            "Zaliczka nie może być większa niż wartość zamówienia",
        ),
        ({"advance_amount": "-1"}, ORDER, "advance_amount", ""),
        ({"advance_amount": ""}, ORDER, "advance_amount", ""),
    ],
    ids=["above the order", "order below the advance", "negative", "missing"],
)
def test_an_advance_correction_outside_the_order_is_refused_at_the_field(
    company_a: Company,
    alice_client: Any,
    typed: dict[str, str],
    lines: list[dict[str, str]],
    field: str,
    message: str,
) -> None:
    advance = _advance(company_a)
    url = reverse("invoices:correct", kwargs={"invoice_uuid": advance.uuid})
    response = alice_client.post(url, _correction_form(lines, **typed))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors, errors
    assert all(error.startswith(message) for error in errors[field])
    assert not Invoice.objects.filter(company=company_a, kind=InvoiceKind.KOR_ZAL).exists()


def test_an_advance_given_back_in_full_is_a_correction_to_zero(company_a: Company) -> None:
    advance = _advance(company_a)
    correction = services.invoice_correct(
        original=advance,
        user=None,
        data=services.CorrectionData(
            "Zwrot całej zaliczki",
            [services.line_data_of(line) for line in advance.lines.all()],
            advance.issue_date,
            advance_amount=Decimal(0),
        ),
    )
    assert correction.kind == InvoiceKind.KOR_ZAL
    assert correction.stated is not None
    assert (correction.stated.paid_before, correction.stated.paid_after) == (
        Decimal("5000.00"),
        Decimal("0.00"),
    )
    assert correction.total_gross == Decimal("-5000.00")
    left = services.invoice_stated_now(original=advance)
    assert left is not None
    assert all((total.net, total.vat) == (0, 0) for total in left.rates), "nothing of the advance is left"


def test_a_final_invoice_correction_below_the_advances_is_refused(
    company_a: Company, alice_client: Any
) -> None:
    advance = _advance(company_a)
    final = services.invoice_issue(
        company=company_a, user=None, data=_data(kind=InvoiceKind.ROZ, advances=(advance.uuid,))
    )
    url = reverse("invoices:correct", kwargs={"invoice_uuid": final.uuid})
    # The whole sale at 23 % shrinks to 1,000 net, below the 3,736.92 the advance already taxed there.
    response = alice_client.post(url, _correction_form([ORDER[0] | {"unit_price": "1000"}, ORDER[1]]))
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert not Invoice.objects.filter(company=company_a, kind=InvoiceKind.KOR_ROZ).exists()


@dataclass(frozen=True)
class CorrectionCase:
    name: str
    corrects: str  # "ZAL" or "ROZ": what is issued (and accepted) before the correction
    lines: list[dict[str, str]]  # the lines (an advance's: the order) after the correction
    typed: dict[str, str]  # more Korekta fields
    expected: dict[str, list[str]]  # XPath -> the texts of its elements, in order
    why: str
    issued: dict[str, str] = field(default_factory=dict)  # more Wystaw fields of the advance invoice


CORRECTION_CASES = [
    CorrectionCase(
        "order reduced, advance unchanged",
        "ZAL",
        [ORDER[0], ORDER[1] | {"unit_price": "900"}],
        {"advance_amount": "5000"},
        {
            "//fa:RodzajFaktury": ["KOR_ZAL"],
            # After: the order is 12,300 + 972 = 13,272; 23 %: 5,000 x 12,300 / 13,272 = 4,633.82, tax
            # 866.49, net 3,767.33; 8 %: 366.18, tax 27.12, net 339.06. Less before (3,736.92 + 859.49,
            # 373.69 + 29.90): the shares move between the rates, the advance does not change.
            "//fa:P_13_1": ["30.41"],
            "//fa:P_14_1": ["7.00"],
            "//fa:P_13_2": ["-34.63"],
            "//fa:P_14_2": ["-2.78"],
            "//fa:P_15": ["0.00"],
            "//fa:P_15ZK": ["5000.00"],
            "//fa:Zamowienie/fa:WartoscZamowienia": ["13272.00"],
            "//fa:ZamowienieWiersz/fa:P_11NettoZ": ["10000.00", "1000.00", "10000.00", "900.00"],
            "//fa:ZamowienieWiersz/fa:StanPrzedZ": ["1", "1"],
            "//fa:FaWiersz": [],
        },
        "a KOR_ZAL for a smaller order: the order's rows before (StanPrzedZ) and after, its new value, and "
        "the advance's shares per rate recomputed; P_15 (the change of the advance) is zero",
    ),
    CorrectionCase(
        "advance too low, topped up",
        "ZAL",
        ORDER,
        {"advance_amount": "6000"},
        {
            "//fa:RodzajFaktury": ["KOR_ZAL"],
            # After: 23 % 6,000 x 12,300 / 13,380 = 5,515.70, tax x 23/123 = 1,031.39, net 4,484.31; 8 %
            # 484.30, tax 35.87, net 448.43.
            "//fa:P_13_1": ["747.39"],
            "//fa:P_14_1": ["171.90"],
            "//fa:P_13_2": ["74.74"],
            "//fa:P_14_2": ["5.97"],
            "//fa:P_15": ["1000.00"],
            "//fa:P_15ZK": ["5000.00"],
            "//fa:Zamowienie/fa:WartoscZamowienia": ["13380.00"],
            "//fa:ZamowienieWiersz/fa:StanPrzedZ": ["1", "1"],
        },
        "the advance was 6,000, not 5,000 (the Ministry's sample of a KOR_ZAL for an advance invoiced too "
        "low): the order is restated unchanged before and after, P_15 is the 1,000 added",
    ),
    CorrectionCase(
        "advance in euro, part given back",
        "ZAL",
        ORDER,
        {"advance_amount": "4000"},
        {
            "//fa:KodWaluty": ["EUR"],
            # After: 23 % 4,000 x 12,300 / 13,380 = 3,677.13, tax x 23/123 = 687.59, net 2,989.54; 8 %
            # 322.87, tax 23.92, net 298.95. Tax in PLN at 4.25 (the net in PLN first, then the rate): 23 %
            # 12,705.55 x 23 % = 2,922.28 after, 15,881.91 x 23 % = 3,652.84 before; 8 % 1,270.54 x 8 % =
            # 101.64 after, 127.05 before.
            "//fa:P_13_1": ["-747.38"],
            "//fa:P_14_1": ["-171.90"],
            "//fa:P_14_1W": ["-730.56"],
            "//fa:P_13_2": ["-74.74"],
            "//fa:P_14_2": ["-5.98"],
            "//fa:P_14_2W": ["-25.41"],
            "//fa:P_15": ["-1000.00"],
            "//fa:P_15ZK": ["5000.00"],
            "//fa:KursWalutyZK": ["4.25"],
            "//fa:KursWalutyZ": ["4.25"],
        },
        "an advance in a foreign currency: the changes of the tax in PLN per rate (P_14_xW) and the exchange "
        "rate before the correction (KursWalutyZK) beside the advance before it (P_15ZK)",
        issued={"currency": "EUR", "exchange_rate": "4,25"},
    ),
    CorrectionCase(
        "final invoice: a line at another rate added",
        "ROZ",
        [*ORDER, _line(name="Transport", unit_price="100", vat_rate="5")],
        {},
        {
            "//fa:RodzajFaktury": ["KOR_ROZ"],
            "//fa:P_13_1": [],
            "//fa:P_13_2": [],
            "//fa:P_13_3": ["100.00"],
            "//fa:P_14_3": ["5.00"],
            "//fa:P_15": ["105.00"],
            "//fa:P_15ZK": ["8380.00"],
            "//fa:FaWiersz/fa:StanPrzed": ["1", "1"],
            "//fa:FaWiersz/fa:P_12": ["23", "8", "23", "8", "5"],
        },
        "a KOR_ROZ adding transport at 5 %: no advance was taxed at that rate, so the change is the line's "
        "own; the advance stays deducted and cited (FakturaZaliczkowa)",
    ),
]


@pytest.mark.usefixtures("stored_at_once")
@pytest.mark.parametrize("case", CORRECTION_CASES, ids=[case.name for case in CORRECTION_CASES])
def test_each_correction_reaches_ksef_as_typed(
    company_a: Company, alice_client: Any, case: CorrectionCase
) -> None:
    _issued(alice_client, reverse("invoices:issue"), _typed(kind="ZAL", advance_amount="5000", **case.issued))
    advance = Invoice.objects.get(company=company_a, kind=InvoiceKind.ZAL)
    assert run(advance).status == S.ACCEPTED
    advance.refresh_from_db()
    original = advance
    if case.corrects == "ROZ":
        _issued(alice_client, reverse("invoices:issue"), _typed(kind="ROZ", advances=str(advance.uuid)))
        original = Invoice.objects.get(company=company_a, kind=InvoiceKind.ROZ)
        assert run(original).status == S.ACCEPTED
        original.refresh_from_db()
    url = reverse("invoices:correct", kwargs={"invoice_uuid": original.uuid})
    _issued(alice_client, url, _correction_form(case.lines, **case.typed))
    correction = Invoice.objects.get(company=company_a, corrected_invoice=original)
    submission = run(correction)
    assert submission.status == S.ACCEPTED, submission.last_error_message
    correction.refresh_from_db()
    downloaded = _download(company_a, correction)
    root = etree.fromstring(downloaded)
    for path, texts in case.expected.items():
        assert _texts(root, path) == texts, f"{path}: {case.why}"
    assert _texts(root, "//fa:DaneFaKorygowanej/fa:NrKSeFFaKorygowanej") == [original.ksef_number]
    refs = _texts(root, "//fa:FakturaZaliczkowa/fa:NrKSeFFaZaliczkowej")
    assert refs == ([advance.ksef_number] if case.corrects == "ROZ" else [])
    parsed = parse_invoice(downloaded)
    assert parsed.correction is not None
    assert correction.stated is not None
    assert parsed.correction.advance_paid_before == correction.stated.paid_before
    assert parsed.totals is not None
    assert parsed.totals.gross == correction.total_gross
    assert sum(r.net for r in parsed.totals.rates) == correction.total_net
    assert sum(r.vat or 0 for r in parsed.totals.rates) == correction.total_vat
    page = _page(alice_client, correction)
    assert f'data-kind="{correction.kind}"' in page
    assert original.number in page
    text = _pdf(alice_client, correction)
    assert original.number in text


def test_a_final_invoice_waits_for_a_correction_of_its_advance_on_its_way(company_a: Company) -> None:
    """The final invoice deducts the advance as corrected: while the KOR_ZAL has no KSeF number yet (KSeF
    might still refuse it), settling the advance waits."""
    advance = _advance(company_a)
    correction = services.invoice_correct(
        original=advance,
        user=None,
        data=services.CorrectionData(
            "Zwrot części zaliczki",
            [services.line_data_of(line) for line in advance.lines.all()],
            advance.issue_date,
            advance_amount=Decimal(3000),
        ),
    )
    Invoice.objects.filter(pk=correction.pk).update(ksef_status=KsefStatus.QUEUED)
    with pytest.raises(InvoiceInvalid) as refused:
        services.invoice_issue(
            company=company_a, user=None, data=_data(kind=InvoiceKind.ROZ, advances=(advance.uuid,))
        )
    assert [issue.field for issue in refused.value.issues] == ["advances"]
    assert correction.number in refused.value.issues[0].message
    assert not Invoice.objects.filter(kind=InvoiceKind.ROZ).exists()

    # Refused by KSeF, the correction never took effect: the advance is settled as first issued.
    Invoice.objects.filter(pk=correction.pk).update(ksef_status=KsefStatus.REJECTED)
    final = services.invoice_issue(
        company=company_a, user=None, data=_data(kind=InvoiceKind.ROZ, advances=(advance.uuid,))
    )
    assert final.total_gross == Decimal("8380.00")


def test_an_order_changed_at_one_rate_leaves_the_advance_s_tax_unchanged(
    company_a: Company, alice_client: Any
) -> None:
    """One rate only, the advance unchanged: no P_13_x/P_14_x changes at all (the Ministry's sample of a
    KOR_ZAL for a smaller order omits them), P_15 = 0, and the order before and after is still stated."""
    advance = services.invoice_issue(
        company=company_a,
        user=None,
        data=issue_data(
            kind=InvoiceKind.ZAL,
            advance_amount=Decimal(1000),
            lines=[services.LineData("Meble", Decimal(1), Decimal(10000), "23")],
        ),
    )
    url = reverse("invoices:correct", kwargs={"invoice_uuid": advance.uuid})
    typed = _correction_form([ORDER[0] | {"unit_price": "9000"}], advance_amount="1000")
    _issued(alice_client, url, typed)
    correction = Invoice.objects.get(company=company_a, kind=InvoiceKind.KOR_ZAL)
    assert correction.stated is not None
    assert (correction.stated.rates, correction.stated.gross, correction.stated.paid_before) == (
        (),
        Decimal("0.00"),
        Decimal("1000.00"),
    )
    root = etree.fromstring(invoice_xml_build(correction).xml)  # XSD-valid, or it raises
    assert _texts(root, "//fa:P_13_1") == []
    assert _texts(root, "//fa:P_15") == ["0.00"]
    assert _texts(root, "//fa:Zamowienie/fa:WartoscZamowienia") == ["11070.00"]
    assert _texts(root, "//fa:ZamowienieWiersz/fa:P_11NettoZ") == ["10000.00", "9000.00"]
    assert 'id="advance-after">1\u00a0000,00 PLN' in _page(alice_client, correction)
    assert "1 000,00" in _pdf(alice_client, correction)

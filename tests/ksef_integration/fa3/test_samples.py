"""Hand-written FA(3) files (samples/, written from the XSD, not by our builder) validate and parse right."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest

from ksef_integration.fa3.builder import build_invoice
from ksef_integration.fa3.checks import check_invoice
from ksef_integration.fa3.model import (
    CorrectionType,
    EuVatId,
    InternalId,
    InvoiceKind,
    Nip,
    NoTaxId,
    OtherTaxId,
    PaymentMethod,
    ThirdPartyRole,
)
from ksef_integration.fa3.parser import parse_invoice
from ksef_integration.fa3.schema import validate

SAMPLES = Path(__file__).parent / "samples"
FILES = sorted(p.name for p in SAMPLES.glob("*.xml"))


def load(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def test_samples_exist() -> None:
    assert len(FILES) >= 5


@pytest.mark.parametrize("name", FILES)
def test_sample_is_valid_and_rebuilds_to_the_same_invoice(name: str) -> None:
    data = load(name)
    assert validate(data) == []
    invoice = parse_invoice(data)
    rebuilt = build_invoice(invoice)
    assert validate(rebuilt) == []
    assert parse_invoice(rebuilt) == invoice
    assert check_invoice(invoice, today=date(2026, 6, 1)) == []


def test_eur_invoice_with_third_parties() -> None:
    inv = parse_invoice(load("vat_eur_podmiot3.xml"))
    assert inv.kind is InvoiceKind.VAT
    assert inv.created_at == datetime(2026, 3, 4, 7, 15, tzinfo=UTC)
    assert inv.system_info == "Ręczny edytor"
    assert (inv.number, inv.issue_date, inv.sale_date) == (
        "EXP/2026/03/0005",
        date(2026, 3, 3),
        date(2026, 3, 2),
    )
    assert inv.issue_place == "Gdańsk"
    assert inv.delivery_notes == ("WZ/GD/881",)
    seller = inv.seller
    assert seller.nip == "5265877635"
    assert seller.eu_prefix
    assert seller.eori == "PL526587763500000"
    assert seller.correspondence_address is not None
    assert seller.correspondence_address.line1 == "skr. poczt. 12, 80-002 Gdańsk"
    assert [c.email for c in seller.contacts] == ["faktury@eksporter.pl", None]
    assert seller.contacts[1].phone == "+48581234567"
    assert seller.taxpayer_status == 2
    assert inv.buyer.tax_id == EuVatId("DE", "811907980")
    assert inv.buyer.address is not None
    assert inv.buyer.address.gln == "4012345000009"
    assert inv.buyer.customer_number == "K-0042"
    assert not inv.buyer.jst
    assert not inv.buyer.vat_group
    factor, branch = inv.third_parties
    assert factor.tax_id == Nip("5252248481")
    assert factor.role is ThirdPartyRole.FACTOR
    assert branch.tax_id == InternalId("7740001454-00012")
    assert branch.role is None
    assert (branch.other_role, branch.share, branch.buyer_key) == ("Magazyn odbiorczy", D("25.5"), "odb-7")
    assert inv.authorised_party_xml is not None
    assert "<RolaPU>2</RolaPU>" in inv.authorised_party_xml
    assert inv.currency == "EUR"
    assert inv.exchange_rate == D("4.2625")
    assert [line.exchange_rate for line in inv.lines] == [None, None]
    assert inv.totals is not None
    basic = inv.totals.get("1")
    assert basic is not None
    assert (basic.net, basic.vat, basic.vat_pln) == (D("1000.00"), D("230.00"), D("980.38"))
    wdt = inv.totals.get("6_2")
    assert wdt is not None
    assert wdt.net == D("2500.50")
    assert wdt.vat is None
    assert inv.totals.gross == D("3730.50")
    line2 = inv.lines[1]
    assert (line2.index, line2.cn, line2.gtu, line2.quantity) == ("PT-900", "8428 33 00", "GTU_07", D("1.5"))
    assert inv.related_parties
    assert inv.notes[0].key == "Incoterms"
    payment = inv.payment
    assert payment is not None
    assert payment.partially_paid is True
    assert [(p.amount, p.method) for p in payment.partial_payments] == [
        (D("500.00"), PaymentMethod.CASH),
        (D("250.25"), PaymentMethod.CARD),
    ]
    assert payment.terms[0].due_date == date(2026, 4, 2)
    assert (payment.terms[1].quantity, payment.terms[1].unit) == (30, "dni")
    assert payment.method is PaymentMethod.TRANSFER
    assert payment.bank_accounts[0].swift == "BREXPLPWMBK"
    assert (payment.discount_conditions, payment.discount_amount) == ("zapłata w ciągu 7 dni", "1%")
    assert inv.settlement_xml is not None
    assert "<DoZaplaty>3745.50</DoZaplaty>" in inv.settlement_xml
    assert inv.transaction_terms_xml is not None
    assert "UM/2025/17" in inv.transaction_terms_xml
    assert inv.footer == ("Dziękujemy za współpracę.",)
    assert (inv.registries[0].krs, inv.registries[0].bdo) == ("0000654321", "000012345")


def test_correction_with_before_and_after_rows() -> None:
    inv = parse_invoice(load("kor_before_after.xml"))
    assert inv.kind is InvoiceKind.KOR
    assert inv.correction is not None
    corr = inv.correction
    assert corr.reason == "Zwrot uszkodzonego towaru"
    assert corr.type is CorrectionType.CORRECTION_DATE
    first, second = corr.corrected
    assert (first.number, first.issue_date) == ("FV/2026/01/55", date(2026, 1, 20))
    assert first.ksef_number == "7740001454-20260120-0A1B2C3D4E5F-84"
    assert (second.number, second.ksef_number) == ("FV/2025/12/99", None)
    assert corr.buyers_before[0].name == "Sklep Osiedlowy"
    assert corr.buyers_before[0].address is not None
    assert corr.buyers_before[0].address.line1 == "ul. Leśna 1, 09-402 Płock"
    assert inv.buyer.buyer_key == "NAB-1"
    assert [line.before_correction for line in inv.lines] == [True, False, False]
    assert inv.lines[2].net_value == D("-10.00")
    assert inv.totals is not None
    assert inv.totals.gross == D("-53.70")
    reduced = inv.totals.get("2")
    assert reduced is not None
    assert (reduced.net, reduced.vat) == (D("-40.00"), D("-3.20"))


def test_advance_invoice() -> None:
    inv = parse_invoice(load("zal_advance.xml"))
    assert inv.kind is InvoiceKind.ZAL
    assert inv.lines == ()
    assert inv.buyer.tax_id == NoTaxId()
    assert inv.buyer.name == "Anna Kowalska"
    assert inv.buyer.address is None
    assert inv.totals is not None
    assert inv.totals.gross == D("3000")
    basic = inv.totals.get("1")
    assert basic is not None
    assert (basic.net, basic.vat) == (D("2439.02"), D("560.98"))
    assert inv.payment is not None
    assert inv.payment.paid_on == date(2026, 1, 4)
    assert inv.payment.method is None
    assert inv.payment.other_method == "BLIK na telefon"
    assert inv.order_xml is not None
    assert "Szafa dębowa na wymiar" in inv.order_xml


def test_correction_of_a_foreign_currency_advance() -> None:
    inv = parse_invoice(load("kor_zal_eur.xml"))
    assert inv.kind is InvoiceKind.KOR_ZAL
    assert inv.currency == "EUR"
    assert inv.advance_exchange_rate == D("4.24")
    assert inv.exchange_rate is None
    assert inv.correction is not None
    assert inv.correction.advance_paid_before == D("1230.00")
    assert inv.correction.advance_rate_before == D("4.2405")
    assert inv.correction.corrected[0].number == "ZAL/2026/7"
    advance = inv.partial_advances[0]
    assert (advance.received_on, advance.amount, advance.exchange_rate) == (
        date(2026, 2, 18),
        D("-246.00"),
        D("4.24"),
    )
    assert inv.advance_invoices[0].ksef_number == "5265877635-20260202-00000000ABCD-92"
    basic = inv.totals.get("1") if inv.totals else None
    assert basic is not None
    assert basic.vat_pln == D("-195.04")


def test_attachment_and_new_means_of_transport() -> None:
    inv = parse_invoice(load("vat_attachment_transport.xml"))
    assert inv.annotations.self_billing
    assert inv.fp
    assert inv.annotations.new_transport_xml is not None
    assert "<P_22BMD>Octavia</P_22BMD>" in inv.annotations.new_transport_xml
    assert inv.period == (date(2026, 3, 1), date(2026, 3, 9))
    assert inv.sale_date is None
    assert inv.buyer.tax_id == OtherTaxId(number="8801011234", country="CZ")
    assert inv.notes[0].line_number == 1
    assert inv.lines[0].procedure == "I_42"
    (block,) = inv.attachment
    assert block.header == "Wyposażenie pojazdu"
    assert block.metadata == (("VIN", "TMBJJ7NE1L0000001"),)
    assert block.paragraphs == ("Pojazd fabrycznie nowy.", "Przebieg 15 km.")
    (table,) = block.tables
    assert [(c.type, c.name) for c in table.columns] == [("txt", "Pakiet"), ("dec", "Cena")]
    assert table.rows == (("Zimowy", "3500.00"), ("Multimedia", "4200.00"))
    assert table.sums == ("", "7700.00")
    assert table.metadata == (("Waluta", "PLN"),)
    assert table.description == "Pakiety"

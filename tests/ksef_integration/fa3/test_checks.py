"""Pre-send checks: each problem is found, and explained in Polish and English."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal as D

import pytest

from ksef_integration.fa3.checks import (
    Problem,
    check_invoice,
    ksef_number_checksum,
    ksef_number_is_valid,
    nip_is_valid,
)
from ksef_integration.fa3.model import (
    Annotations,
    Buyer,
    CorrectedInvoice,
    Correction,
    Invoice,
    InvoiceKind,
    Line,
    Nip,
    NoTaxId,
    RateTotal,
    ThirdParty,
    ThirdPartyRole,
    Totals,
    VatRate,
)

from .cases import BUYER, KSEF_NUMBER, SELLER, base, cases, line

TODAY = date(2026, 2, 2)
GOOD = base("FV/1", line("Usługa", "2", "100", VatRate.R23))
KOR = replace(
    GOOD,
    kind=InvoiceKind.KOR,
    correction=Correction(corrected=(CorrectedInvoice(date(2026, 1, 15), "FV/0", KSEF_NUMBER),)),
)


def codes(invoice: Invoice) -> list[str]:
    return [p.code for p in check_invoice(invoice, today=TODAY)]


def only(invoice: Invoice, code: str) -> Problem:
    problems = check_invoice(invoice, today=TODAY)
    assert [p.code for p in problems] == [code]
    problem = problems[0]
    # both languages are filled in, differ, and neither is a placeholder
    assert problem.message_pl
    assert problem.message_en
    assert problem.message_pl != problem.message_en
    assert problem.message("pl") == problem.message_pl
    assert problem.message("en") == problem.message_en
    return problem


@pytest.mark.parametrize("nip", ["5265877635", "7740001454", "526-587-76-35", "1111111111"])
def test_valid_nips(nip: str) -> None:
    assert nip_is_valid(nip)


@pytest.mark.parametrize(
    "nip",
    [
        "5265877636",  # wrong check digit
        "123456789",  # too short
        "12345678901",  # too long
        "52658776A5",  # not digits
        "\uff11\uff12\uff13\uff14\uff15\uff16\uff13\uff12\uff11\uff18",  # full-width digits
        "1234567890",  # weighted sum mod 11 is 10: no valid check digit exists
    ],
)
def test_invalid_nips(nip: str) -> None:
    assert not nip_is_valid(nip)


def test_nip_checksum_by_hand() -> None:
    # 1234563218: 1*6+2*5+3*7+4*2+5*3+6*4+3*5+2*6+1*7 = 118; 118 mod 11 = 8 = the last digit
    assert nip_is_valid("1234563218")
    assert not nip_is_valid("1234563217")


def test_ksef_number_checksum() -> None:
    assert ksef_number_checksum("5265877635-20250826-0100001AF629") == "AF"  # the example in the KSeF docs
    assert ksef_number_is_valid("5265877635-20250826-0100001AF629-AF")
    assert not ksef_number_is_valid("5265877635-20250826-0100001AF629-AE")
    assert not ksef_number_is_valid("5265877635-20250826-0100001AF629")
    assert ksef_number_is_valid("5265877635-20250826-010000-1AF629-AF")  # 36-char KSeF 1.0 form


def test_good_invoices_have_no_problems() -> None:
    assert codes(GOOD) == []
    assert codes(KOR) == []
    for name, invoice in cases().items():
        assert codes(invoice) == [], name


def test_seller_nip() -> None:
    problem = only(replace(GOOD, seller=replace(SELLER, nip="5265877636")), "seller_nip_invalid")
    assert problem.field == "seller.nip"
    assert "5265877636" in problem.message_pl
    assert "5265877636" in problem.message_en


def test_buyer_nip() -> None:
    assert only(replace(GOOD, buyer=replace(BUYER, tax_id=Nip("7740001455"))), "buyer_nip_invalid").field == (
        "buyer.tax_id"
    )
    assert codes(replace(GOOD, buyer=Buyer(tax_id=NoTaxId(), name="Jan"))) == []


def test_third_party_nip() -> None:
    party = ThirdParty(tax_id=Nip("1111111112"), name="Faktor", role=ThirdPartyRole.FACTOR)
    assert (
        only(replace(GOOD, third_parties=(party,)), "third_party_nip_invalid").field
        == "third_parties[0].tax_id"
    )


def test_number_missing() -> None:
    assert only(replace(GOOD, number="   "), "number_missing").field == "number"


def test_issue_date_in_the_future() -> None:
    problem = only(
        replace(GOOD, issue_date=date(2026, 2, 3), sale_date=date(2026, 2, 3)), "issue_date_future"
    )
    assert "03.02.2026" in problem.message_pl
    assert "2026-02-03" in problem.message_en
    assert codes(replace(GOOD, issue_date=TODAY)) == []


def test_issue_date_uses_warsaw_today_by_default() -> None:
    far = replace(GOOD, issue_date=date(2049, 1, 1), sale_date=date(2049, 1, 1))
    assert [p.code for p in check_invoice(far)] == ["issue_date_future"]


def test_sale_date_sanity() -> None:
    assert only(replace(GOOD, sale_date=date(2026, 4, 30)), "sale_date_too_far_ahead").field == "sale_date"
    assert codes(replace(GOOD, sale_date=date(2026, 3, 30))) == []  # 56 days ahead is allowed
    old = only(replace(GOOD, sale_date=date(2024, 12, 31)), "sale_date_too_old")
    assert old.severity == "warning"
    reversed_period = replace(GOOD, sale_date=None, period=(date(2026, 1, 31), date(2026, 1, 1)))
    assert only(reversed_period, "period_reversed").field == "period"


def test_currency_and_exchange_rate() -> None:
    assert only(replace(GOOD, currency="eur", exchange_rate=D(4)), "currency_invalid").field == "currency"
    assert only(replace(GOOD, exchange_rate=D("4.3")), "exchange_rate_unexpected").field == "exchange_rate"
    missing = only(replace(GOOD, currency="EUR"), "exchange_rate_missing")
    assert "EUR" in missing.message_pl
    assert (
        only(replace(GOOD, currency="EUR", exchange_rate=D(0)), "exchange_rate_invalid").field
        == "exchange_rate"
    )
    # an untaxed foreign-currency invoice needs no PLN tax, so no rate
    export = base("FV/EX", line("x", "1", "10", VatRate.ZERO_EX), currency="USD")
    assert codes(export) == []


def test_lines() -> None:
    assert only(replace(GOOD, lines=()), "no_lines").field == "lines"
    assert codes(replace(KOR, lines=())) == []  # a data-only correction may have no rows
    assert only(replace(GOOD, lines=(Line(name="x", net_value=D(1)),)), "line_rate_missing").field == (
        "lines[0].vat_rate"
    )
    wrong = line("x", "3", "0.335", VatRate.R23, net_value=D("1.00"))
    problem = only(replace(GOOD, lines=(wrong,)), "line_net_mismatch")
    assert "1.01" in problem.message_en
    assert problem.field == "lines[0].net_value"


def test_totals_must_follow_from_the_lines() -> None:
    good_totals = Totals(rates=(RateTotal("1", D("200.00"), D("46.00")),), gross=D("246.00"))
    assert codes(replace(GOOD, totals=good_totals)) == []
    off_by_a_grosz = Totals(rates=(RateTotal("1", D("200.00"), D("45.99")),), gross=D("245.99"))
    problem = only(replace(GOOD, totals=off_by_a_grosz), "totals_mismatch")
    assert "46.00" in problem.message_pl
    assert problem.field == "totals.P_13_1"
    bad_gross = Totals(rates=(RateTotal("1", D("200.00"), D("46.00")),), gross=D("250.00"))
    assert only(replace(GOOD, totals=bad_gross), "gross_mismatch").field == "totals.gross"


def test_correction_data() -> None:
    assert only(replace(GOOD, correction=KOR.correction), "correction_unexpected").field == "correction"
    assert only(replace(KOR, correction=None), "correction_missing").field == "correction.corrected"
    assert only(replace(KOR, correction=Correction(corrected=())), "correction_missing")
    blank = Correction(corrected=(CorrectedInvoice(date(2026, 1, 15), " ", None),))
    assert (
        only(replace(KOR, correction=blank), "corrected_number_missing").field
        == "correction.corrected[0].number"
    )
    later = Correction(corrected=(CorrectedInvoice(date(2026, 2, 5), "FV/9", None),))
    assert only(replace(KOR, correction=later), "corrected_date_after")
    bad_ksef = Correction(corrected=(CorrectedInvoice(date(2026, 1, 15), "FV/0", KSEF_NUMBER[:-2] + "00"),))
    assert only(replace(KOR, correction=bad_ksef), "corrected_ksef_number_invalid").field == (
        "correction.corrected[0].ksef_number"
    )


def test_annotations() -> None:
    exempt = replace(GOOD, lines=(line("Kurs", "1", "100", VatRate.ZW),))
    assert only(exempt, "exemption_basis_missing").field == "annotations.exemption"
    reverse = replace(GOOD, lines=(line("Złom", "1", "100", VatRate.OO),))
    assert only(reverse, "reverse_charge_flag_missing").field == "annotations.reverse_charge"
    steel = line("Stal", "1000", "20", VatRate.R23, annex15=True)
    assert only(replace(GOOD, lines=(steel,)), "split_payment_required").field == "annotations.split_payment"
    assert codes(replace(GOOD, lines=(steel,), annotations=Annotations(split_payment=True))) == []
    small = line("Stal", "10", "20", VatRate.R23, annex15=True)
    assert codes(replace(GOOD, lines=(small,))) == []

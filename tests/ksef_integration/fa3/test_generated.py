"""Every invoice we issue builds into schema-valid FA(3) that survives build -> parse -> build unchanged."""

from __future__ import annotations

import re

import pytest

from ksef_integration.fa3.builder import build_invoice
from ksef_integration.fa3.digest import invoice_hash
from ksef_integration.fa3.model import InvoiceKind, VatRate
from ksef_integration.fa3.parser import parse_invoice
from ksef_integration.fa3.schema import validate

from .cases import cases

CASES = cases()


def test_there_are_enough_cases_and_every_rate_is_covered() -> None:
    assert len(CASES) >= 30
    rates = {line.vat_rate for inv in CASES.values() for line in inv.lines}
    assert set(VatRate) <= rates
    kinds = {inv.kind for inv in CASES.values()}
    assert {InvoiceKind.VAT, InvoiceKind.KOR, InvoiceKind.ZAL, InvoiceKind.KOR_ZAL, InvoiceKind.ROZ} <= kinds
    corr_types = {inv.correction.type for inv in CASES.values() if inv.correction is not None}
    assert {1, 2, 3} <= {int(t) for t in corr_types if t is not None}


@pytest.mark.parametrize("name", sorted(CASES))
def test_builds_valid_and_byte_stable(name: str) -> None:
    xml = build_invoice(CASES[name])
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<Faktura')
    assert not xml.startswith(b"\xef\xbb\xbf")
    xml.decode("utf-8")
    assert validate(xml) == []
    parsed = parse_invoice(xml)
    again = build_invoice(parsed)
    assert again == xml
    assert invoice_hash(again) == invoice_hash(xml)
    assert parse_invoice(again) == parsed


@pytest.mark.parametrize("name", sorted(CASES))
def test_parse_keeps_what_was_built(name: str) -> None:
    invoice = CASES[name]
    parsed = parse_invoice(build_invoice(invoice))
    assert parsed.number == invoice.number
    assert parsed.kind == invoice.kind
    assert parsed.seller == invoice.seller
    assert parsed.buyer == invoice.buyer
    assert parsed.third_parties == invoice.third_parties
    assert parsed.annotations == invoice.annotations
    assert parsed.correction == invoice.correction
    assert parsed.payment == invoice.payment
    assert parsed.attachment == invoice.attachment
    assert len(parsed.lines) == len(invoice.lines)
    for got, want in zip(parsed.lines, invoice.lines, strict=True):
        assert (got.name, got.vat_rate, got.quantity, got.before_correction) == (
            want.name,
            want.vat_rate,
            want.quantity,
            want.before_correction,
        )


def test_header_and_annotations_are_complete() -> None:
    xml = build_invoice(CASES["rate-23"]).decode()
    assert '<KodFormularza kodSystemowy="FA (3)" wersjaSchemy="1-0E">FA</KodFormularza>' in xml
    assert "<WariantFormularza>3</WariantFormularza>" in xml
    assert "<DataWytworzeniaFa>2026-02-02T09:30:00Z</DataWytworzeniaFa>" in xml
    adnotacje = re.search(r"<Adnotacje>(.*)</Adnotacje>", xml, re.S)
    assert adnotacje is not None
    tags = re.findall(r"<(\w+)>", adnotacje.group(1))
    assert tags == [
        "P_16", "P_17", "P_18", "P_18A", "Zwolnienie", "P_19N", "NoweSrodkiTransportu", "P_22N", "P_23",
        "PMarzy", "P_PMarzyN",
    ]  # fmt: skip


def test_feature_flags_reach_the_xml() -> None:
    assert "<P_18>1</P_18>" in build_invoice(CASES["rate-oo"]).decode()
    assert "<P_18A>1</P_18A>" in build_invoice(CASES["split-payment"]).decode()
    assert "<P_17>1</P_17>" in build_invoice(CASES["self-billing"]).decode()
    assert "<P_16>1</P_16>" in build_invoice(CASES["cash-accounting"]).decode()
    exempt = build_invoice(CASES["exempt-directive"]).decode()
    assert "<P_19>1</P_19>" in exempt
    assert "<P_19B>art. 132 ust. 1 lit. i dyrektywy</P_19B>" in exempt
    margin = build_invoice(CASES["margin-used-goods"]).decode()
    assert "<P_PMarzy_3_1>1</P_PMarzy_3_1>" in margin
    assert "<P_13_11>45000.00</P_13_11>" in margin
    eur = build_invoice(CASES["eur-two-rates"]).decode()
    assert "<P_14_1W>872.11</P_14_1W>" in eur
    assert "<KursWaluty>4.2131</KursWaluty>" in eur
    kor = build_invoice(CASES["kor-difference-type1"]).decode()
    assert "<NrKSeFFaKorygowanej>7740001454-20260115-0A1B2C3D4E5F-24</NrKSeFFaKorygowanej>" in kor
    assert "<NrKSeFN>1</NrKSeFN>" in build_invoice(CASES["kor-before-after-type2"]).decode()


def test_line_specific_exchange_rates_survive_the_round_trip() -> None:
    parsed = parse_invoice(build_invoice(CASES["gbp-line-rates"]))
    assert parsed.exchange_rate == CASES["gbp-line-rates"].exchange_rate
    assert [line.exchange_rate for line in parsed.lines] == [
        None,
        CASES["gbp-line-rates"].lines[1].exchange_rate,
    ]

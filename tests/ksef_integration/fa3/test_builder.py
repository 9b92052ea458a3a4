"""What the builder refuses, and how it writes the parts the schema leaves open."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from ksef_integration.fa3.builder import Fa3BuildError, build_invoice, compute_totals
from ksef_integration.fa3.checks import check_invoice
from ksef_integration.fa3.model import Correction, InvoiceKind, NoTaxId, ThirdParty, VatRate
from ksef_integration.fa3.parser import parse_invoice
from ksef_integration.fa3.schema import validate

from .cases import base, line

GOOD = base("FV/B/1", line("x", "1", "10", VatRate.R23))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"created_at": None}, "created_at"),
        ({"created_at": datetime(2026, 2, 2, 9, 0)}, "aware"),  # noqa: DTZ001 - the naive value is the point
        ({"period": (date(2026, 1, 1), date(2026, 1, 31))}, "either a sale date"),
        ({"third_parties": (ThirdParty(tax_id=NoTaxId(), name="?"),)}, "role"),
        ({"kind": InvoiceKind.KOR, "correction": Correction(corrected=())}, "corrected invoice"),
        ({"order_xml": '<Rozliczenie xmlns="http://crd.gov.pl/wzor/2025/06/25/13775/"/>'}, "Zamowienie"),
    ],
)
def test_refusals(change: dict[str, object], message: str) -> None:
    with pytest.raises(Fa3BuildError, match=message):
        build_invoice(replace(GOOD, **change))  # type: ignore[arg-type]


def test_creation_time_keeps_its_offset() -> None:
    warsaw_winter = timezone(timedelta(hours=1))
    xml = build_invoice(replace(GOOD, created_at=datetime(2026, 2, 2, 10, 30, tzinfo=warsaw_winter)))
    assert b"<DataWytworzeniaFa>2026-02-02T10:30:00+01:00</DataWytworzeniaFa>" in xml
    assert validate(xml) == []
    assert parse_invoice(xml).created_at == datetime(2026, 2, 2, 9, 30, tzinfo=UTC)


def test_correction_without_the_corrected_invoice_is_xsd_valid_but_flagged() -> None:
    kor = replace(GOOD, kind=InvoiceKind.KOR)
    xml = build_invoice(kor)
    assert validate(xml) == []
    assert parse_invoice(xml).correction is None
    assert [p.code for p in check_invoice(kor, today=date(2026, 2, 2))] == ["correction_missing"]


def test_foreign_currency_without_a_rate_gets_no_pln_tax_field() -> None:
    eur = replace(GOOD, currency="EUR")
    rt = compute_totals(eur).get("1")
    assert rt is not None
    assert rt.vat_pln is None
    xml = build_invoice(eur)
    assert b"P_14_1W" not in xml
    assert b"KursWaluty" not in xml
    assert validate(xml) == []
    assert [p.code for p in check_invoice(eur, today=date(2026, 2, 2))] == ["exchange_rate_missing"]


def test_lines_are_numbered_in_order_unless_numbered() -> None:
    two = replace(GOOD, lines=(line("a", "1", "1", VatRate.R23), line("b", "1", "1", VatRate.R23, number=7)))
    parsed = parse_invoice(build_invoice(two))
    assert [ln.number for ln in parsed.lines] == [1, 7]

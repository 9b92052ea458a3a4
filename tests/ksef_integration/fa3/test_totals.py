"""Per-rate totals: tax from the summed net of each rate, rounded half-up to grosze."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import pytest

from ksef_integration.fa3._xml import fmt_amount, fmt_decimal, round_half_up
from ksef_integration.fa3.builder import build_invoice, compute_totals, line_net
from ksef_integration.fa3.model import Annotations, Line, MarginScheme, Totals, VatRate

from .cases import base, line


def totals(*lines: Line, **extra: object) -> Totals:
    return compute_totals(base("T/1", *lines, **extra))


def pair(t: Totals, bucket: str) -> tuple[D, D | None]:
    rt = t.get(bucket)
    assert rt is not None
    return rt.net, rt.vat


def test_tax_is_computed_on_the_sum_not_per_line() -> None:
    # per line: 0.10 * 23% = 0.023 -> 0.02, three times 0.06; on the sum 0.30 * 23% = 0.069 -> 0.07
    t = totals(*(line("x", "1", "0.10", VatRate.R23) for _ in range(3)))
    assert pair(t, "1") == (D("0.30"), D("0.07"))
    assert t.gross == D("0.37")


def test_half_a_grosz_rounds_up_not_to_even() -> None:
    # 0.50 * 5% = 0.025: banker's rounding would give 0.02
    assert pair(totals(line("x", "1", "0.50", VatRate.R5)), "3") == (D("0.50"), D("0.03"))
    # 0.50 * 7% = 0.035 and 1.50 * 8% = 0.12 share the P_14_2 field but are taxed separately
    t = totals(line("a", "1", "0.50", VatRate.R7), line("b", "1", "1.50", VatRate.R8))
    assert pair(t, "2") == (D("2.00"), D("0.16"))


def test_negative_differences_round_away_from_zero() -> None:
    t = totals(line("rabat", "1", "-0.50", VatRate.R5))
    assert pair(t, "3") == (D("-0.50"), D("-0.03"))
    assert t.gross == D("-0.53")


def test_23_and_22_are_taxed_separately_then_added() -> None:
    # 0.30 * 23% = 0.069 -> 0.07 and 0.30 * 22% = 0.066 -> 0.07; taxing 0.60 at either rate would differ
    t = totals(line("a", "1", "0.30", VatRate.R23), line("b", "1", "0.30", VatRate.R22))
    assert pair(t, "1") == (D("0.60"), D("0.14"))


def test_line_net_is_quantity_times_price_rounded_half_up() -> None:
    assert line_net(line("x", "3", "0.335", VatRate.R23)) == D("1.01")  # 1.005; as a float it is 1.00499...
    assert line_net(line("x", "1.234567", "9.87654321", VatRate.R23)) == D("12.19")
    assert line_net(Line(net_value=D("5.00"), quantity=D(3), unit_price=D(1))) == D("5.00")
    assert line_net(Line(name="no price")) is None


def test_zero_exempt_and_reverse_charge_buckets_carry_no_tax() -> None:
    t = totals(
        line("kr", "1", "10", VatRate.ZERO_KR),
        line("wdt", "1", "20", VatRate.ZERO_WDT),
        line("ex", "1", "30", VatRate.ZERO_EX),
        line("zw", "1", "40", VatRate.ZW),
        line("np1", "1", "50", VatRate.NP_I),
        line("np2", "1", "60", VatRate.NP_II),
        line("oo", "1", "70", VatRate.OO),
    )
    assert [(r.bucket, r.net, r.vat) for r in t.rates] == [
        ("6_1", D("10"), None),
        ("6_2", D("20"), None),
        ("6_3", D("30"), None),
        ("7", D("40"), None),
        ("8", D("50"), None),
        ("9", D("60"), None),
        ("10", D("70"), None),
    ]
    assert t.gross == D("280")


def test_buckets_come_out_in_schema_order() -> None:
    t = totals(
        line("a", "1", "1", VatRate.ZW),
        line("b", "1", "1", VatRate.R5),
        line("c", "1", "1", VatRate.R23),
        line("d", "1", "1", VatRate.R4),
    )
    assert [r.bucket for r in t.rates] == ["1", "3", "4", "7"]


def test_foreign_currency_tax_in_pln() -> None:
    # 333.33 EUR * 4.3333 = 1444.42 PLN (1444.418889); 23% = 332.2166 -> 332.22
    t = totals(line("x", "1", "333.33", VatRate.R23), currency="EUR", exchange_rate=D("4.3333"))
    rt = t.get("1")
    assert rt is not None
    assert (rt.net, rt.vat, rt.vat_pln) == (D("333.33"), D("76.67"), D("332.22"))
    assert t.gross == D("410.00")


def test_pln_invoice_has_no_pln_tax_field() -> None:
    rt = totals(line("x", "1", "100", VatRate.R23)).get("1")
    assert rt is not None
    assert rt.vat_pln is None


def test_before_and_after_rows_give_the_difference_of_rounded_taxes() -> None:
    # before 0.07 @23% -> 0.0161 -> 0.02; after 0.05 -> 0.0115 -> 0.01; difference -0.01,
    # whereas taxing the net difference (-0.02 * 23% = -0.0046) would give 0.00
    before = line("x", "1", "0.07", VatRate.R23, before_correction=True)
    after = line("x", "1", "0.05", VatRate.R23)
    assert pair(totals(before, after), "1") == (D("-0.02"), D("-0.01"))
    # rows that already carry the difference are taxed on their (negative) sum
    assert pair(totals(line("x", "1", "-0.02", VatRate.R23)), "1") == (D("-0.02"), D("0.00"))


def test_gross_priced_lines_take_the_tax_out_of_the_gross_sum() -> None:
    gross = Line(name="x", gross_value=D("10.00"), vat_rate=VatRate.R23)
    # 30.00 * 23 / 123 = 5.6097... -> 5.61; net 24.39
    assert pair(totals(gross, gross, gross), "1") == (D("24.39"), D("5.61"))


def test_margin_and_oss_buckets() -> None:
    margin = totals(
        Line(name="antyk", net_value=D("999.99")), annotations=Annotations(margin=MarginScheme.ART)
    )
    assert pair(margin, "11") == (D("999.99"), None)
    oss = totals(Line(name="e-book", quantity=D(1), unit_price=D("9.99"), oss_rate=D("21")))
    assert pair(oss, "5") == (D("9.99"), D("2.10"))


def test_explicit_totals_are_written_as_given() -> None:
    invoice = base("T/2", line("x", "1", "100", VatRate.R23))
    given = Totals(rates=(compute_totals(invoice).rates[0],), gross=D("123.00"))
    assert build_invoice(replace(invoice, totals=given)) == build_invoice(invoice)
    odd = Totals(rates=(replace(given.rates[0], vat=D("22.99")),), gross=D("122.99"))
    assert b"<P_14_1>22.99</P_14_1>" in build_invoice(replace(invoice, totals=odd))


def test_amounts_that_the_schema_cannot_carry_are_refused() -> None:
    with pytest.raises(ValueError, match="2 decimal"):
        build_invoice(base("T/3", Line(name="x", net_value=D("1.005"), vat_rate=VatRate.R23)))
    with pytest.raises(ValueError, match="6 decimal"):
        build_invoice(base("T/4", line("x", "1.0000001", "1", VatRate.R23)))


def test_number_formatting() -> None:
    assert fmt_amount(D("12.3")) == "12.30"
    assert fmt_amount(D("-0.5")) == "-0.50"
    assert fmt_amount(D("1E+2")) == "100.00"
    assert fmt_amount(D("-0.00")) == "0.00"
    assert fmt_decimal(D("1.500000"), 6) == "1.5"
    assert fmt_decimal(D("1E+1"), 6) == "10"
    assert fmt_decimal(D("-0.000"), 6) == "0"
    assert round_half_up(D("2.675")) == D("2.68")
    assert round_half_up(D("-2.675")) == D("-2.68")

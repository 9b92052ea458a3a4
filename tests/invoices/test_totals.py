"""Per-rate VAT totals: summed net per rate, tax once per rate, half-up to grosze; corrections subtract."""

import random
from dataclasses import dataclass
from decimal import Decimal

import pytest

from invoices.totals import invoice_sums, line_net, line_vat, rate_totals, round_half_up
from ksef_integration.fa3 import model as fa3
from ksef_integration.fa3.builder import compute_totals


@dataclass
class L:
    vat_rate: str
    net_value: Decimal
    before_correction: bool = False


def test_round_half_up_rounds_halves_away_from_zero() -> None:
    assert round_half_up(Decimal("0.125")) == Decimal("0.13")  # banker's rounding would give 0.12
    assert round_half_up(Decimal("-0.125")) == Decimal("-0.13")
    assert round_half_up(Decimal("0.124999")) == Decimal("0.12")


def test_tax_is_computed_once_per_rate_not_summed_per_line() -> None:
    lines = [L("23", Decimal("0.10"))] * 3
    per_line = sum(line_vat(line.net_value, "23") for line in lines)
    assert per_line == Decimal("0.06")
    [total] = rate_totals(lines)
    assert (total.net, total.vat, total.gross) == (Decimal("0.30"), Decimal("0.07"), Decimal("0.37"))


def test_rates_are_kept_apart_and_in_fa3_order() -> None:
    totals = rate_totals([L("zw", Decimal("50")), L("8", Decimal("10.00")), L("23", Decimal("2.50"))])
    assert [t.vat_rate for t in totals] == ["23", "8", "zw"]
    assert [t.vat for t in totals] == [Decimal("0.58"), Decimal("0.80"), Decimal("0.00")]
    assert totals[2].taxed is False
    assert invoice_sums(totals) == (Decimal("62.50"), Decimal("1.38"), Decimal("63.88"))


def test_line_net_rounds_quantity_times_price() -> None:
    assert line_net(Decimal("3"), Decimal("0.33333333")) == Decimal("1.00")
    assert line_net(Decimal("0.5"), Decimal("0.05")) == Decimal("0.03")


def test_correction_is_after_minus_before_per_rate() -> None:
    lines = [L("23", Decimal("100.00"), True), L("23", Decimal("80.00")), L("8", Decimal("10.00"))]
    totals = {t.vat_rate: t for t in rate_totals(lines)}
    assert (totals["23"].net, totals["23"].vat) == (Decimal("-20.00"), Decimal("-4.60"))
    assert (totals["8"].net, totals["8"].vat) == (Decimal("10.00"), Decimal("0.80"))


def test_foreign_currency_tax_in_pln_from_converted_net() -> None:
    [total] = rate_totals([L("23", Decimal("100.00"))], currency="EUR", exchange_rate=Decimal("4.2512"))
    assert total.vat == Decimal("23.00")
    assert total.vat_pln == Decimal("97.78")  # 425.12 PLN net x 23% = 97.7776


@pytest.mark.parametrize("seed", range(20))
def test_same_result_as_the_fa3_builder(seed: int) -> None:
    rng = random.Random(seed)
    codes = [r.value for r in fa3.VatRate]
    lines = [
        L(rng.choice(codes), Decimal(rng.randint(1, 10_000_000)) / 100) for _ in range(rng.randint(1, 12))
    ]
    ours = rate_totals(lines)
    theirs = compute_totals(
        fa3.Invoice(
            number="X",
            issue_date=__import__("datetime").date(2026, 1, 1),
            seller=fa3.Seller(nip="5260250274", name="S", address=fa3.Address("a")),
            buyer=fa3.Buyer(tax_id=fa3.Nip("5260250274")),
            lines=tuple(
                fa3.Line(name="x", net_value=x.net_value, vat_rate=fa3.VatRate(x.vat_rate)) for x in lines
            ),
        )
    )
    assert invoice_sums(ours)[2] == theirs.gross
    assert sum((t.vat for t in ours), Decimal(0)) == sum(
        (r.vat or Decimal(0) for r in theirs.rates), Decimal(0)
    )

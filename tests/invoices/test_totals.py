"""Per-rate VAT totals: summed net per rate, tax once per rate, half-up to grosze; corrections subtract."""

import datetime as dt
import random
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from invoices.totals import (
    MARGIN,
    invoice_sums,
    line_net,
    line_vat,
    rate_totals,
    round_half_up,
    spread_discount,
)
from ksef_integration.fa3 import model as fa3
from ksef_integration.fa3.builder import compute_totals


@dataclass
class L:
    vat_rate: str
    net_value: Decimal
    before_correction: bool = False
    gross_value: Decimal = Decimal(0)


def G(vat_rate: str, gross: str, before_correction: bool = False) -> L:
    """A line priced gross: its value is P_11A (its net is not what the totals use)."""
    return L(vat_rate, Decimal(0), before_correction, Decimal(gross))


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


def _builder_totals(lines: Iterable[fa3.Line]) -> Any:
    """The FA(3) builder's totals of an invoice with ``lines``."""
    return compute_totals(
        fa3.Invoice(
            number="X",
            issue_date=dt.date(2026, 1, 1),
            seller=fa3.Seller(nip="5260250274", name="S", address=fa3.Address("a")),
            buyer=fa3.Buyer(tax_id=fa3.Nip("5260250274")),
            lines=tuple(lines),
        )
    )


@pytest.mark.parametrize("seed", range(20))
def test_same_result_as_the_fa3_builder(seed: int) -> None:
    rng = random.Random(seed)
    codes = [r.value for r in fa3.VatRate]
    lines = [
        L(rng.choice(codes), Decimal(rng.randint(1, 10_000_000)) / 100) for _ in range(rng.randint(1, 12))
    ]
    ours = rate_totals(lines)
    theirs = _builder_totals(
        fa3.Line(name="x", net_value=x.net_value, vat_rate=fa3.VatRate(x.vat_rate)) for x in lines
    )
    assert invoice_sums(ours)[2] == theirs.gross
    assert sum((t.vat for t in ours), Decimal(0)) == sum(
        (r.vat or Decimal(0) for r in theirs.rates), Decimal(0)
    )


# --- issue 19: gross prices (art. 106e ust. 7-8), margin schemes, a discount on the whole invoice ---------


def test_gross_prices_take_the_tax_out_of_each_rate_s_gross_sum() -> None:
    """38.88 gross at 23 %: 38.88 x 23 / 123 = 7.2702 → 7.27 once per rate; the lines' own taxes
    (6.90 + 0.19 + 0.19) would give 7.28."""
    lines = [G("23", "36.90"), G("23", "0.99"), G("23", "0.99"), G("8", "8.99")]
    totals = rate_totals(lines, prices_gross=True)
    assert [(t.vat_rate, t.net, t.vat) for t in totals] == [
        ("23", Decimal("31.61"), Decimal("7.27")),
        ("8", Decimal("8.32"), Decimal("0.67")),
    ]
    assert invoice_sums(totals)[2] == Decimal("47.87")  # P_15 is the gross typed, to the grosz


def test_gross_correction_and_foreign_currency() -> None:
    totals = {
        t.vat_rate: t
        for t in rate_totals(
            [G("23", "123.00", True), G("23", "61.50")],
            prices_gross=True,
            currency="EUR",
            exchange_rate=Decimal(4),
        )
    }
    assert (totals["23"].net, totals["23"].vat) == (Decimal("-50.00"), Decimal("-11.50"))
    assert totals["23"].vat_pln == Decimal("-46.00")  # (50 - 100) EUR net at 4 PLN, x 23 %


def test_margin_lines_carry_no_tax_and_sort_last() -> None:
    totals = rate_totals([L(MARGIN, Decimal("850.50"), gross_value=Decimal("850.50"))], prices_gross=False)
    assert [(t.vat_rate, t.net, t.vat, t.taxed) for t in totals] == [
        (MARGIN, Decimal("850.50"), Decimal(0), False)
    ]


def test_a_discount_amount_is_spread_to_the_grosz() -> None:
    # 10.00 over 89.99 and 100.00: 4.7365… and 5.2634…, the grosz left goes to the larger remainder
    assert spread_discount([Decimal("89.99"), Decimal("100.00")], percent=None, amount=Decimal("10.00")) == [
        Decimal("4.74"),
        Decimal("5.26"),
    ]
    # three equal lines and one grosz: the first line takes it
    assert spread_discount([Decimal(1)] * 3, percent=None, amount=Decimal("0.01")) == [
        Decimal("0.01"),
        Decimal("0.00"),
        Decimal("0.00"),
    ]
    assert spread_discount([Decimal(0)], percent=None, amount=Decimal("1")) == [Decimal("0.00")]


def test_a_discount_percent_is_taken_off_every_line() -> None:
    assert spread_discount([Decimal("200.00"), Decimal("0.05")], percent=Decimal(10), amount=None) == [
        Decimal("20.00"),
        Decimal("0.01"),  # 0.005 half-up
    ]


@pytest.mark.parametrize("seed", range(30))
def test_spread_amounts_add_up_and_follow_the_values(seed: int) -> None:
    rng = random.Random(seed)
    values = [Decimal(rng.randint(0, 10_000_00)) / 100 for _ in range(rng.randint(1, 15))]
    total = sum(values, Decimal(0))
    amount = Decimal(rng.randint(1, max(1, int(total * 100)))) / 100
    shares = spread_discount(values, percent=None, amount=amount)
    if total == 0:
        assert all(share == 0 for share in shares)
        return
    assert sum(shares, Decimal(0)) == amount
    for value, share in zip(values, shares, strict=True):
        assert 0 <= share <= value
        assert abs(share - amount * value / total) < Decimal("0.01")


@pytest.mark.parametrize("seed", range(20))
def test_gross_totals_are_the_fa3_builder_s(seed: int) -> None:
    """The portal's gross totals and the builder's (lines with P_11A and no P_11) agree, rate by rate."""
    rng = random.Random(seed)
    codes = [r.value for r in fa3.VatRate]
    lines = [
        G(rng.choice(codes), str(Decimal(rng.randint(1, 10_000_000)) / 100))
        for _ in range(rng.randint(1, 12))
    ]
    ours = rate_totals(lines, prices_gross=True)
    theirs = _builder_totals(
        fa3.Line(name="x", gross_value=x.gross_value, vat_rate=fa3.VatRate(x.vat_rate)) for x in lines
    )
    assert invoice_sums(ours)[2] == theirs.gross == sum((x.gross_value for x in lines), Decimal(0))
    buckets: dict[str, tuple[Decimal, Decimal]] = {}
    for total in ours:
        net, vat = buckets.get(fa3.VatRate(total.vat_rate).bucket, (Decimal(0), Decimal(0)))
        buckets[fa3.VatRate(total.vat_rate).bucket] = (net + total.net, vat + total.vat)
    assert buckets == {r.bucket: (r.net, r.vat or Decimal(0)) for r in theirs.rates}

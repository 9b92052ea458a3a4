"""Invoice arithmetic: line values and per-rate VAT totals, by the rule FA(3) and the VAT act use.

Net values are summed per rate and the tax of each rate is computed once from that sum, rounded half-up to
grosze (art. 106e ust. 1 pkt 13-14) — not the sum of per-line taxes. On a correction, the "before" lines are
subtracted from the "after" lines rate by rate. The same rule as
``ksef_integration.fa3.builder.compute_totals``
(kept separate because ``invoices`` must not depend on the KSeF side).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

GROSZ = Decimal("0.01")
RATE_ORDER = ("23", "22", "8", "7", "5", "4", "3", "0 KR", "0 WDT", "0 EX", "zw", "oo", "np I", "np II")


def round_half_up(value: Decimal) -> Decimal:
    """To grosze, halves away from zero (so -0.005 → -0.01, mirroring the positive case)."""
    return value.quantize(GROSZ, rounding=ROUND_HALF_UP)


def rate_percent(code: str) -> Decimal | None:
    return Decimal(code) if code.isdigit() else None


def line_net(quantity: Decimal, unit_price: Decimal) -> Decimal:
    return round_half_up(quantity * unit_price)


def line_vat(net: Decimal, vat_rate: str) -> Decimal:
    """The line's own tax (shown per line, ``P_11Vat``); the invoice's tax comes from :func:`rate_totals`."""
    pct = rate_percent(vat_rate)
    return round_half_up(net * pct / 100) if pct is not None else Decimal("0.00")


class LineAmounts(Protocol):
    vat_rate: str
    net_value: Decimal
    before_correction: bool


@dataclass(frozen=True)
class RateTotal:
    """One rate's sums; ``vat_pln`` is the tax in PLN on foreign-currency invoices (``P_14_xW``)."""

    vat_rate: str
    net: Decimal
    vat: Decimal
    vat_pln: Decimal | None = None

    @property
    def gross(self) -> Decimal:
        return self.net + self.vat

    @property
    def taxed(self) -> bool:
        return rate_percent(self.vat_rate) is not None


def rate_totals(
    lines: Iterable[LineAmounts], *, currency: str = "PLN", exchange_rate: Decimal | None = None
) -> list[RateTotal]:
    nets: dict[tuple[str, int], Decimal] = {}
    for line in lines:
        key = (line.vat_rate, -1 if line.before_correction else 1)
        nets[key] = nets.get(key, Decimal(0)) + line.net_value
    foreign = currency != "PLN" and exchange_rate is not None
    out: list[RateTotal] = []
    for code in sorted({code for code, _ in nets}, key=_rate_sort_key):
        net = vat = Decimal("0.00")
        vat_pln: Decimal | None = Decimal("0.00") if foreign else None
        pct = rate_percent(code)
        for sign in (1, -1):
            side = nets.get((code, sign))
            if side is None:
                continue
            net += sign * side
            if pct is not None:
                vat += sign * round_half_up(side * pct / 100)
                if vat_pln is not None and exchange_rate is not None:
                    vat_pln += sign * round_half_up(round_half_up(side * exchange_rate) * pct / 100)
        out.append(RateTotal(code, net, vat, vat_pln if pct is not None else None))
    return out


def invoice_sums(totals: Iterable[RateTotal]) -> tuple[Decimal, Decimal, Decimal]:
    """(net, VAT, gross) of the whole invoice; gross is ``P_15``."""
    net = vat = Decimal("0.00")
    for total in totals:
        net += total.net
        vat += total.vat
    return net, vat, net + vat


def _rate_sort_key(code: str) -> int:
    return RATE_ORDER.index(code) if code in RATE_ORDER else len(RATE_ORDER)

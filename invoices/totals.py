"""Invoice arithmetic: line values and per-rate VAT totals, by the rule FA(3) and the VAT act use.

Net values are summed per rate and the tax of each rate is computed once from that sum, rounded half-up to
grosze (art. 106e ust. 1 pkt 13-14) — not the sum of per-line taxes. On a correction, the "before" lines are
subtracted from the "after" lines rate by rate. The same rule as
``ksef_integration.fa3.builder.compute_totals``
(kept separate because ``invoices`` must not depend on the KSeF side).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Protocol

GROSZ = Decimal("0.01")
# Rate groups of FA(3) without a P_12 code of their own: P_13_5 (OSS procedure) and P_13_11 (margin scheme).
OSS = "OSS"
MARGIN = "margin"
RATE_ORDER = (
    "23", "22", "8", "7", "5", "4", "3", "0 KR", "0 WDT", "0 EX", "zw", "oo", "np I", "np II", MARGIN,
)  # fmt: skip


def round_half_up(value: Decimal) -> Decimal:
    """To grosze, halves away from zero (so -0.005 → -0.01, mirroring the positive case)."""
    return value.quantize(GROSZ, rounding=ROUND_HALF_UP)


def rate_percent(code: str) -> Decimal | None:
    return Decimal(code) if code.isdigit() else None


def line_net(quantity: Decimal, unit_price: Decimal) -> Decimal:
    return round_half_up(quantity * unit_price)


def line_discount(quantity: Decimal, unit_price: Decimal, percent: Decimal | None) -> Decimal | None:
    """``P_10``: the discount a percent takes off quantity x price, in grosze (None without one)."""
    if not percent:
        return None
    return round_half_up(line_net(quantity, unit_price) * percent / 100)


def line_vat(net: Decimal, vat_rate: str) -> Decimal:
    """The line's own tax (shown per line, ``P_11Vat``); the invoice's tax comes from :func:`rate_totals`."""
    pct = rate_percent(vat_rate)
    return round_half_up(net * pct / 100) if pct is not None else Decimal("0.00")


class LineAmounts(Protocol):
    vat_rate: str
    net_value: Decimal
    gross_value: Decimal
    before_correction: bool


def vat_in_gross(gross: Decimal, vat_rate: str) -> Decimal:
    """The tax contained in a gross amount, ``gross x rate / (100 + rate)`` rounded half-up (art. 106e ust. 8:
    how an invoice priced gross computes the tax of each rate); 0 for rates without tax."""
    pct = rate_percent(vat_rate)
    return round_half_up(gross * pct / (100 + pct)) if pct is not None else Decimal("0.00")


def spread_discount(
    values: list[Decimal], *, percent: Decimal | None, amount: Decimal | None
) -> list[Decimal]:
    """Each line's share of a discount on the whole invoice, in grosze, so that FA(3) can carry it in the
    lines' ``P_10`` (it has no invoice-level discount).

    A percent takes that percent off every line (each share rounded half-up); an amount is spread in
    proportion to the lines' values, the grosze left by rounding down going to the largest remainders
    (earlier lines first on a tie), so the shares add up to the amount exactly. An amount above the lines'
    total is the caller's error (it is refused before)."""
    if percent:
        return [round_half_up(value * percent / 100) for value in values]
    if not amount:
        return [Decimal("0.00")] * len(values)
    total = sum(values, Decimal(0))
    if total <= 0:
        return [Decimal("0.00")] * len(values)
    exact = [amount * value / total for value in values]
    shares = [(x / GROSZ).to_integral_value(rounding=ROUND_FLOOR) * GROSZ for x in exact]
    left = int(((amount - sum(shares, Decimal(0))) / GROSZ).to_integral_value())
    order = sorted(range(len(values)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in order[:left]:
        shares[i] += GROSZ
    return shares


@dataclass(frozen=True)
class RateTotal:
    """One rate's sums; ``vat_pln`` is the tax in PLN on foreign-currency invoices (``P_14_xW``)."""

    vat_rate: str
    net: Decimal
    vat: Decimal
    vat_pln: Decimal | None = None
    stated_vat: bool = True  # False: an imported group without P_14_x (0%, exempt …); shown as "—"

    @property
    def gross(self) -> Decimal:
        return self.net + self.vat

    @property
    def taxed(self) -> bool:
        return rate_percent(self.vat_rate) is not None


def rate_totals(
    lines: Iterable[LineAmounts],
    *,
    currency: str = "PLN",
    exchange_rate: Decimal | None = None,
    prices_gross: bool = False,
) -> list[RateTotal]:
    """Per-rate sums of the lines. ``prices_gross`` (art. 106e ust. 7-8): the lines' gross values are summed
    per rate and the tax is taken out of that sum (:func:`vat_in_gross`), the net being the rest — as
    ``ksef_integration.fa3.builder.compute_totals`` does for lines with ``P_11A``. Lines sold in a margin
    scheme (``MARGIN``) carry no tax: their values sum as they are (``P_13_11``)."""
    sums: dict[tuple[str, int], Decimal] = {}  # per rate and side (before a correction: -1)
    for line in lines:
        key = (line.vat_rate, -1 if line.before_correction else 1)
        sums[key] = sums.get(key, Decimal(0)) + (line.gross_value if prices_gross else line.net_value)
    foreign = currency != "PLN" and exchange_rate is not None
    out: list[RateTotal] = []
    for code in sorted({code for code, _ in sums}, key=_rate_sort_key):
        net = vat = Decimal("0.00")
        vat_pln: Decimal | None = Decimal("0.00") if foreign else None
        pct = rate_percent(code)
        for sign in (1, -1):
            side = sums.get((code, sign))
            if side is None:
                continue
            if prices_gross:  # the tax is in the rate's gross sum; the net is the rest
                tax = vat_in_gross(side, code)
                side_net = side - tax
            else:
                side_net = side
                tax = round_half_up(side * pct / 100) if pct is not None else Decimal("0.00")
            net += sign * side_net
            vat += sign * tax
            if pct is not None and vat_pln is not None and exchange_rate is not None:
                vat_pln += sign * round_half_up(round_half_up(side_net * exchange_rate) * pct / 100)
        out.append(RateTotal(code, net, vat, vat_pln if pct is not None else None))
    return out


def invoice_sums(totals: Iterable[RateTotal]) -> tuple[Decimal, Decimal, Decimal]:
    """(net, VAT, gross) of the whole invoice; gross is ``P_15``."""
    net = vat = Decimal("0.00")
    for total in totals:
        net += total.net
        vat += total.vat
    return net, vat, net + vat


class DueKind(StrEnum):
    """What the amount under the totals is: to pay, a correction's difference, or an overpayment to settle."""

    DUE = "due"
    DIFFERENCE = "difference"
    TO_SETTLE = "to_settle"


@dataclass(frozen=True)
class InvoiceSummary:
    """The document's "Total" row and the amount to pay. ``net``/``vat`` None: the invoice states none
    (a simplified invoice may carry only ``P_15``); ``vat_pln`` is the sum of ``P_14_xW``, if stated."""

    net: Decimal | None
    vat: Decimal | None
    gross: Decimal
    vat_pln: Decimal | None
    due: Decimal
    due_kind: DueKind


@dataclass(frozen=True)
class SettlementEntry:
    """One ``Rozliczenie/Obciazenia`` (charge) or ``Odliczenia`` (deduction): amount and reason."""

    amount: Decimal
    reason: str


@dataclass(frozen=True)
class Settlement:
    """``Rozliczenie``: charges and deductions beside the invoice's amount, and what is left to pay
    (``DoZaplaty``) or to settle (``DoRozliczenia``)."""

    charges: tuple[SettlementEntry, ...] = ()
    charges_total: Decimal | None = None
    deductions: tuple[SettlementEntry, ...] = ()
    deductions_total: Decimal | None = None
    to_pay: Decimal | None = None
    to_settle: Decimal | None = None


def _dec(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _entries(values: Any) -> tuple[SettlementEntry, ...]:
    out = []
    for item in values or ():
        amount = _dec(item.get("amount")) if isinstance(item, Mapping) else None
        if amount is not None:
            out.append(SettlementEntry(amount=amount, reason=str(item.get("reason", ""))))
    return tuple(out)


@dataclass(frozen=True)
class StatedTotals:
    """The amounts an imported invoice states, read back from ``Invoice.stated_totals`` (JSON, Decimals as
    strings): per-rate groups in document order, ``P_15`` and ``Rozliczenie``. See :meth:`to_json`.

    ``paid_before`` is ``P_15ZK`` of a correction of an advance invoice (the advance before the correction)
    or of a final invoice (the amount that was left to pay before it); its ``P_15`` is the change."""

    rates: tuple[RateTotal, ...]
    gross: Decimal
    settlement: Settlement | None = None
    paid_before: Decimal | None = None
    exchange_rate: str | None = None  # KursWaluty as written when it does not fit the invoice's column
    warnings: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StatedTotals:
        rates = []
        for item in data.get("rates") or ():
            net = _dec(item.get("net"))
            if net is None:
                continue
            rates.append(
                RateTotal(
                    vat_rate=str(item.get("rate", "")),
                    net=net,
                    vat=_dec(item.get("vat")) or Decimal("0.00"),
                    vat_pln=_dec(item.get("vat_pln")),
                    stated_vat=item.get("vat") is not None,
                )
            )
        settlement = None
        if isinstance(raw := data.get("settlement"), Mapping):
            settlement = Settlement(
                charges=_entries(raw.get("charges")),
                charges_total=_dec(raw.get("charges_total")),
                deductions=_entries(raw.get("deductions")),
                deductions_total=_dec(raw.get("deductions_total")),
                to_pay=_dec(raw.get("to_pay")),
                to_settle=_dec(raw.get("to_settle")),
            )
        return cls(
            rates=tuple(rates),
            gross=_dec(data.get("gross")) or Decimal("0.00"),
            settlement=settlement,
            paid_before=_dec(data.get("paid_before")),
            exchange_rate=data.get("exchange_rate"),
            warnings=tuple(str(w) for w in data.get("warnings") or ()),
        )

    def to_json(self) -> dict[str, Any]:
        def text(value: Decimal | None) -> str | None:
            return None if value is None else f"{value:f}"

        settlement = None
        if self.settlement is not None:
            s = self.settlement
            settlement = {
                "charges": [{"amount": text(e.amount), "reason": e.reason} for e in s.charges],
                "charges_total": text(s.charges_total),
                "deductions": [{"amount": text(e.amount), "reason": e.reason} for e in s.deductions],
                "deductions_total": text(s.deductions_total),
                "to_pay": text(s.to_pay),
                "to_settle": text(s.to_settle),
            }
        return {
            "rates": [
                {
                    "rate": r.vat_rate,
                    "net": text(r.net),
                    "vat": text(r.vat) if r.stated_vat else None,
                    "vat_pln": text(r.vat_pln),
                }
                for r in self.rates
            ],
            "gross": text(self.gross),
            "settlement": settlement,
            "paid_before": text(self.paid_before),
            "exchange_rate": self.exchange_rate,
            "warnings": list(self.warnings),
        }

    def rate_totals(self) -> list[RateTotal]:
        return list(self.rates)

    @property
    def paid_after(self) -> Decimal | None:
        """With ``paid_before``: the advance (or the amount left to pay) after the correction."""
        return None if self.paid_before is None else self.paid_before + self.gross

    def summary(self, *, correction: bool) -> InvoiceSummary:
        net = sum((r.net for r in self.rates), Decimal("0.00")) if self.rates else None
        stated_vat = [r.vat for r in self.rates if r.stated_vat]
        vat_pln = [r.vat_pln for r in self.rates if r.vat_pln is not None]
        due, due_kind = self.gross, DueKind.DIFFERENCE if correction else DueKind.DUE
        if self.settlement is not None and self.settlement.to_pay is not None:
            due, due_kind = self.settlement.to_pay, DueKind.DUE
        elif self.settlement is not None and self.settlement.to_settle is not None:
            due, due_kind = self.settlement.to_settle, DueKind.TO_SETTLE
        return InvoiceSummary(
            net=net,
            vat=sum(stated_vat, Decimal("0.00")) if stated_vat else None,
            gross=self.gross,
            vat_pln=sum(vat_pln, Decimal("0.00")) if vat_pln else None,
            due=due,
            due_kind=due_kind,
        )


def _rate_sort_key(code: str) -> int:
    return RATE_ORDER.index(code) if code in RATE_ORDER else len(RATE_ORDER)

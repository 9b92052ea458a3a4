"""The amounts of advance invoices (ZAL) and of the final invoice that settles them (ROZ).

An advance invoice documents a payment received before the sale (art. 106b ust. 1 pkt 4 ustawy o VAT). Its
lines are the order's positions (FA(3) ``Zamowienie``); what it taxes is the advance: the gross amount
received, split over the order's rates in proportion to each rate's gross value, with the tax taken out of
each share as art. 106f ust. 1 pkt 3 says (``share x rate / (100 + rate)``, rounded half-up to grosze).
Those shares are its ``P_13_x``/``P_14_x`` and the amount received its ``P_15``.

The final invoice (art. 106f ust. 3) lists the whole sale in its lines; its ``P_13_x``/``P_14_x`` are the
lines' totals less what the advance invoices already taxed at each rate, and its ``P_15`` what is left to
pay. Pure functions over amounts: the services decide what is issued and store these as the document's
stated amounts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from django.utils.translation import gettext as _

from invoices.totals import (
    RATE_ORDER,
    LineAmounts,
    RateTotal,
    invoice_sums,
    rate_percent,
    rate_totals,
    round_half_up,
)


class AdvanceProblem(ValueError):
    """The amounts cannot make the invoice; ``str()`` is a sentence for the person who typed them."""


def order_value(
    lines: Iterable[LineAmounts], *, currency: str = "PLN", exchange_rate: Decimal | None = None
) -> Decimal:
    """``WartoscZamowienia``: the order's value including tax, from its positions."""
    return invoice_sums(rate_totals(lines, currency=currency, exchange_rate=exchange_rate))[2]


def advance_split(
    lines: Sequence[LineAmounts],
    amount: Decimal,
    *,
    currency: str = "PLN",
    exchange_rate: Decimal | None = None,
) -> list[RateTotal]:
    """The advance ``amount`` (gross, received) split over the order's rates: one total per rate, its
    net and tax. The last rate takes what rounding left, so the shares add up to ``amount`` exactly."""
    order = rate_totals(lines, currency=currency, exchange_rate=exchange_rate)
    whole = sum((total.gross for total in order), Decimal(0))
    if amount <= 0:
        raise AdvanceProblem(_("The advance must be greater than zero."))
    if whole <= 0:
        raise AdvanceProblem(_("The order has no value to take an advance on."))
    if amount > whole:
        raise AdvanceProblem(
            _("The advance cannot be more than the order's value (%(value)s).") % {"value": whole}
        )
    weighted = [total for total in order if total.gross > 0]
    foreign = currency != "PLN" and exchange_rate is not None
    out: list[RateTotal] = []
    left = amount
    for position, total in enumerate(weighted):
        last = position == len(weighted) - 1
        share = left if last else round_half_up(amount * total.gross / whole)
        left -= share
        pct = rate_percent(total.vat_rate)
        vat = round_half_up(share * pct / (100 + pct)) if pct is not None else Decimal("0.00")
        net = share - vat
        vat_pln = None
        if pct is not None and foreign and exchange_rate is not None:
            vat_pln = round_half_up(round_half_up(net * exchange_rate) * pct / 100)
        out.append(RateTotal(total.vat_rate, net, vat, vat_pln))
    return out


def settlement_totals(final: Sequence[RateTotal], advances: Iterable[Sequence[RateTotal]]) -> list[RateTotal]:
    """The final invoice's per-rate totals: its lines' totals (``final``) less each advance invoice's."""
    by_rate = {total.vat_rate: total for total in final}
    net = {code: total.net for code, total in by_rate.items()}
    vat = {code: total.vat for code, total in by_rate.items()}
    vat_pln = {code: total.vat_pln for code, total in by_rate.items()}
    for advance in advances:
        for total in advance:
            if total.vat_rate not in by_rate:
                raise AdvanceProblem(
                    _("An advance was taxed at the %(rate)s rate, which no line of this invoice has.")
                    % {"rate": total.vat_rate}
                )
            net[total.vat_rate] -= total.net
            vat[total.vat_rate] -= total.vat
            before = vat_pln[total.vat_rate]
            vat_pln[total.vat_rate] = (
                None if before is None or total.vat_pln is None else before - total.vat_pln
            )
    out = []
    for code in by_rate:
        if net[code] < 0 or vat[code] < 0:
            raise AdvanceProblem(
                _("The advances at the %(rate)s rate are more than this invoice's lines at it.")
                % {"rate": code}
            )
        out.append(RateTotal(code, net[code], vat[code], vat_pln[code]))
    return out


def rate_sum(*states: Iterable[RateTotal]) -> list[RateTotal]:
    """Per-rate totals added up, rate by rate (an advance as first issued plus its corrections' changes).
    The tax in PLN stays only where every part states it."""
    return _combine([(1, state) for state in states])


def rate_differences(after: Iterable[RateTotal], before: Iterable[RateTotal]) -> list[RateTotal]:
    """What a correction states per rate (``P_13_x``/``P_14_x``): ``after`` less ``before``, for every rate
    either has; a rate that does not change is left out, as the Ministry's samples of KOR_ZAL do."""
    return [
        total for total in _combine([(1, after), (-1, before)]) if total.net or total.vat or total.vat_pln
    ]


def _combine(parts: Iterable[tuple[int, Iterable[RateTotal]]]) -> list[RateTotal]:
    net: dict[str, Decimal] = {}
    vat: dict[str, Decimal] = {}
    vat_pln: dict[str, Decimal | None] = {}
    for sign, state in parts:
        for total in state:
            code = total.vat_rate
            if code not in net:
                net[code] = vat[code] = Decimal("0.00")
                vat_pln[code] = Decimal("0.00")
            net[code] += sign * total.net
            vat[code] += sign * total.vat
            pln = vat_pln[code]
            vat_pln[code] = None if pln is None or total.vat_pln is None else pln + sign * total.vat_pln
    return [RateTotal(code, net[code], vat[code], vat_pln[code]) for code in sorted(net, key=_rate_order)]


def _rate_order(code: str) -> int:
    return RATE_ORDER.index(code) if code in RATE_ORDER else len(RATE_ORDER)

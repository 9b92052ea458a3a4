"""Random invoices (fixed seeds): always schema-valid, byte-stable, and totals that follow the stated rule.

Plain ``random`` with a seed rather than hypothesis, so a run is reproducible and leaves no cache behind.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import replace
from decimal import Decimal

import pytest

from ksef_integration.fa3._xml import round_half_up
from ksef_integration.fa3.builder import build_invoice, compute_totals
from ksef_integration.fa3.model import Annotations, Exemption, ExemptionBasis, Invoice, Line, VatRate
from ksef_integration.fa3.parser import parse_invoice
from ksef_integration.fa3.schema import validate

from .cases import base

ZW = Annotations(exemption=Exemption(ExemptionBasis.ACT, "art. 43"))


def random_invoice(rng: random.Random) -> Invoice:
    lines = []
    for _ in range(rng.randint(1, 12)):
        quantity = Decimal(rng.randint(-50_000, 10_000_000)).scaleb(-3) or Decimal(1)
        price = Decimal(rng.randint(0, 999_999_999)).scaleb(-4)
        name = "  ".join(rng.choice(["żółw", "Łódź", "a", "b c", "x\ty"]) for _ in range(rng.randint(1, 4)))
        rate = rng.choice(list(VatRate))
        lines.append(Line(name=name, quantity=quantity, unit="szt.", unit_price=price, vat_rate=rate))
    invoice = base("P/1", *lines)
    if any(line.vat_rate is VatRate.ZW for line in lines):
        invoice = replace(invoice, annotations=ZW)
    currency = rng.choice(["PLN", "EUR", "USD"])
    if currency != "PLN":
        exchange_rate = Decimal(rng.randint(5000, 90000)).scaleb(-4)
        invoice = replace(invoice, currency=currency, exchange_rate=exchange_rate)
    return invoice


@pytest.mark.parametrize("seed", range(60))
def test_random_invoice(seed: int) -> None:
    invoice = random_invoice(random.Random(seed))
    xml = build_invoice(invoice)
    assert validate(xml) == []
    assert build_invoice(parse_invoice(xml)) == xml

    per_rate: dict[VatRate, Decimal] = defaultdict(Decimal)
    for line in invoice.lines:
        assert line.quantity is not None
        assert line.unit_price is not None
        assert line.vat_rate is not None
        per_rate[line.vat_rate] += round_half_up(line.quantity * line.unit_price)
    expected_net: dict[str, Decimal] = defaultdict(Decimal)
    expected_vat: dict[str, Decimal] = defaultdict(Decimal)
    for vat_rate, net in per_rate.items():
        expected_net[vat_rate.bucket] += net
        if vat_rate.percent is not None:
            expected_vat[vat_rate.bucket] += round_half_up(net * vat_rate.percent / 100)
    totals = compute_totals(invoice)
    assert {r.bucket: r.net for r in totals.rates} == dict(expected_net)
    assert {r.bucket: r.vat for r in totals.rates if r.vat is not None} == dict(expected_vat)
    assert totals.gross == sum(expected_net.values()) + sum(expected_vat.values())
    if invoice.currency != "PLN":
        assert all(r.vat_pln is not None for r in totals.rates if r.vat is not None)

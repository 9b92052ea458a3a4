"""CPU cost of the FA(3) send pipeline for one 10-line invoice, and of parsing one.

``fa3_pipeline_ms_median``: build the XML, validate it against the (already compiled) XSD, encrypt it with
AES-256-CBC/PKCS#7 as an online session does, and hash plain and encrypted bytes (SHA-256, Base64).
Target: under 5 ms. Process CPU time per invoice, median over ``ROUNDS`` runs after a warm-up.
"""

from __future__ import annotations

import base64
import hashlib
import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ksef_integration.fa3.builder import build_invoice
from ksef_integration.fa3.digest import invoice_hash
from ksef_integration.fa3.model import (
    Address,
    BankAccount,
    Buyer,
    Invoice,
    Line,
    Nip,
    Payment,
    PaymentMethod,
    PaymentTerm,
    Seller,
    VatRate,
)
from ksef_integration.fa3.parser import parse_invoice
from ksef_integration.fa3.schema import get_schema, validate

ROUNDS = 300
WARMUP = 20
RATES = (VatRate.R23, VatRate.R8, VatRate.R5, VatRate.R23)


def sample_invoice() -> Invoice:
    lines = tuple(
        Line(
            name=f"Pozycja {i} — usługa serwisowa",
            quantity=Decimal(i) + Decimal("0.5"),
            unit="szt.",
            unit_price=Decimal("123.4567"),
            vat_rate=RATES[i % 4],
            gtu="GTU_12" if i % 3 == 0 else None,
        )
        for i in range(1, 11)
    )
    return Invoice(
        number="FV/2026/02/000123",
        issue_date=date(2026, 2, 2),
        sale_date=date(2026, 2, 1),
        created_at=datetime(2026, 2, 2, 8, 0, tzinfo=UTC),
        system_info="KSeF Portal",
        seller=Seller(nip="5265877635", name="Przykładowa Firma sp. z o.o.", address=Address("ul. Prosta 1")),
        buyer=Buyer(tax_id=Nip("7740001454"), name="Odbiorca S.A.", address=Address("ul. Długa 5")),
        lines=lines,
        payment=Payment(
            terms=(PaymentTerm(due_date=date(2026, 2, 16)),),
            method=PaymentMethod.TRANSFER,
            bank_accounts=(BankAccount("61109010140000071219812874"),),
        ),
    )


def _cpu_median_ms(fn: Callable[[], object]) -> float:
    for _ in range(WARMUP):
        fn()
    samples = []
    for _ in range(ROUNDS):
        start = time.process_time_ns()
        fn()
        samples.append((time.process_time_ns() - start) / 1e6)
    return statistics.median(samples)


def run() -> dict[str, float]:
    invoice = sample_invoice()
    get_schema()  # compiled once per process; not part of the per-invoice cost
    key, iv = os.urandom(32), os.urandom(16)  # one key per session, reused for every document

    def pipeline() -> tuple[str, str]:
        xml = build_invoice(invoice)
        errors = validate(xml)
        if errors:
            raise RuntimeError(f"benchmark invoice is not valid: {errors[0]}")
        padder = padding.PKCS7(128).padder()
        encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        encrypted = encryptor.update(padder.update(xml) + padder.finalize()) + encryptor.finalize()
        return invoice_hash(xml), base64.b64encode(hashlib.sha256(encrypted).digest()).decode()

    xml = build_invoice(invoice)
    if parse_invoice(xml).lines[9].name != invoice.lines[9].name:
        raise RuntimeError("parse did not read the benchmark invoice back; the figures would be meaningless")
    return {
        "fa3_pipeline_ms_median": _cpu_median_ms(pipeline),
        "fa3_parse_ms_median": _cpu_median_ms(lambda: parse_invoice(xml)),
        "fa3_invoice_bytes": float(len(xml)),
    }

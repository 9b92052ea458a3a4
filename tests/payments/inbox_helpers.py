"""Purchase invoices for the inbox tests (as importing stores them, with valid KSeF numbers) and a bank's
MT940 statement built from the orders of a payment file, as the bank would book them."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from accounts.models import Company
from invoices.models import Direction, Invoice
from ksef_integration.ksef.numbers import crc8_hex
from payments.transfers import Order
from tests.payments.transfers.helpers import PAYER_NRB, nrb

SELLER_NIP = "5260250274"
SELLER_ACCOUNT = nrb("1020296", "7777000011112222")


def ksef_number(nip: str = SELLER_NIP, day: str = "20261102") -> str:
    body = f"{nip}-{day}-{uuid.uuid4().hex[:12].upper()}"
    return f"{body}-{crc8_hex(body)}"


def purchase_invoice(company: Company, *, gross: str = "1230.00", **fields: Any) -> Invoice:
    gross_value = Decimal(gross)
    net = (gross_value / Decimal("1.23")).quantize(Decimal("0.01"))
    seller_nip = fields.pop("seller_nip", SELLER_NIP)
    values: dict[str, Any] = {
        "company": company,
        "direction": Direction.PURCHASE,
        "number": f"FZ/{uuid.uuid4().hex[:8]}",
        "issue_date": dt.date(2026, 11, 2),
        "due_date": dt.date(2026, 11, 16),
        "seller_name": "Młyn Zbożowy S.A.",
        "seller_nip": seller_nip,
        "seller_address_line1": "ul. Młyńska 5",
        "seller_address_line2": "60-001 Poznań",
        "buyer_name": company.name,
        "buyer_nip": company.nip,
        "bank_account": SELLER_ACCOUNT,
        "total_net": net,
        "total_vat": gross_value - net,
        "total_gross": gross_value,
        "ksef_number": ksef_number(seller_nip),
        "stated_kind": "VAT",
        "is_new": True,
    }
    values.update(fields)
    return Invoice.objects.create(**values)


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def mt940_for(orders: Sequence[Order], *, booked: dt.date, references: Sequence[str] = ()) -> bytes:
    """A Polish bank's MT940 for the day ``booked``: one debit per order (title cut into ~20.. pieces of 27
    characters, the payee's name and IBAN), plus an unrelated incoming payment."""
    day = booked.strftime("%y%m%d")
    lines = [":20:ST" + day, f":25:/PL{PAYER_NRB}", ":28C:1/1", f":60F:C{day}PLN100000,00"]
    for index, order in enumerate(orders):
        reference = references[index] if index < len(references) else f"BR{day}{index:04d}"
        amount = f"{order.amount // 100},{order.amount % 100:02d}"
        lines.append(f":61:{day}{booked:%m%d}D{amount}NTRFNONREF//{reference}")
        title = "".join(f"~{20 + i}{piece}" for i, piece in enumerate(_pieces(order.remittance, 27)[:7]))
        lines.append(f":86:020~00VE02PRZELEW{title}~27{order.payee_name[:27]}~38PL{order.payee_nrb}")
    lines.append(f":61:{day}{booked:%m%d}C50,00NTRFNONREF//IN{day}")
    lines.append(":86:020~00VE01WPŁATA~20Zwrot nadpłaty~27Klient Sp. z o.o.")
    lines += [f":62F:C{day}PLN1,00", "-"]
    return ("\r\n".join(lines) + "\r\n").encode("cp1250")

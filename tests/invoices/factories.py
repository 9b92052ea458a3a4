"""Helpers that build invoices for tests without going through the services (for lists and constraints)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from accounts.models import Company
from invoices.models import Direction, Invoice, InvoiceKind
from invoices.services import InvoiceData, LineData, PartyData
from tests.factories import valid_nip


def invoice_make(company: Company, **fields: Any) -> Invoice:
    """An invoice row with consistent totals (net + 23% VAT), saved."""
    net = Decimal(fields.pop("net", "100.00"))
    vat = (net * Decimal("0.23")).quantize(Decimal("0.01"))
    defaults: dict[str, Any] = {
        "company": company,
        "direction": Direction.SALES,
        "kind": InvoiceKind.VAT,
        "number": f"T/{uuid.uuid4().hex[:10]}",
        "issue_date": dt.date(2026, 11, 2),
        "seller_name": company.name,
        "seller_nip": company.nip,
        "buyer_name": "Odbiorca sp. z o.o.",
        "buyer_nip": valid_nip(),
        "total_net": net,
        "total_vat": vat,
        "total_gross": net + vat,
    }
    defaults.update(fields)
    return Invoice.objects.create(**defaults)


def issue_data(**overrides: Any) -> InvoiceData:
    values: dict[str, Any] = {
        "party": PartyData(
            name="Zakład Usług Różnych Łęcki",
            nip="5260250274",
            address_line1="ul. Źródlana 5",
            address_line2="00-950 Warszawa",
        ),
        "lines": [LineData("Usługa księgowa", Decimal("1"), Decimal("1000.00"), "23", "usł.")],
        "issue_date": dt.date(2026, 11, 20),
        "sale_date": dt.date(2026, 11, 20),
        "due_date": dt.date(2026, 12, 4),
        "payment_method": 6,
        "bank_account": "61109010140000071219812874",
        "idempotency_key": uuid.uuid4(),
    }
    values.update(overrides)
    return InvoiceData(**values)


def ksef_number_for(nip: str, *, day: str = "20261102", technical: str = "0100A0B0C0D0") -> str:
    """A KSeF number with a correct CRC-8, as a correction must cite (a wrong one is refused in the form)."""
    from ksef_integration.fa3.checks import ksef_number_checksum

    first = f"{nip}-{day}-{technical}"
    return f"{first}-{ksef_number_checksum(first)}"

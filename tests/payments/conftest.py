"""The VAT white list stand-in over real HTTP, NIPs of each kind the stand-in derives, invoices to check."""

from __future__ import annotations

import datetime as dt
import socket
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests
from django.test import override_settings

from accounts.models import Company
from invoices.models import Direction, Invoice
from tests.factories import NIP_WEIGHTS


def nip_with(ninth: str, start: int = 526025) -> str:
    """A valid NIP whose ninth digit (the stand-in's marker) is ``ninth``: 0 not registered, 8 removed,
    9 exempt, other digits active."""
    for middle in range(start * 100, start * 100 + 100):
        head = f"{middle:08d}{ninth}"
        check = sum(w * int(d) for w, d in zip(NIP_WEIGHTS, head, strict=True)) % 11
        if check != 10:
            return head + str(check)
    raise AssertionError("no NIP found")


ACTIVE_NIP = "5260250274"  # ninth digit 7: "Czynny"
NOT_FOUND_NIP = nip_with("0")
REMOVED_NIP = nip_with("8")
EXEMPT_NIP = nip_with("9")
FOREIGN_ACCOUNT = "61109010140000071219812874"  # a valid NRB nobody in the stand-in holds


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def wl_url(live_server: Any) -> Iterator[str]:
    """The stand-in's base URL; the portal asks it (WHITELIST_API_URL) for the test's duration."""
    url = f"{live_server.url}/ksef-sim/wl-api"
    with override_settings(WHITELIST_API_URL=url):
        yield url
    requests.delete(f"{url}/testdata/limits", timeout=5)


@pytest.fixture
def nowhere() -> Iterator[str]:
    """The white list at a closed port: any question fails to connect (proves nothing is asked)."""
    url = f"http://127.0.0.1:{closed_port()}/wl-api"
    with override_settings(WHITELIST_API_URL=url):
        yield url


def set_subject(wl_url: str, nip: str, status: str | None, accounts: list[str] | None = None) -> None:
    response = requests.post(
        f"{wl_url}/testdata/subject",
        json={"nip": nip, "statusVat": status, "accountNumbers": accounts or []},
        timeout=5,
    )
    assert response.status_code == 200, response.text


def set_limits(wl_url: str, **limits: int) -> None:
    assert requests.post(f"{wl_url}/testdata/limits", json=limits, timeout=5).status_code == 200


def purchase(company: Company, *, gross: str = "20000.00", **fields: Any) -> Invoice:
    """A purchase invoice as importing stores one (seller's NIP and account from the XML)."""
    gross_value = Decimal(gross)
    net = (gross_value / Decimal("1.23")).quantize(Decimal("0.01"))
    values: dict[str, Any] = {
        "company": company,
        "direction": Direction.PURCHASE,
        "number": f"FZ/{uuid.uuid4().hex[:8]}",
        "issue_date": dt.date(2026, 11, 2),
        "seller_name": "Dostawca sp. z o.o.",
        "seller_nip": ACTIVE_NIP,
        "buyer_name": company.name,
        "buyer_nip": company.nip,
        "bank_account": "",
        "total_net": net,
        "total_vat": gross_value - net,
        "total_gross": gross_value,
        "ksef_number": f"{ACTIVE_NIP}-20261102-{uuid.uuid4().hex[:12].upper()}-00",
    }
    values.update(fields)
    return Invoice.objects.create(**values)

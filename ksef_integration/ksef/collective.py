"""Collective identifiers (identyfikatory zbiorcze, IZ; API 2.7.0+, open-api 2.9.0 tag "Identyfikatory
zbiorcze"): one 35-character number KSeF issues for 2 to 500 (the context's
``collectiveIdentifier.maxInvoices``) invoices of one seller, which a single transfer's title may carry
instead of their KSeF numbers.

- ``generate``: ``POST /collective-identifiers`` → the identifier (201). KSeF refuses with 400 and
  ``KsefRejected.code`` 71001 (an invoice it does not have or the context is no party to), 71002 (an
  invoice already in 132 identifiers of this context), 71004 (different sellers), 71005 (a number twice),
  21405 (fewer than 2 or more than the limit).
- ``query``: ``POST /collective-identifiers/query``, the context's identifiers (and, in a NIP context, those
  of its sales) created in a window of at most 100 days.
- ``invoices``: ``POST /collective-identifiers/invoices``, the invoices of up to 10 identifiers; payment and
  description only for the creator and the invoices' parties (else ``details_hidden``).
- ``of_invoice``: ``GET /collective-identifiers/ksef/{ksefNumber}``.

The listings follow ``continuationToken`` (the ``x-continuation-token`` header). Every call needs one of
``InvoiceRead``, ``InvoiceWrite``, ``CollectiveIdentifierManage`` (else 403, ``KsefForbidden``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ksef_integration.ksef._values import as_dict, as_list, format_datetime, parse_datetime, require
from ksef_integration.ksef.errors import KsefTransientError
from ksef_integration.ksef.http import KsefHttp
from ksef_integration.ksef.numbers import crc8_hex, ksef_number_is_valid
from ksef_integration.ksef.secret import Secret

MIN_INVOICES = 2
DEFAULT_MAX_INVOICES = 500  # the default of GET /limits/context collectiveIdentifier.maxInvoices
MAX_IDENTIFIERS_PER_LISTING = 10
MAX_QUERY_WINDOW = timedelta(days=100)
DESCRIPTION_MAX = 512
IDENTIFIER_LENGTH = 35
_IDENTIFIER = re.compile(r"^\d{10}-IZ\d{4}(0[1-9]|1[0-2])-[0-9A-F]{12}-[0-9A-F]{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def collective_identifier_is_valid(value: str) -> bool:
    """``NIP-IZYYYYMM-12 hex-CC``, CC the CRC-8 (0x07, init 0) of the first 32 characters."""
    return bool(_IDENTIFIER.match(value)) and crc8_hex(value[:32]) == value[33:]


@dataclass(frozen=True)
class CollectiveInvoice:
    """One invoice of a new identifier; ``amount``/``currency`` (the payment) and ``description`` optional."""

    ksef_number: str
    amount: Decimal | None = None
    currency: str = ""
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ksefNumber": self.ksef_number}
        if self.amount is not None:
            # The spec's "number" (double): two decimals are exact enough for any invoice amount.
            body["payment"] = {"amount": float(self.amount), "currency": self.currency}
        if self.description:
            body["description"] = self.description
        return body


@dataclass(frozen=True)
class CollectiveIdentifierSummary:
    """An identifier as ``query`` and ``of_invoice`` list it (``invoice_count`` only from ``query``)."""

    number: str
    created: datetime
    created_in_current_context: bool
    invoice_count: int | None = None


@dataclass(frozen=True)
class CollectiveInvoiceItem:
    """An invoice of an identifier as ``invoices`` lists it."""

    ksef_number: str
    identifier: str
    details_hidden: bool
    amount: Decimal | None = None
    currency: str = ""
    description: str = ""


def _checked_invoices(invoices: Sequence[CollectiveInvoice], max_invoices: int) -> list[dict[str, Any]]:
    if not MIN_INVOICES <= len(invoices) <= max_invoices:
        raise ValueError(f"a collective identifier takes {MIN_INVOICES}..{max_invoices} invoices")
    numbers = [invoice.ksef_number for invoice in invoices]
    if len(set(numbers)) != len(numbers):
        raise ValueError("each KSeF number may be given once")
    for invoice in invoices:
        if not ksef_number_is_valid(invoice.ksef_number):
            raise ValueError(f"not a KSeF number: {invoice.ksef_number[:40]!r}")
        if invoice.amount is not None and not _CURRENCY.match(invoice.currency):
            raise ValueError("a payment needs its ISO 4217 currency")
        if len(invoice.description) > DESCRIPTION_MAX:
            raise ValueError(f"a description has at most {DESCRIPTION_MAX} characters")
    return [invoice.to_json() for invoice in invoices]


def _summary(item: Any) -> CollectiveIdentifierSummary:
    count = as_dict(item).get("invoiceCount")
    return CollectiveIdentifierSummary(
        number=str(require(item, "collectiveIdentifierNumber")),
        created=parse_datetime(require(item, "dateCreated")),
        created_in_current_context=bool(require(item, "createdInCurrentContext") is True),
        invoice_count=None if count is None else int(count),
    )


def _invoice_item(item: Any) -> CollectiveInvoiceItem:
    payment = as_dict(as_dict(item).get("payment"))
    return CollectiveInvoiceItem(
        ksef_number=str(require(item, "ksefNumber")),
        identifier=str(require(item, "collectiveIdentifierNumber")),
        details_hidden=bool(item.get("detailsHidden")),
        amount=Decimal(str(payment["amount"])).quantize(Decimal("0.01")) if "amount" in payment else None,
        currency=str(payment.get("currency") or ""),
        description=str(item.get("description") or ""),
    )


class CollectiveIdentifiers:
    """The ``/collective-identifiers`` endpoints in the logged-in context."""

    def __init__(self, *, http: KsefHttp, bearer: Callable[[], Secret]) -> None:
        self._http = http
        self._bearer = bearer

    def generate(
        self, *, invoices: Sequence[CollectiveInvoice], max_invoices: int = DEFAULT_MAX_INVOICES
    ) -> str:
        """A new identifier for ``invoices`` (all of one seller, the context a party to each)."""
        body = {"invoices": _checked_invoices(invoices, max_invoices)}
        data = self._http.call(
            "POST", "/collective-identifiers", bearer=self._bearer(), json_body=body, expect=(201,)
        )
        number = str(require(data, "collectiveIdentifierNumber"))
        if not collective_identifier_is_valid(number):
            raise KsefTransientError(f"KSeF sent an invalid collective identifier: {number[:40]!r}")
        return number

    def _pages(
        self,
        method: str,
        path: str,
        key: str,
        *,
        body: Mapping[str, Any] | None = None,
        page_size: int,
    ) -> Iterator[Any]:
        continuation: str | None = None
        seen: set[str] = set()
        while True:
            headers = {"x-continuation-token": continuation} if continuation else None
            data = self._http.call(
                method,
                path,
                bearer=self._bearer(),
                params={"pageSize": page_size},
                headers=headers,
                json_body=None if body is None else dict(body),
            )
            yield from as_list(as_dict(data).get(key))
            continuation = as_dict(data).get("continuationToken") or None
            if not continuation or continuation in seen:
                return
            seen.add(continuation)

    def query(
        self,
        *,
        created_from: datetime,
        created_to: datetime,
        number: str | None = None,
        invoice_count_from: int | None = None,
        invoice_count_to: int | None = None,
        created_in_current_context: bool | None = None,
        page_size: int = 200,
    ) -> Iterator[CollectiveIdentifierSummary]:
        """Identifiers created between ``created_from`` and ``created_to`` (≤ 100 days), newest first."""
        if created_from > created_to:
            raise ValueError("created_from is after created_to")
        if created_to - created_from > MAX_QUERY_WINDOW:
            raise ValueError("the window is at most 100 days")
        if not 10 <= page_size <= 200:
            raise ValueError("page_size is 10..200")
        body: dict[str, Any] = {
            "dateCreatedFrom": format_datetime(created_from),
            "dateCreatedTo": format_datetime(created_to),
        }
        optional = {
            "collectiveIdentifierNumber": number,
            "invoiceCountFrom": invoice_count_from,
            "invoiceCountTo": invoice_count_to,
            "createdInCurrentContext": created_in_current_context,
        }
        body.update({key: value for key, value in optional.items() if value is not None})
        for item in self._pages(
            "POST", "/collective-identifiers/query", "collectiveIdentifiers", body=body, page_size=page_size
        ):
            yield _summary(item)

    def invoices(self, *, numbers: Sequence[str], page_size: int = 500) -> Iterator[CollectiveInvoiceItem]:
        """The invoices of up to 10 identifiers, by KSeF number descending."""
        if not 1 <= len(numbers) <= MAX_IDENTIFIERS_PER_LISTING:
            raise ValueError(f"list 1..{MAX_IDENTIFIERS_PER_LISTING} identifiers at a time")
        for number in numbers:
            if not collective_identifier_is_valid(number):
                raise ValueError(f"not a collective identifier: {number[:40]!r}")
        if not 10 <= page_size <= 500:
            raise ValueError("page_size is 10..500")
        body = {"collectiveIdentifierNumbers": list(numbers)}
        for item in self._pages(
            "POST", "/collective-identifiers/invoices", "invoices", body=body, page_size=page_size
        ):
            yield _invoice_item(item)

    def of_invoice(self, *, ksef_number: str, page_size: int = 200) -> Iterator[CollectiveIdentifierSummary]:
        """The identifiers holding one invoice (all of them when the context is a party to it)."""
        if not ksef_number_is_valid(ksef_number):
            raise ValueError(f"not a KSeF number: {ksef_number[:40]!r}")
        if not 10 <= page_size <= 200:
            raise ValueError("page_size is 10..200")
        for item in self._pages(
            "GET", f"/collective-identifiers/ksef/{ksef_number}", "collectiveIdentifiers", page_size=page_size
        ):
            yield _summary(item)

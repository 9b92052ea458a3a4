"""Reading invoices (ksef-api.md §8.1, §8.2): the metadata query with paging (``pageOffset`` is a page
index) and its truncation rule, and the download of one invoice by KSeF number."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from ksef_integration.ksef._values import (
    as_dict,
    as_list,
    format_datetime,
    parse_date,
    parse_datetime,
    parse_datetime_opt,
    require,
)
from ksef_integration.ksef.crypto import sha256_b64
from ksef_integration.ksef.errors import KsefError, KsefTransientError
from ksef_integration.ksef.http import KsefHttp
from ksef_integration.ksef.secret import Secret

SUBJECT_TYPES = ("Subject1", "Subject2", "Subject3", "SubjectAuthorized")
DATE_TYPES = ("Issue", "Invoicing", "PermanentStorage")
WARSAW = ZoneInfo("Europe/Warsaw")


@dataclass(frozen=True)
class InvoiceFilters:
    """``InvoiceQueryFilters``. ``extra`` carries the other filters under KSeF's own names."""

    subject_type: str
    date_from: datetime
    date_type: str = "PermanentStorage"
    date_to: datetime | None = None
    restrict_to_hwm: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.subject_type not in SUBJECT_TYPES:
            raise ValueError(f"unknown subject type {self.subject_type!r}")
        if self.date_type not in DATE_TYPES:
            raise ValueError(f"unknown date type {self.date_type!r}")

    def to_json(self) -> dict[str, Any]:
        date_range: dict[str, Any] = {"dateType": self.date_type, "from": format_datetime(self.date_from)}
        if self.date_to is not None:
            date_range["to"] = format_datetime(self.date_to)
        if self.restrict_to_hwm:
            date_range["restrictToPermanentStorageHwmDate"] = True
        return {**self.extra, "subjectType": self.subject_type, "dateRange": date_range}


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise KsefTransientError(f"KSeF sent an invalid amount: {value!r:.40}") from None


@dataclass(frozen=True)
class InvoiceMetadata:
    """``InvoiceMetadata`` (metadata query and ``_metadata.json``); ``raw`` keeps every field KSeF sent."""

    ksef_number: str
    invoice_number: str
    issue_date: date
    invoicing_date: datetime
    acquisition_date: datetime
    permanent_storage_date: datetime
    seller_nip: str
    seller_name: str | None
    buyer_identifier_type: str | None
    buyer_identifier_value: str | None
    buyer_name: str | None
    net_amount: Decimal
    gross_amount: Decimal
    vat_amount: Decimal
    currency: str
    invoicing_mode: str | None
    invoice_type: str | None
    invoice_hash: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    def date_of(self, date_type: str) -> datetime:
        """The record's date for a filter's ``dateType`` (an issue date starts at Warsaw midnight)."""
        if date_type == "PermanentStorage":
            return self.permanent_storage_date
        if date_type == "Invoicing":
            return self.invoicing_date
        return datetime.combine(self.issue_date, time.min, tzinfo=WARSAW)


def invoice_metadata_parse(data: Any) -> InvoiceMetadata:
    seller = as_dict(require(data, "seller"))
    buyer = as_dict(data.get("buyer"))
    identifier = as_dict(buyer.get("identifier"))
    return InvoiceMetadata(
        ksef_number=str(require(data, "ksefNumber")),
        invoice_number=str(data.get("invoiceNumber") or ""),
        issue_date=parse_date(require(data, "issueDate")),
        invoicing_date=parse_datetime(require(data, "invoicingDate")),
        acquisition_date=parse_datetime(require(data, "acquisitionDate")),
        permanent_storage_date=parse_datetime(require(data, "permanentStorageDate")),
        seller_nip=str(require(seller, "nip")),
        seller_name=seller.get("name"),
        buyer_identifier_type=identifier.get("type"),
        buyer_identifier_value=identifier.get("value"),
        buyer_name=buyer.get("name"),
        net_amount=_decimal(data.get("netAmount", 0)),
        gross_amount=_decimal(data.get("grossAmount", 0)),
        vat_amount=_decimal(data.get("vatAmount", 0)),
        currency=str(data.get("currency") or "PLN"),
        invoicing_mode=data.get("invoicingMode"),
        invoice_type=data.get("invoiceType"),
        invoice_hash=data.get("invoiceHash"),
        raw=dict(data),
    )


@dataclass(frozen=True)
class MetadataPage:
    has_more: bool
    is_truncated: bool
    permanent_storage_hwm_date: datetime | None
    invoices: tuple[InvoiceMetadata, ...]


class Invoices:
    def __init__(self, *, http: KsefHttp, bearer: Callable[[], Secret]) -> None:
        self._http = http
        self._bearer = bearer

    def metadata_page(
        self, *, filters: InvoiceFilters, page_offset: int = 0, page_size: int = 250, sort_order: str = "Asc"
    ) -> MetadataPage:
        """One page of ``POST /invoices/query/metadata``; ``page_offset`` is the page index (0 = first)."""
        data = self._http.call(
            "POST",
            "/invoices/query/metadata",
            bearer=self._bearer(),
            params={"pageOffset": page_offset, "pageSize": page_size, "sortOrder": sort_order},
            json_body=filters.to_json(),
        )
        return MetadataPage(
            has_more=bool(require(data, "hasMore")),
            is_truncated=bool(data.get("isTruncated")),
            permanent_storage_hwm_date=parse_datetime_opt(data.get("permanentStorageHwmDate")),
            invoices=tuple(invoice_metadata_parse(item) for item in as_list(data.get("invoices"))),
        )

    def metadata_query(self, *, filters: InvoiceFilters, page_size: int = 250) -> Iterator[InvoiceMetadata]:
        """Every matching record, ascending, each KSeF number once.

        The spec's loop: no ``hasMore`` → stop; ``hasMore`` → next page; ``hasMore`` and ``isTruncated``
        (10,000 records reached) → restart from the last record's date with page 0, dropping the overlap.
        """
        current = filters
        page_offset = 0
        seen: set[str] = set()
        while True:
            page = self.metadata_page(filters=current, page_offset=page_offset, page_size=page_size)
            for invoice in page.invoices:
                if invoice.ksef_number not in seen:
                    seen.add(invoice.ksef_number)
                    yield invoice
            if not page.has_more:
                return
            if page.is_truncated:
                if not page.invoices:
                    raise KsefTransientError("KSeF reported a truncated result without records")
                restart = page.invoices[-1].date_of(current.date_type)
                if restart <= current.date_from:
                    raise KsefError(
                        "the metadata query cannot advance: too many invoices share one timestamp"
                    )
                current = replace(current, date_from=restart)
                page_offset = 0
            else:
                page_offset += 1

    def invoice_download(self, *, ksef_number: str) -> bytes:
        """``GET /invoices/ksef/{ksefNumber}``: the original XML (checked against ``x-ms-meta-hash``)."""
        response = self._http.call_raw(
            "GET",
            f"/invoices/ksef/{ksef_number}",
            bearer=self._bearer(),
            headers={"Accept": "application/xml"},
        )
        expected = response.headers.get("x-ms-meta-hash")
        if expected and expected != sha256_b64(response.content):
            raise KsefTransientError("the downloaded invoice does not match its hash")
        return response.content

"""Read queries for invoices and contractors. Every lookup is scoped to one company (404 for others)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.db.models.lookups import IContains
from django.http import Http404

from accounts.models import Company
from invoices import formatting
from invoices.models import Contractor, Direction, Invoice, InvoiceKind, InvoiceLine, KsefStatus

PAGE_SIZE = 50
MAX_ID = 2**63 - 1
LIST_FIELDS = (
    "id", "uuid", "company_id", "direction", "kind", "number", "issue_date", "seller_name", "seller_nip",
    "buyer_name", "buyer_nip", "currency", "total_net", "total_gross", "ksef_status", "ksef_number", "is_new",
    "stated_kind",
)  # fmt: skip


# The Dokumenty filter's groups of KSeF statuses, as Start counts them (issue 22): invoices not in KSeF yet
# (never sent, queued, or sent and undecided) and those KSeF refused or our checks stopped.
STATUS_GROUPS = {
    "waiting": (KsefStatus.NOT_SENT, KsefStatus.QUEUED, KsefStatus.SENT),
    "problem": (KsefStatus.REJECTED, KsefStatus.FAILED_LOCAL),
}


class ContainsAnyCase(IContains):
    """``icontains`` that PostgreSQL can estimate: ``column ILIKE '%text%'`` instead of Django's
    ``UPPER(column::text) LIKE UPPER('%text%')``. On an expression the planner has no statistics and guesses
    one matching row, so it scans and sorts every invoice of the company (5 ms on 10,000) instead of walking
    the list's index newest first until the page is full (1 ms for a name on 3 % of them). Other databases
    get Django's ``icontains``; the pattern is escaped the same way."""

    def as_postgresql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = compiler.compile(self.lhs)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} ILIKE {rhs}", [*lhs_params, *rhs_params]


def invoices_for_company(*, company: Company) -> QuerySet[Invoice]:
    return Invoice.objects.filter(company=company)


def invoice_get_for_company_or_404(
    *, company: Company, invoice_uuid: uuid.UUID | str, with_has_corrections: bool = False
) -> Invoice:
    """The company's invoice with its lines, or 404: other tenants' invoices do not exist for this user. The
    corrected invoice, which only a correction has, is read when asked for (joining it cost every page).
    ``with_has_corrections``: ``invoice.has_corrections`` tells whether any invoice corrects it (the invoice
    page reads its corrections only then)."""
    invoices = invoices_for_company(company=company).filter(uuid=invoice_uuid)
    if with_has_corrections:
        invoices = invoices.annotate(
            has_corrections=Exists(Invoice.objects.filter(corrected_invoice=OuterRef("pk")))
        )
    invoice = (
        invoices.select_related("created_by")
        .prefetch_related(
            Prefetch("lines", queryset=InvoiceLine.objects.order_by("before_correction", "ordinal"))
        )
        .first()
    )
    if invoice is None:
        raise Http404
    invoice.company = company  # the company asked for, not read again by whatever needs it
    return invoice


def invoice_corrections(*, invoice: Invoice) -> QuerySet[Invoice]:
    return invoices_for_company(company=invoice.company).filter(corrected_invoice=invoice).order_by("id")


def contractors_for_company(*, company: Company) -> QuerySet[Contractor]:
    return Contractor.objects.filter(company=company)


def contractor_get_by_nip(*, company: Company, nip: str) -> Contractor | None:
    if not nip:
        return None
    return contractors_for_company(company=company).filter(nip=nip).first()


def contractors_recent(*, company: Company, limit: int = 200) -> QuerySet[Contractor]:
    """The contractors offered in Wystaw's NIP list, most recently used first."""
    return contractors_for_company(company=company).exclude(nip="").order_by("-updated_at", "-id")[:limit]


def last_sales_bank_account(*, company: Company) -> str:
    """The account number on the company's latest sales invoice, offered on the next one."""
    value = (
        invoices_for_company(company=company)
        .filter(direction=Direction.SALES)
        .exclude(bank_account="")
        .order_by("-id")
        .values_list("bank_account", flat=True)
        .first()
    )
    return value or ""


def advances_open(*, company: Company, limit: int = 200) -> list[tuple[str, str]]:
    """The company's advance invoices (ZAL) no final invoice has settled yet, newest first, as Wystaw
    offers them: (uuid, "FZ/1/12/2026 · 01.12.2026 · buyer · 1 230,00 PLN"); the advance as it stands after
    its corrections (each KOR_ZAL's P_15 is the change), those KSeF refused left out."""
    changes = (
        Invoice.objects.filter(corrected_invoice=OuterRef("pk"), kind=InvoiceKind.KOR_ZAL)
        .exclude(ksef_status__in=STATUS_GROUPS["problem"])
        .values("corrected_invoice")
        .annotate(change=Sum("total_gross"))
        .values("change")
    )
    rows = (
        invoices_for_company(company=company)
        .filter(direction=Direction.SALES, kind=InvoiceKind.ZAL, settled_by__isnull=True)
        .annotate(gross_now=F("total_gross") + Coalesce(Subquery(changes), Value(Decimal(0))))
        .order_by("-issue_date", "-id")
        .values_list("uuid", "number", "issue_date", "buyer_name", "gross_now", "currency")[:limit]
    )
    return [
        (str(uid), f"{number} · {issued:%d.%m.%Y} · {buyer} · {formatting.money(gross, currency)}")
        for uid, number, issued, buyer, gross, currency in rows
    ]


# --- the Dokumenty list -------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceFilters:
    direction: str = Direction.SALES
    kind: str = ""
    ksef_status: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    contractor: str = ""
    amount_from: Decimal | None = None
    amount_to: Decimal | None = None
    only_new: bool = False  # purchases not opened yet (the "nowe" marker)


@dataclass(frozen=True)
class Cursor:
    """A position in the list: the last row shown, by (issue_date, id), newest first."""

    issue_date: dt.date
    id: int

    def encode(self) -> str:
        return f"{self.issue_date.isoformat()}_{self.id}"

    @classmethod
    def decode(cls, value: str | None) -> Cursor | None:
        """None for a missing or malformed cursor (the list then starts from the top)."""
        if not value:
            return None
        date_part, _, id_part = value.partition("_")
        try:
            cursor = cls(dt.date.fromisoformat(date_part), int(id_part))
        except ValueError:
            return None
        # Ids are positive 64-bit integers in every database we use; SQLite cannot even compare with more.
        return cursor if 0 < cursor.id <= MAX_ID else None


class ListedInvoice(NamedTuple):
    """One row of the list: the columns of ``LIST_FIELDS`` as plain values. Read with ``values_list``
    because building 50 deferred model instances costs more than the rest of the query on every page; a
    tuple, so that a page of them is compared and hashed at C speed (invoices.list_cache)."""

    id: int
    uuid: uuid.UUID
    company_id: int
    direction: str
    kind: str
    number: str
    issue_date: dt.date
    seller_name: str
    seller_nip: str
    buyer_name: str
    buyer_nip: str
    currency: str
    total_net: Decimal
    total_gross: Decimal
    ksef_status: str
    ksef_number: str
    is_new: bool
    stated_kind: str  # RodzajFaktury as written on an imported invoice, "" on the portal's own

    @property
    def counterparty_name(self) -> str:
        return self.buyer_name if self.direction == Direction.SALES else self.seller_name

    @property
    def counterparty_nip(self) -> str:
        return self.buyer_nip if self.direction == Direction.SALES else self.seller_nip


@dataclass(frozen=True)
class InvoicePage:
    invoices: list[ListedInvoice]
    next_cursor: Cursor | None


def invoice_list_queryset(*, company: Company, filters: InvoiceFilters) -> QuerySet[Invoice]:
    qs = invoices_for_company(company=company).filter(direction=filters.direction)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.ksef_status in STATUS_GROUPS:
        qs = qs.filter(ksef_status__in=STATUS_GROUPS[filters.ksef_status])
    elif filters.ksef_status:
        qs = qs.filter(ksef_status=filters.ksef_status)
    if filters.only_new:
        qs = qs.filter(is_new=True)
    if filters.date_from:
        qs = qs.filter(issue_date__gte=filters.date_from)
    if filters.date_to:
        qs = qs.filter(issue_date__lte=filters.date_to)
    if filters.amount_from is not None:
        qs = qs.filter(total_gross__gte=filters.amount_from)
    if filters.amount_to is not None:
        qs = qs.filter(total_gross__lte=filters.amount_to)
    text = filters.contractor.strip()
    if text:
        party = "buyer" if filters.direction == Direction.SALES else "seller"
        digits = text.replace("-", "").replace(" ", "")
        if digits.isdigit():
            qs = qs.filter(**{f"{party}_nip__startswith": digits})
        else:
            qs = qs.filter(ContainsAnyCase(F(f"{party}_name"), text))
    return qs


def _page_queryset(qs: QuerySet[Invoice], after: Cursor | None, page_size: int) -> Any:
    if after is not None:
        qs = qs.filter(issue_date__lte=after.issue_date).filter(
            Q(issue_date__lt=after.issue_date) | Q(issue_date=after.issue_date, id__lt=after.id)
        )
    return qs.order_by("-issue_date", "-id").values_list(*LIST_FIELDS)[: page_size + 1]


def invoice_list(
    *, company: Company, filters: InvoiceFilters, after: Cursor | None = None, page_size: int = PAGE_SIZE
) -> InvoicePage:
    """One page of the list, newest first, continuing after ``after`` by seek (keyset) pagination.

    No OFFSET and no COUNT: the page costs the same on page 1 and page 2,000. ``issue_date <= d`` repeats
    part of the seek condition on purpose — it is what lets the database start the index scan at the cursor
    instead of filtering every row before it.
    """
    fetched = _page_queryset(invoice_list_queryset(company=company, filters=filters), after, page_size)
    rows = [ListedInvoice._make(row) for row in fetched]
    next_cursor = None
    if len(rows) > page_size:
        rows = rows[:page_size]
        next_cursor = Cursor(rows[-1].issue_date, rows[-1].id)
    return InvoicePage(invoices=rows, next_cursor=next_cursor)

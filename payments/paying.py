"""Paying accepted purchase invoices: the transfer file (Elixir-O or pain.001, built by
``payments.transfers``) kept as a ``PaymentFile``, and a bank statement (MT940 or camt.053) that marks the
invoices it pays."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Company, Membership
from invoices.models import Invoice
from invoices.selectors import last_sales_bank_account
from payments import inbox, transfers
from payments.models import PaymentFile, PaymentFileFormat, PurchaseEntry, PurchaseEvent, PurchaseStatus
from payments.transfers.errors import Problem
from payments.transfers.matching import title_ksef_numbers
from payments.transfers.model import NAME_MAX
from payments.transfers.titles import LINE_LENGTH, MPP_TXT_MAX
from payments.whitelist import latest_checks, payment_block

STATEMENT_MAX_BYTES = 5 * 1024 * 1024
EXTENSIONS = {PaymentFileFormat.ELIXIR: "pli", PaymentFileFormat.PAIN001: "xml"}
CONTENT_TYPES = {
    PaymentFileFormat.ELIXIR: "text/plain; charset=windows-1250",
    PaymentFileFormat.PAIN001: "application/xml",
}


class PayError(ValueError):
    """The file cannot be made; ``problems`` are (invoice or None, message) pairs, in the user's language."""

    def __init__(self, problems: list[tuple[Invoice | None, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(message for _invoice, message in problems))


@dataclass
class PayPlan:
    """The selected invoices sorted: what goes into the file, what the white list blocks, what waits."""

    payable: list[Invoice] = field(default_factory=list)
    blocked: list[tuple[Invoice, str]] = field(default_factory=list)
    not_ready: list[tuple[Invoice, str]] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((invoice.total_gross for invoice in self.payable), Decimal("0.00"))


def pay_plan(*, invoices: Sequence[Invoice]) -> PayPlan:
    plan = PayPlan()
    checks = latest_checks(invoices)
    for invoice in invoices:
        status = inbox.status_of(invoice)
        if status != PurchaseStatus.ACCEPTED:
            plan.not_ready.append(
                (invoice, _("only accepted invoices are paid; this one is %(status)s")
                 % {"status": PurchaseStatus(status).label})
            )  # fmt: skip
            continue
        block = payment_block(invoice, checks=checks)
        if block:
            plan.blocked.append((invoice, block))
            continue
        plan.payable.append(invoice)
    return plan


def payer_account_default(*, company: Company) -> str:
    """The company's own account as its latest sales invoice states it."""
    return last_sales_bank_account(company=company)


def _fit(text: str, limit: int) -> str:
    return " ".join(text.split())[:limit].strip()


def _transfer(invoice: Invoice, execution_date: dt.date) -> transfers.Transfer:
    """One transfer per invoice: its KSeF number in the title (the invoice number when it has none), the
    split-payment message for an MPP invoice, to the account the invoice states."""
    reference = invoice.ksef_number or invoice.number
    if invoice.split_payment:
        text = _fit(invoice.number, MPP_TXT_MAX) if invoice.ksef_number else ""
        title = text
    elif invoice.ksef_number:
        title = transfers.ksef_title([invoice.ksef_number])
    else:
        title = _fit(invoice.number, 140)
    address = tuple(
        _fit(line, LINE_LENGTH)
        for line in (invoice.seller_address_line1, invoice.seller_address_line2)
        if line
    )
    return transfers.Transfer(
        payee_name=_fit(invoice.seller_name, NAME_MAX),
        payee_account=invoice.bank_account,
        amount=invoice.total_gross,
        title=title,
        execution_date=execution_date,
        currency=invoice.currency,
        payee_address=address[:2],
        split_payment=invoice.split_payment,
        vat_amount=invoice.total_vat,
        seller_nip=invoice.seller_nip,
        invoice_number=reference,
    )


def _plain(problem: Problem) -> str:
    return dataclasses.replace(problem, index=None).message


def payment_file_create(
    *,
    membership: Membership,
    invoices: Sequence[Invoice],
    payer_account: str,
    execution_date: dt.date,
    file_format: str,
    today: dt.date | None = None,
) -> PaymentFile:
    """The transfer file for the accepted, unblocked ``invoices``; they become "in a payment file".
    Raises PayError (nothing changes) when an invoice or the payer's data cannot go into a bank file."""
    if not inbox.may_act(membership):
        raise PayError([(None, _("Only an owner or an accountant can change purchase invoices."))])
    company = membership.company
    plan = pay_plan(invoices=invoices)
    if not plan.payable:
        raise PayError([(None, _("None of the selected invoices can be paid now."))])
    today = today or timezone.localdate()
    problems: list[tuple[Invoice | None, str]] = []
    rows: list[transfers.Transfer] = []
    payable: list[Invoice] = []
    for invoice in plan.payable:
        try:
            rows.append(_transfer(invoice, execution_date))
            payable.append(invoice)
        except transfers.PaymentFileError as exc:
            problems += [(invoice, _plain(p)) for p in exc.problems]
    payer = transfers.Payer(
        name=_fit(company.name, NAME_MAX),
        account=payer_account,
        address=tuple(
            _fit(line, LINE_LENGTH) for line in (company.address_line1, company.address_line2) if line
        ),
    )
    content = b""
    try:
        if file_format == PaymentFileFormat.PAIN001:
            content = transfers.pain001_build(payer, rows, today=today)
        else:
            content = transfers.elixir_build(payer, rows, today=today)
    except transfers.PaymentFileError as exc:
        problems += [(payable[p.index] if p.index is not None else None, _plain(p)) for p in exc.problems]
    if problems:
        raise PayError(problems)
    now = timezone.now()
    filename = (
        f"przelewy-{timezone.localtime(now):%Y%m%d-%H%M%S}.{EXTENSIONS[PaymentFileFormat(file_format)]}"
    )
    with transaction.atomic():
        entries = PurchaseEntry.objects.select_for_update().filter(
            company=company, invoice_id__in=[invoice.pk for invoice in payable]
        )
        if sum(1 for entry in entries if entry.status == PurchaseStatus.ACCEPTED) != len(payable):
            raise PayError([(None, _("Someone changed these invoices meanwhile; select them again."))])
        payment_file = PaymentFile.objects.create(
            company=company,
            format=file_format,
            filename=filename,
            content=content,
            payer_account=transfers.nrb_normalize(payer_account, field="payer_account"),
            execution_date=execution_date,
            transfer_count=len(rows),
            total=sum((invoice.total_gross for invoice in payable), Decimal("0.00")),
            created_by=membership.user,
            created_at=now,
        )
        PurchaseEntry.objects.filter(pk__in=[entry.pk for entry in entries]).update(
            status=PurchaseStatus.IN_FILE,
            payment_file=payment_file,
            changed_by=membership.user,
            changed_at=now,
        )
        PurchaseEvent.objects.bulk_create(
            [
                PurchaseEvent(
                    invoice=invoice,
                    company=company,
                    kind=PurchaseEvent.Kind.STATUS,
                    status=PurchaseStatus.IN_FILE,
                    text=filename,
                    user=membership.user,
                    created_at=now,
                )
                for invoice in payable
            ]
        )
    return payment_file


def payment_files(*, company: Company) -> list[PaymentFile]:
    return list(
        PaymentFile.objects.filter(company=company).defer("content").select_related("created_by")[:100]
    )


def payment_file_get(*, company: Company, file_uuid: uuid.UUID | str) -> PaymentFile | None:
    return PaymentFile.objects.filter(company=company, uuid=file_uuid).select_related("created_by").first()


def payment_file_invoices(*, payment_file: PaymentFile) -> list[Invoice]:
    return list(
        Invoice.objects.filter(company_id=payment_file.company_id, purchase_entry__payment_file=payment_file)
        .select_related("purchase_entry")
        .order_by("-issue_date", "-id")
    )


# --- bank statements ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementRow:
    """One line of the import's report."""

    outcome: str  # "paid" | "partial" | "overpaid" | "unmatched" | "already_paid"
    message: str
    entries: tuple[transfers.StatementEntry, ...]
    invoice: Invoice | None = None


@dataclass
class StatementReport:
    rows: list[StatementRow] = field(default_factory=list)
    entry_count: int = 0

    @property
    def paid(self) -> list[StatementRow]:
        return [row for row in self.rows if row.outcome == "paid"]


def statement_import(*, membership: Membership, data: bytes) -> StatementReport:
    """Read a statement and mark paid every open purchase invoice whose payment it shows (KSeF number in
    the title and the amount equal, per ``payments.transfers.match_payments``). Partial, excess and
    unmatched payments are reported and change nothing. Raises ``transfers.PaymentFileError`` for a file
    that is not a statement we can read."""
    if not inbox.may_act(membership):
        raise inbox.InboxError(_("Only an owner or an accountant can change purchase invoices."))
    if len(data) > STATEMENT_MAX_BYTES:
        raise inbox.InboxError(
            _("The file is larger than %(size)s MB; a daily statement is far smaller.")
            % {"size": STATEMENT_MAX_BYTES // (1024 * 1024)}
        )
    statements = transfers.statement_parse(data)
    entries = [entry for statement in statements for entry in statement.entries]
    company = membership.company
    numbers = {n for entry in entries if entry.is_debit for n in title_ksef_numbers(entry.title)}
    open_invoices = {
        invoice.ksef_number: invoice
        for invoice in inbox.purchases_in_statuses(
            company=company, statuses=inbox.OPEN_STATUSES, numbers=numbers
        )
        if invoice.ksef_number
    }
    paid_before = {
        invoice.ksef_number: invoice
        for invoice in inbox.purchases_in_statuses(
            company=company, statuses=(PurchaseStatus.PAID,), numbers=numbers
        )
        if invoice.ksef_number
    }
    candidates = [
        transfers.OpenInvoice(
            ksef_number=number,
            amount=invoice.total_gross,
            currency=invoice.currency,
            seller_account=invoice.bank_account,
        )
        for number, invoice in open_invoices.items()
    ]
    match = transfers.match_payments(entries, candidates)
    report = StatementReport(entry_count=len(entries))
    to_mark: list[tuple[Invoice, dt.date, str]] = []
    for found in match.invoices:
        invoice = open_invoices[found.invoice.ksef_number.strip().upper()]
        report.rows.append(StatementRow(found.status, found.message, found.entries, invoice))
        if found.status == "paid":
            last = max(found.entries, key=lambda entry: entry.booking_date)
            references = ", ".join(dict.fromkeys(e.bank_reference for e in found.entries if e.bank_reference))
            to_mark.append((invoice, last.booking_date, references))
    for finding in match.entries:
        named = [paid_before[n] for n in finding.numbers if n in paid_before]
        if finding.reason == "unknown_invoice" and named and len(named) == len(finding.numbers):
            report.rows.append(
                StatementRow(
                    "already_paid",
                    _("Already marked paid: %(numbers)s.") % {"numbers": inbox.describe(named)},
                    (finding.entry,),
                    named[0],
                )
            )
            continue
        report.rows.append(StatementRow("unmatched", finding.message, (finding.entry,)))
    if to_mark:
        inbox.purchases_mark_paid_from_statement(company=company, user=membership.user, paid=to_mark)
    order = {"paid": 0, "partial": 1, "overpaid": 2, "unmatched": 3, "already_paid": 4}
    report.rows.sort(key=lambda row: order[row.outcome])
    return report

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
from invoices.collective import CollectiveAnswer, CollectiveLater, collective_identifier_issue
from invoices.models import Invoice
from invoices.selectors import last_sales_bank_account
from ksef_integration.ksef.collective import DEFAULT_MAX_INVOICES as COLLECTIVE_MAX
from ksef_integration.ksef.collective import MIN_INVOICES
from payments import inbox, queue, transfers
from payments.models import (
    CollectiveTransfer,
    PaymentFile,
    PaymentFileFormat,
    PaymentFileStatus,
    PurchaseEntry,
    PurchaseEvent,
    PurchaseStatus,
)
from payments.transfers.errors import Problem
from payments.transfers.matching import title_collective_ids, title_ksef_numbers
from payments.transfers.model import NAME_MAX
from payments.transfers.titles import LINE_LENGTH, MPP_TXT_MAX, TITLE_LINES
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

    @property
    def totals(self) -> dict[str, Decimal]:
        """The total in each currency (an invoice is paid in its own currency)."""
        return _totals(self.payable)


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


def _account_key(account: str) -> str:
    compact = "".join(account.split()).replace("-", "").upper()
    return compact[2:] if compact.startswith("PL") and compact[2:].isdigit() else compact


def collective_groups(invoices: Sequence[Invoice]) -> list[list[Invoice]]:
    """Invoices one transfer may pay together: of one seller (NIP), to one account, in one currency, each with
    a KSeF number and none a split payment (the MPP message's /INV/ names one invoice), 2 to 500 at a time
    (KSeF's limit for a collective identifier). In the order the invoices come."""
    by_key: dict[tuple[str, str, str], list[Invoice]] = {}
    for invoice in invoices:
        if invoice.split_payment or not invoice.ksef_number or not invoice.bank_account:
            continue
        key = (invoice.seller_nip, _account_key(invoice.bank_account), invoice.currency)
        by_key.setdefault(key, []).append(invoice)
    groups = []
    for members in by_key.values():
        for start in range(0, len(members), COLLECTIVE_MAX):
            chunk = members[start : start + COLLECTIVE_MAX]
            if len(chunk) >= MIN_INVOICES:
                groups.append(chunk)
    return groups


def _group_transfers(
    members: Sequence[Invoice], execution_date: dt.date, identifier: str = ""
) -> list[transfers.Transfer]:
    """One transfer for ``members`` titled with the collective identifier; without one, a transfer per four
    invoices (four 35-character KSeF numbers fill the 4x35 title), each for the sum of its invoices."""
    first = members[0]
    address = tuple(
        _fit(line, LINE_LENGTH) for line in (first.seller_address_line1, first.seller_address_line2) if line
    )
    numbers = [invoice.ksef_number or "" for invoice in members]
    if identifier:
        chunks = [list(members)]
    else:
        chunks = [list(members[i : i + TITLE_LINES]) for i in range(0, len(members), TITLE_LINES)]
    rows = []
    for chunk in chunks:
        title = (
            transfers.ksef_title(numbers, collective_id=identifier)
            if identifier
            else transfers.ksef_title([invoice.ksef_number or "" for invoice in chunk])
        )
        rows.append(
            transfers.Transfer(
                payee_name=_fit(first.seller_name, NAME_MAX),
                payee_account=first.bank_account,
                amount=sum((invoice.total_gross for invoice in chunk), Decimal("0.00")),
                title=title,
                execution_date=execution_date,
                currency=first.currency,
                payee_address=address[:2],
            )
        )
    return rows


@dataclass
class _Rows:
    transfers: list[transfers.Transfer] = field(default_factory=list)
    owners: list[Invoice] = field(default_factory=list)  # the (first) invoice of each transfer
    problems: list[tuple[Invoice | None, str]] = field(default_factory=list)


def _rows(
    invoices: Sequence[Invoice],
    groups: Sequence[Sequence[Invoice]],
    execution_date: dt.date,
    identifiers: Sequence[str] = (),
) -> _Rows:
    """The transfers of a file: one per invoice outside ``groups``, then the groups' (``identifiers[i]``
    titles group ``i``; an empty one falls back to the KSeF numbers)."""
    result = _Rows()
    grouped = {invoice.pk for group in groups for invoice in group}
    for invoice in invoices:
        if invoice.pk in grouped:
            continue
        try:
            result.transfers.append(_transfer(invoice, execution_date))
            result.owners.append(invoice)
        except transfers.PaymentFileError as exc:
            result.problems += [(invoice, _plain(p)) for p in exc.problems]
    for index, group in enumerate(groups):
        identifier = identifiers[index] if index < len(identifiers) else ""
        try:
            made = _group_transfers(group, execution_date, identifier)
        except transfers.PaymentFileError as exc:
            result.problems += [(group[0], _plain(p)) for p in exc.problems]
            continue
        result.transfers += made
        result.owners += [group[0]] * len(made)
    return result


def _payer(company: Company, payer_account: str) -> transfers.Payer:
    return transfers.Payer(
        name=_fit(company.name, NAME_MAX),
        account=payer_account,
        address=tuple(
            _fit(line, LINE_LENGTH) for line in (company.address_line1, company.address_line2) if line
        ),
    )


def _build(file_format: str, payer: transfers.Payer, rows: _Rows, today: dt.date | None) -> bytes:
    """The file's bytes; raises PayError with every problem (the invoice each belongs to)."""
    problems = list(rows.problems)
    content = b""
    try:
        if file_format == PaymentFileFormat.PAIN001:
            content = transfers.pain001_build(payer, rows.transfers, today=today)
        else:
            content = transfers.elixir_build(payer, rows.transfers, today=today)
    except transfers.PaymentFileError as exc:
        problems += [(rows.owners[p.index] if p.index is not None else None, _plain(p)) for p in exc.problems]
    if problems:
        raise PayError(problems)
    return content


def _totals(invoices: Sequence[Invoice]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for invoice in invoices:
        totals[invoice.currency] = totals.get(invoice.currency, Decimal("0.00")) + invoice.total_gross
    return totals


def payment_file_create(
    *,
    membership: Membership,
    invoices: Sequence[Invoice],
    payer_account: str,
    execution_date: dt.date,
    file_format: str,
    today: dt.date | None = None,
    collective: bool = False,
) -> PaymentFile:
    """The transfer file for the accepted, unblocked ``invoices``; they become "in a payment file".
    Raises PayError (nothing changes) when an invoice or the payer's data cannot go into a bank file.

    With ``collective``, the invoices ``collective_groups`` finds are paid one transfer per group: the file
    is made at once with their KSeF numbers in the titles to find every problem now, then kept "preparing"
    while the worker asks KSeF for each group's collective identifier (``collective_identifiers_run``)
    and writes the file with them."""
    if not inbox.may_act(membership):
        raise PayError([(None, _("Only an owner or an accountant can change purchase invoices."))])
    company = membership.company
    plan = pay_plan(invoices=invoices)
    if not plan.payable:
        raise PayError([(None, _("None of the selected invoices can be paid now."))])
    today = today or timezone.localdate()
    payable = plan.payable
    groups = collective_groups(payable) if collective else []
    rows = _rows(payable, groups, execution_date)
    content = _build(file_format, _payer(company, payer_account), rows, today)
    now = timezone.now()
    filename = (
        f"przelewy-{timezone.localtime(now):%Y%m%d-%H%M%S}.{EXTENSIONS[PaymentFileFormat(file_format)]}"
    )
    totals = _totals(payable)
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
            content=b"" if groups else content,
            status=PaymentFileStatus.PREPARING if groups else PaymentFileStatus.READY,
            payer_account=transfers.nrb_normalize(payer_account, field="payer_account"),
            execution_date=execution_date,
            transfer_count=len(payable) - sum(len(g) for g in groups) + len(groups),
            total=totals.get("PLN", Decimal("0.00")) if len(totals) != 1 else next(iter(totals.values())),
            totals={currency: str(amount) for currency, amount in totals.items()},
            created_by=membership.user,
            created_at=now,
        )
        CollectiveTransfer.objects.bulk_create(
            CollectiveTransfer(
                company=company,
                payment_file=payment_file,
                seller_nip=group[0].seller_nip,
                ksef_numbers=[invoice.ksef_number for invoice in group],
                invoice_ids=[invoice.pk for invoice in group],
            )
            for group in groups
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
        if groups:
            queue.collective_identifiers_enqueue(payment_file_id=payment_file.pk)
    return payment_file


def collective_identifiers_run(*, payment_file_id: int, give_up: bool = False) -> str:
    """The worker's part of "one transfer for all": ask KSeF (through ``invoices.collective``'s hook, which
    takes the company lock) for each waiting group's identifier, keep each answer as it comes, then write
    the file. Raises ``CollectiveLater`` to be run again; with ``give_up`` a group KSeF did not answer
    falls back to its KSeF numbers."""
    payment_file = PaymentFile.objects.filter(pk=payment_file_id, status=PaymentFileStatus.PREPARING).first()
    if payment_file is None:
        return "not preparing"
    for row_id in payment_file.collective.filter(state=CollectiveTransfer.State.PENDING).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            row = (
                CollectiveTransfer.objects.select_for_update(skip_locked=True)
                .filter(pk=row_id, state=CollectiveTransfer.State.PENDING)
                .first()
            )
            if row is None:
                continue  # another run has it
            members = Invoice.objects.filter(company_id=row.company_id, pk__in=row.invoice_ids)
            asked = [
                (invoice.ksef_number or "", invoice.total_gross, invoice.currency) for invoice in members
            ]
            try:
                answer = collective_identifier_issue(company_id=row.company_id, invoices=asked)
            except CollectiveLater:
                if not give_up:
                    raise
                answer = CollectiveAnswer(refusal=_("KSeF did not answer in time."))
            identifier = answer.identifier.strip().upper()
            if identifier and (
                not transfers.collective_id_is_valid(identifier) or identifier[:10] != row.seller_nip[:10]
            ):
                answer = CollectiveAnswer(
                    refusal=_("KSeF sent an identifier that does not fit these invoices.")
                )
                identifier = ""
            row.state = CollectiveTransfer.State.ISSUED if identifier else CollectiveTransfer.State.REFUSED
            row.identifier = identifier
            row.message = answer.refusal[:500]
            row.answered_at = timezone.now()
            row.save(update_fields=["state", "identifier", "message", "answered_at"])
    return payment_file_finish(payment_file_id=payment_file_id)


def payment_file_finish(*, payment_file_id: int) -> str:
    """Write a preparing file once KSeF answered for every group (identifier, or the KSeF numbers)."""
    with transaction.atomic():
        payment_file = (
            PaymentFile.objects.select_for_update()
            .select_related("company")
            .filter(pk=payment_file_id, status=PaymentFileStatus.PREPARING)
            .first()
        )
        if payment_file is None:
            return "not preparing"
        rows_of_groups = list(payment_file.collective.all())
        if any(row.state == CollectiveTransfer.State.PENDING for row in rows_of_groups):
            return "waiting"
        invoices = list(
            Invoice.objects.filter(
                company_id=payment_file.company_id, purchase_entry__payment_file=payment_file
            ).order_by("id")
        )
        by_id = {invoice.pk: invoice for invoice in invoices}
        groups = [[by_id[pk] for pk in row.invoice_ids if pk in by_id] for row in rows_of_groups]
        identifiers = [row.identifier for row in rows_of_groups]
        payer = _payer(payment_file.company, payment_file.payer_account)
        rows = _rows(invoices, groups, payment_file.execution_date, identifiers)
        try:
            content = _build(payment_file.format, payer, rows, None)
        except PayError:
            # Checked with the KSeF numbers when it was asked for; an identifier (35 characters) fits any
            # title, so this is not expected: write it as it was checked.
            rows = _rows(invoices, groups, payment_file.execution_date)
            content = _build(payment_file.format, payer, rows, None)
        payment_file.content = content
        payment_file.status = PaymentFileStatus.READY
        payment_file.transfer_count = len(rows.transfers)
        payment_file.save(update_fields=["content", "status", "transfer_count"])
    return "ready"


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
    # A transfer titled with a collective identifier we asked KSeF for pays the invoices we asked it for.
    identifiers = {i for entry in entries if entry.is_debit for i in title_collective_ids(entry.title)}
    collective = {
        row.identifier: tuple(row.ksef_numbers)
        for row in CollectiveTransfer.objects.filter(
            company=company, identifier__in=identifiers, state=CollectiveTransfer.State.ISSUED
        )
    }
    numbers |= {n for members in collective.values() for n in members}
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
    match = transfers.match_payments(entries, candidates, collective=collective)
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

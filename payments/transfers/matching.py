"""Which open invoices a bank statement pays: by the KSeF number (or collective id) in the title and amount.

Nothing is guessed. An invoice is paid only when a debit's title names its KSeF number (checked with its
CRC-8) or a collective identifier whose invoices the caller knows, and the amounts agree:

- one invoice named: the payments naming it add up to its amount → ``paid`` (one payment or several);
  less → ``partial``; more → ``overpaid`` (for a person to look at);
- several invoices named (their numbers, or a collective identifier): the payment must equal their total,
  then each is paid in full; otherwise the entry is reported (``amounts_do_not_add_up``) and nothing is
  applied — which invoice got how much is not ours to invent;
- a different currency, or money sent to another account than the seller's known one, is reported, not
  applied; a title naming an invoice we do not have open, no KSeF number at all, or a credit (incoming
  money) leaves the entry unmatched with its reason.

Amounts equal to an open invoice but without its number in the title are never matched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

from ksef_integration.ksef.numbers import ksef_number_is_valid

from .accounts import nrb_problem
from .amounts import Amount, grosze_format, to_grosze
from .statements import StatementEntry
from .titles import collective_id_is_valid

REASONS: Mapping[str, StrOrPromise] = {
    "paid": _("The title names the invoice's KSeF number and the amount is equal."),
    "paid_in_parts": _("%(count)s payments name the invoice's KSeF number and together pay it in full."),
    "paid_together": _("The title names %(count)s invoices and the amount equals their total."),
    "paid_collective": _(
        "The title names the collective identifier %(identifier)s and the amount equals its invoices' total."
    ),
    "partial": _("Payments naming the invoice add up to %(paid)s of %(amount)s."),
    "overpaid": _("Payments naming the invoice add up to %(paid)s, more than its %(amount)s."),
    "not_a_payment": _("Money coming in, not a payment of ours."),
    "no_ksef_number": _("The title names no KSeF number or collective identifier."),
    "unknown_invoice": _("The title names %(numbers)s, which is not among the open invoices."),
    "collective_unknown": _(
        "The title names the collective identifier %(identifier)s, whose invoices are not known."
    ),
    "currency_differs": _("The payment is in %(currency)s, the invoice in %(invoice_currency)s."),
    "account_differs": _("The money went to %(account)s, not to the seller's account %(seller_account)s."),
    "amounts_do_not_add_up": _(
        "The title names %(count)s invoices totalling %(total)s, but %(amount)s was paid."
    ),
}

_KSEF_IN_TEXT = re.compile(r"\d{10}-\d{8}-[0-9A-F]{12}-[0-9A-F]{2}", re.IGNORECASE)
_IZ_IN_TEXT = re.compile(r"\d{10}-IZ\d{6}-[0-9A-F]{12}-[0-9A-F]{2}", re.IGNORECASE)


@dataclass(frozen=True)
class OpenInvoice:
    """An unpaid purchase invoice: KSeF number, amount due (grosze int or Decimal), the seller's account."""

    ksef_number: str
    amount: Amount
    currency: str = "PLN"
    seller_account: str = ""


@dataclass(frozen=True)
class InvoiceMatch:
    invoice: OpenInvoice
    status: str  # "paid" | "partial" | "overpaid"
    entries: tuple[StatementEntry, ...]
    paid: int
    reason: str
    params: Mapping[str, object] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return str(REASONS[self.reason]) % dict(self.params)


@dataclass(frozen=True)
class EntryFinding:
    """A statement entry that pays nothing automatically, and why."""

    entry: StatementEntry
    reason: str
    numbers: tuple[str, ...] = ()
    params: Mapping[str, object] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return str(REASONS[self.reason]) % dict(self.params)


@dataclass(frozen=True)
class MatchReport:
    invoices: tuple[InvoiceMatch, ...]
    entries: tuple[EntryFinding, ...]

    def with_status(self, status: str) -> tuple[InvoiceMatch, ...]:
        return tuple(m for m in self.invoices if m.status == status)

    @property
    def paid(self) -> tuple[InvoiceMatch, ...]:
        return self.with_status("paid")

    @property
    def partial(self) -> tuple[InvoiceMatch, ...]:
        return self.with_status("partial")

    @property
    def overpaid(self) -> tuple[InvoiceMatch, ...]:
        return self.with_status("overpaid")


def title_ksef_numbers(title: str) -> tuple[str, ...]:
    """Valid KSeF numbers in a title, in order, once each (upper-cased; the CRC-8 weeds out look-alikes)."""
    found = (m.group(0).upper() for m in _KSEF_IN_TEXT.finditer(title))
    return tuple(dict.fromkeys(n for n in found if ksef_number_is_valid(n)))


def title_collective_ids(title: str) -> tuple[str, ...]:
    found = (m.group(0).upper() for m in _IZ_IN_TEXT.finditer(title))
    return tuple(dict.fromkeys(n for n in found if collective_id_is_valid(n)))


def _same_account(left: str, right: str) -> bool:
    def norm(value: str) -> str:
        compact = "".join(value.split()).upper()
        return compact[2:] if compact.startswith("PL") and nrb_problem(compact) is None else compact

    return norm(left) == norm(right)


def match_payments(
    entries: list[StatementEntry] | tuple[StatementEntry, ...],
    invoices: list[OpenInvoice] | tuple[OpenInvoice, ...],
    *,
    collective: Mapping[str, tuple[str, ...] | list[str]] | None = None,
) -> MatchReport:
    """Which ``invoices`` the debit ``entries`` pay. ``collective`` maps known collective identifiers to their
    KSeF numbers (from KSeF's ``/collective-identifiers/invoices``)."""
    by_number = {inv.ksef_number.strip().upper(): inv for inv in invoices}
    due = {number: to_grosze(inv.amount) for number, inv in by_number.items()}
    collective_map = {k.upper(): tuple(n.upper() for n in v) for k, v in (collective or {}).items()}
    single: dict[str, list[StatementEntry]] = {}
    together: dict[str, list[tuple[StatementEntry, str, dict[str, object]]]] = {}
    findings: list[EntryFinding] = []

    for entry in entries:
        if not entry.is_debit:
            findings.append(EntryFinding(entry, "not_a_payment"))
            continue
        paid = -entry.amount
        numbers = list(title_ksef_numbers(entry.title))
        identifiers = title_collective_ids(entry.title)
        unknown_ids = [i for i in identifiers if i not in collective_map]
        if unknown_ids:
            findings.append(
                EntryFinding(entry, "collective_unknown", tuple(numbers), {"identifier": unknown_ids[0]})
            )
            continue
        for identifier in identifiers:
            numbers += [n for n in collective_map[identifier] if n not in numbers]
        if not numbers:
            findings.append(EntryFinding(entry, "no_ksef_number"))
            continue
        unknown = [n for n in numbers if n not in by_number]
        if unknown:
            findings.append(
                EntryFinding(entry, "unknown_invoice", tuple(numbers), {"numbers": ", ".join(unknown)})
            )
            continue
        targets = [by_number[n] for n in numbers]
        wrong_currency = next((t for t in targets if t.currency.upper() != entry.currency.upper()), None)
        if wrong_currency is not None:
            findings.append(
                EntryFinding(
                    entry,
                    "currency_differs",
                    tuple(numbers),
                    {"currency": entry.currency, "invoice_currency": wrong_currency.currency},
                )
            )
            continue
        wrong_account = next(
            (
                t
                for t in targets
                if t.seller_account
                and entry.counterparty_account
                and not _same_account(t.seller_account, entry.counterparty_account)
            ),
            None,
        )
        if wrong_account is not None:
            findings.append(
                EntryFinding(
                    entry,
                    "account_differs",
                    tuple(numbers),
                    {"account": entry.counterparty_account, "seller_account": wrong_account.seller_account},
                )
            )
            continue
        if len(numbers) == 1:
            single.setdefault(numbers[0], []).append(entry)
            continue
        total = sum(due[n] for n in numbers)
        if paid != total:
            findings.append(
                EntryFinding(
                    entry,
                    "amounts_do_not_add_up",
                    tuple(numbers),
                    {
                        "count": len(numbers),
                        "total": grosze_format(total, separator=","),
                        "amount": grosze_format(paid, separator=","),
                    },
                )
            )
            continue
        reason, params = (
            ("paid_collective", {"identifier": identifiers[0]}) if identifiers else ("paid_together", {})
        )
        for number in numbers:
            together.setdefault(number, []).append((entry, reason, {"count": len(numbers), **params}))

    results = []
    for number, invoice in by_number.items():
        from_single = single.get(number, [])
        from_together = together.get(number, [])
        if not from_single and not from_together:
            continue
        paid = -sum(e.amount for e in from_single) + due[number] * len(from_together)
        used = tuple(from_single) + tuple(e for e, _, _ in from_together)
        amount = due[number]
        money = {"paid": grosze_format(paid, separator=","), "amount": grosze_format(amount, separator=",")}
        if paid < amount:
            results.append(InvoiceMatch(invoice, "partial", used, paid, "partial", money))
        elif paid > amount:
            results.append(InvoiceMatch(invoice, "overpaid", used, paid, "overpaid", money))
        elif from_together and not from_single:
            _, together_reason, together_params = from_together[0]
            results.append(InvoiceMatch(invoice, "paid", used, paid, together_reason, together_params))
        elif len(used) == 1:
            results.append(InvoiceMatch(invoice, "paid", used, paid, "paid"))
        else:
            results.append(InvoiceMatch(invoice, "paid", used, paid, "paid_in_parts", {"count": len(used)}))
    return MatchReport(invoices=tuple(results), entries=tuple(findings))

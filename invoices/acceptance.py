"""The hook that answers "would KSeF accept this invoice?" before it is saved and numbered.

``acceptance_check`` is a settable callable ``(invoice, lines) -> list[Issue]`` that gets an unsaved invoice
and its unsaved lines (a correction's "before" lines first, then the "after" ones). By default nothing is
checked; ksef_integration sets it at start-up to build the FA(3) file and run the XSD and its semantic
checks, so ``invoices`` refuses in the form what KSeF would refuse later, without importing any KSeF code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from invoices.models import Invoice, InvoiceLine


@dataclass(frozen=True)
class Issue:
    """One reason the invoice would be refused, with where the form should show it.

    ``field`` names a field of the invoice form ("issue_date", "exemption_text", ...) or, with ``line`` set,
    of a line form ("quantity", "unit_price", ...); ``line`` is the 0-based index into the lines given to
    the check. Both None: the message belongs to the whole invoice.
    """

    message: str
    field: str | None = None
    line: int | None = None


AcceptanceCheck = Callable[["Invoice", Sequence["InvoiceLine"]], Sequence[Issue]]


def no_checks(invoice: Invoice, lines: Sequence[InvoiceLine]) -> list[Issue]:
    return []


acceptance_check: AcceptanceCheck = no_checks


def set_acceptance_check(check: AcceptanceCheck | None) -> AcceptanceCheck:
    """Install ``check`` (None restores the default) and return the previous one."""
    global acceptance_check
    previous = acceptance_check
    acceptance_check = check or no_checks
    return previous


def acceptance_issues(*, invoice: Invoice, lines: Sequence[InvoiceLine]) -> list[Issue]:
    return list(acceptance_check(invoice, lines))

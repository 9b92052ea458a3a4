"""The hook through which paying asks KSeF for a collective identifier (identyfikator zbiorczy) without
importing any KSeF code.

``collective_issuer`` is a settable callable ``(company_id, invoices) -> CollectiveAnswer``: ``invoices``
are (KSeF number, amount, currency) of 2-500 invoices of one seller. ksef_integration installs it at start-up
(``ksef_integration.collective``): it talks to KSeF under the company lock, so it is called only from a
worker, never from a web request. By default (no KSeF integration installed) every request is refused.
The answer is an identifier, or a refusal in the user's words; ``CollectiveLater`` means "try again in
``countdown`` seconds" (the company is busy, KSeF is slow or limits the requests).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _


@dataclass(frozen=True)
class CollectiveAnswer:
    identifier: str = ""
    refusal: str = ""


class CollectiveLater(Exception):
    """Not now: ask again after ``countdown`` seconds."""

    def __init__(self, message: str, *, countdown: float) -> None:
        super().__init__(message)
        self.countdown = countdown


CollectiveIssuer = Callable[[int, Sequence[tuple[str, Decimal, str]]], CollectiveAnswer]


def no_issuer(company_id: int, invoices: Sequence[tuple[str, Decimal, str]]) -> CollectiveAnswer:
    return CollectiveAnswer(refusal=_("The portal is not connected to KSeF."))


collective_issuer: CollectiveIssuer = no_issuer


def set_collective_issuer(issuer: CollectiveIssuer | None) -> CollectiveIssuer:
    """Install ``issuer`` (None restores the default) and return the previous one."""
    global collective_issuer
    previous = collective_issuer
    collective_issuer = issuer or no_issuer
    return previous


def collective_identifier_issue(
    *, company_id: int, invoices: Sequence[tuple[str, Decimal, str]]
) -> CollectiveAnswer:
    """Ask KSeF for one identifier of ``invoices``; raises ``CollectiveLater`` to be asked again."""
    return collective_issuer(company_id, invoices)

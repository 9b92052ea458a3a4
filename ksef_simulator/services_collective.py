"""Collective identifiers (identyfikatory zbiorcze, API 2.7.0+): one number for several invoices of one
seller, which a single bank transfer's title may carry instead of their KSeF numbers.

The rules, from open-api-2.9.0's descriptions: at least 2 invoices and at most the context's limit
(``GET /limits/context`` ``collectiveIdentifier.maxInvoices``, 500 by default); every invoice exists and the
context may see it (it is a party to it), else 71001; all of one seller (Podmiot1), else 71004; no KSeF
number twice, else 71005; an invoice belongs to at most 132 identifiers made in one context, else 71002.
A context lists the identifiers it made and, for a NIP context, those of its own sales; the invoices of an
identifier show their payment and description only to its creator and to the parties of each invoice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet

from ksef_simulator import ids, invoice_queries, limits
from ksef_simulator.models import CollectiveIdentifier, CollectiveIdentifierEntry, SimInvoice
from ksef_simulator.processing import WARSAW
from ksef_simulator.responses import ApiError, bad_request, now_utc, validation_error

MAX_PER_INVOICE = 132  # identifiers one invoice may belong to, within one context
MAX_QUERY_WINDOW = dt.timedelta(days=100)
MAX_IDENTIFIERS_PER_LISTING = 10


@dataclass(frozen=True)
class Context:
    """The caller's context: ``Nip`` (its NIP in ``nip``), ``InternalId``, ``NipVatUe`` or ``PeppolId``."""

    type: str
    value: str

    @property
    def nip(self) -> str:
        return self.value.split("-")[0]


def _not_found(number: str) -> ApiError:
    return bad_request(
        71001,
        "Faktura o podanym identyfikatorze nie istnieje.",
        f"Faktura o numerze KSeF {number} nie została znaleziona.",
    )


def _amount(payment: dict[str, Any] | None) -> tuple[Decimal | None, str]:
    if not payment:
        return None, ""
    try:
        amount = Decimal(str(payment["amount"])).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError) as exc:
        raise validation_error("payment.amount: nieprawidłowa kwota.") from exc
    if not amount.is_finite() or abs(amount) >= Decimal(10) ** 18:
        raise validation_error("payment.amount: nieprawidłowa kwota.")
    return amount, str(payment["currency"])


def identifier_generate(*, context: Context, invoices: Sequence[dict[str, Any]]) -> CollectiveIdentifier:
    """``POST /collective-identifiers`` for a request body already valid against the spec's schema."""
    maximum = limits.context_limits(context_type=context.type, context_value=context.value)[
        "collectiveIdentifier"
    ]["maxInvoices"]
    if len(invoices) > maximum:
        raise validation_error(
            f"invoices: maksymalna liczba faktur w identyfikatorze zbiorczym to {maximum}."
        )
    numbers = [str(item["ksefNumber"]) for item in invoices]
    seen: set[str] = set()
    for number in numbers:
        if number in seen:
            raise bad_request(71005, "Powtórzony numer KSeF w żądaniu.", f"Powtórzony numer KSeF {number}.")
        seen.add(number)
    found = dict(
        SimInvoice.objects.filter(
            invoice_queries.party_condition(context.nip), ksef_number__in=numbers, status_code=200
        ).values_list("ksef_number", "seller_nip")
    )
    for number in numbers:
        if number not in found:
            raise _not_found(number)
    seller = found[numbers[0]]
    for number in numbers:
        if found[number] != seller:
            raise bad_request(
                71004,
                "Faktury mają różnych sprzedawców.",
                f"Faktura o numerze KSeF {number} ma innego sprzedawcę.",
            )
    rows = [
        (number, *_amount(item.get("payment")), item.get("description"))
        for number, item in zip(numbers, invoices, strict=True)
    ]
    with transaction.atomic():
        used = (
            _made_in(context)
            .filter(entries__ksef_number__in=numbers)
            .values_list("entries__ksef_number", flat=True)
        )
        counts: dict[str, int] = {}
        for number in used:
            counts[number] = counts.get(number, 0) + 1
        for number in numbers:
            if counts.get(number, 0) >= MAX_PER_INVOICE:
                raise bad_request(
                    71002,
                    "Faktura jest już przypisana do maksymalnej liczby Identyfikatorów Zbiorczych.",
                    f"Faktura o numerze KSeF {number} jest już przypisana do maksymalnej liczby "
                    "Identyfikatorów Zbiorczych.",
                )
        now = now_utc()
        identifier = CollectiveIdentifier.objects.create(
            number=ids.collective_identifier(seller, now),
            seller_nip=seller,
            context_type=context.type,
            context_value=context.value,
            created_at=now,
            invoice_count=len(numbers),
        )
        CollectiveIdentifierEntry.objects.bulk_create(
            CollectiveIdentifierEntry(
                identifier=identifier,
                ksef_number=number,
                amount=amount,
                currency=currency,
                description=description or "",
            )
            for number, amount, currency, description in rows
        )
    return identifier


def _made_in(context: Context) -> QuerySet[CollectiveIdentifier]:
    return CollectiveIdentifier.objects.filter(context_type=context.type, context_value=context.value)


def _visible(context: Context) -> Q:
    """Identifiers the context may list: made in it and, for a NIP context, those of its sales."""
    made = Q(context_type=context.type, context_value=context.value)
    return made | Q(seller_nip=context.value) if context.type == "Nip" else made


def created_here(identifier: CollectiveIdentifier, context: Context) -> bool:
    return (identifier.context_type, identifier.context_value) == (context.type, context.value)


def _moment(value: str) -> dt.datetime:
    """A request date-time; without an offset it is Polish time, as KSeF reads it."""
    parsed = dt.datetime.fromisoformat(value)
    return parsed.replace(tzinfo=WARSAW) if parsed.tzinfo is None else parsed


def identifiers_query(*, context: Context, body: dict[str, Any]) -> QuerySet[CollectiveIdentifier]:
    """``POST /collective-identifiers/query``: newest first (then by number, descending)."""
    start, end = _moment(body["dateCreatedFrom"]), _moment(body["dateCreatedTo"])
    if start > end:
        raise validation_error("dateCreatedFrom: data początkowa jest późniejsza niż dateCreatedTo.")
    if end - start > MAX_QUERY_WINDOW:
        raise validation_error("dateCreatedFrom, dateCreatedTo: maksymalny przedział czasu to 100 dni.")
    rows = CollectiveIdentifier.objects.filter(_visible(context), created_at__gte=start, created_at__lte=end)
    if body.get("collectiveIdentifierNumber"):
        rows = rows.filter(number=body["collectiveIdentifierNumber"])
    if body.get("invoiceCountFrom") is not None:
        rows = rows.filter(invoice_count__gte=body["invoiceCountFrom"])
    if body.get("invoiceCountTo") is not None:
        rows = rows.filter(invoice_count__lte=body["invoiceCountTo"])
    if body.get("createdInCurrentContext") is True:
        rows = rows.filter(context_type=context.type, context_value=context.value)
    elif body.get("createdInCurrentContext") is False:
        rows = rows.exclude(context_type=context.type, context_value=context.value)
    return rows.order_by("-created_at", "-number")


def identifiers_of_invoice(*, context: Context, ksef_number: str) -> QuerySet[CollectiveIdentifier]:
    """``GET /collective-identifiers/ksef/{ksefNumber}``: every identifier holding the invoice when the
    context is a party to it, else only those the context made."""
    rows = CollectiveIdentifier.objects.filter(entries__ksef_number=ksef_number)
    party = SimInvoice.objects.filter(
        invoice_queries.party_condition(context.nip), ksef_number=ksef_number, status_code=200
    ).exists()
    if not party:
        rows = rows.filter(context_type=context.type, context_value=context.value)
    return rows.order_by("-created_at", "-number")


def entries_of(*, numbers: Sequence[str]) -> QuerySet[CollectiveIdentifierEntry]:
    """``POST /collective-identifiers/invoices``: the invoices of up to 10 identifiers, by KSeF number
    descending. Anyone who holds the number of an identifier (a transfer's title) may list its invoices."""
    if not numbers:
        raise validation_error("collectiveIdentifierNumbers: wymagany jest co najmniej jeden numer.")
    if len(numbers) > MAX_IDENTIFIERS_PER_LISTING:
        raise validation_error("collectiveIdentifierNumbers: maksymalna liczba to 10.")
    for number in numbers:
        if not ids.collective_identifier_is_valid(number):
            raise validation_error(
                f"collectiveIdentifierNumbers: nieprawidłowy numer identyfikatora {number[:40]}."
            )
    return (
        CollectiveIdentifierEntry.objects.filter(identifier__number__in=numbers)
        .select_related("identifier")
        .order_by("-ksef_number", "identifier__number")
    )


def details_visible(*, context: Context, entries: Sequence[CollectiveIdentifierEntry]) -> set[int]:
    """Ids of the entries whose payment and description the context may see: its own identifiers and the
    invoices it is a party to."""
    mine = {e.pk for e in entries if created_here(e.identifier, context)}
    numbers = {e.ksef_number for e in entries if e.pk not in mine}
    party = set(
        SimInvoice.objects.filter(
            invoice_queries.party_condition(context.nip), ksef_number__in=numbers, status_code=200
        ).values_list("ksef_number", flat=True)
    )
    return mine | {e.pk for e in entries if e.ksef_number in party}

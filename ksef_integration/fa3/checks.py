"""Checks an invoice before it is sent, with messages a person understands (Polish and English).

The XSD says whether a document is well-formed FA(3); these checks catch what the schema cannot: wrong NIP
checksums, totals that do not follow from the lines, dates in the future, a correction without the data of
the invoice it corrects, and the like.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from ._xml import round_half_up
from .builder import compute_totals, line_net
from .model import Invoice, InvoiceKind, Nip, VatRate

WARSAW = ZoneInfo("Europe/Warsaw")
NIP_WEIGHTS = (6, 5, 7, 2, 3, 4, 5, 6, 7)
SPLIT_PAYMENT_THRESHOLD_PLN = Decimal("15000")
MAX_DAYS_ISSUED_BEFORE_SALE = 60  # art. 106i ust. 7: no earlier than 60 days before the supply

_KSEF_NUMBER = re.compile(
    r"([1-9]((\d[1-9])|([1-9]\d))\d{7}|M\d{9}|[A-Z]{3}\d{7})-"
    r"(20[2-9][0-9]|2[1-9][0-9]{2}|[3-9][0-9]{3})(0[1-9]|1[0-2])(0[1-9]|[1-2][0-9]|3[0-1])-"
    r"([0-9A-F]{6})-?([0-9A-F]{6})-([0-9A-F]{2})"
)
_CURRENCY = re.compile(r"[A-Z]{3}")
# Advance and settlement invoices show amounts paid or still due, not the sum of their rows.
_KINDS_TOTALS_FROM_LINES = (InvoiceKind.VAT, InvoiceKind.KOR, InvoiceKind.UPR)
# Corrections may legitimately have no rows (collective discounts, data-only corrections, advances).
_KINDS_NEEDING_LINES = (InvoiceKind.VAT, InvoiceKind.UPR, InvoiceKind.ROZ)


@dataclass(frozen=True)
class Problem:
    """Something wrong with an invoice: a stable ``code``, messages in Polish and English, and the field."""

    code: str
    message_pl: str
    message_en: str
    field: str
    severity: str = "error"  # "error" blocks sending; "warning" is worth a look

    def message(self, language: str = "pl") -> str:
        return self.message_pl if language.startswith("pl") else self.message_en


def nip_is_valid(nip: str) -> bool:
    """True for a 10-digit NIP whose check digit matches.

    Digits 1-9 times the weights 6,5,7,2,3,4,5,6,7, summed, mod 11 must equal digit 10 (a result of 10 is
    never valid). Dashes and spaces are ignored.
    """
    digits = nip.replace("-", "").replace(" ", "")
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
        return False
    check = sum(int(d) * w for d, w in zip(digits, NIP_WEIGHTS, strict=False)) % 11
    return check != 10 and check == int(digits[9])


def ksef_number_checksum(first32: str) -> str:
    """CRC-8 (polynomial 0x07, init 0, no reflection, no final XOR) of the first 32 characters, as 2 hex."""
    crc = 0
    for byte in first32.encode("ascii"):
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return f"{crc:02X}"


def ksef_number_is_valid(number: str) -> bool:
    """Format and checksum of a 35-character KSeF 2.0 number (the 36-character 1.0 form: format only)."""
    if not _KSEF_NUMBER.fullmatch(number):
        return False
    if len(number) != 35:
        return True
    return ksef_number_checksum(number[:32]) == number[33:]


def check_invoice(invoice: Invoice, *, today: date | None = None) -> list[Problem]:
    """Every problem found in ``invoice``; an empty list means it may be sent.

    ``today`` defaults to the current date in Europe/Warsaw, the day KSeF compares the issue date with.
    """
    today = today if today is not None else datetime.now(WARSAW).date()
    problems: list[Problem] = []
    problems += _parties(invoice)
    problems += _basics(invoice, today)
    problems += _currency(invoice)
    problems += _lines_and_totals(invoice)
    problems += _correction(invoice)
    problems += _annotations(invoice)
    return problems


def _parties(invoice: Invoice) -> list[Problem]:
    out = []
    if not nip_is_valid(invoice.seller.nip):
        out.append(
            Problem(
                "seller_nip_invalid",
                f"NIP sprzedawcy {invoice.seller.nip} jest nieprawidłowy "
                "(błędna cyfra kontrolna lub długość).",
                f"The seller's NIP {invoice.seller.nip} is not valid (wrong check digit or length).",
                "seller.nip",
            )
        )
    if isinstance(invoice.buyer.tax_id, Nip) and not nip_is_valid(invoice.buyer.tax_id.value):
        nip = invoice.buyer.tax_id.value
        out.append(
            Problem(
                "buyer_nip_invalid",
                f"NIP nabywcy {nip} jest nieprawidłowy (błędna cyfra kontrolna lub długość).",
                f"The buyer's NIP {nip} is not valid (wrong check digit or length).",
                "buyer.tax_id",
            )
        )
    for i, party in enumerate(invoice.third_parties):
        if isinstance(party.tax_id, Nip) and not nip_is_valid(party.tax_id.value):
            out.append(
                Problem(
                    "third_party_nip_invalid",
                    f"NIP podmiotu trzeciego {party.tax_id.value} jest nieprawidłowy.",
                    f"The third party's NIP {party.tax_id.value} is not valid.",
                    f"third_parties[{i}].tax_id",
                )
            )
    return out


def _basics(invoice: Invoice, today: date) -> list[Problem]:
    out = []
    if not invoice.number.strip():
        out.append(
            Problem(
                "number_missing",
                "Faktura nie ma numeru.",
                "The invoice has no number.",
                "number",
            )
        )
    if invoice.issue_date > today:
        out.append(
            Problem(
                "issue_date_future",
                f"Data wystawienia {invoice.issue_date:%d.%m.%Y} jest w przyszłości; "
                "KSeF odrzuci taką fakturę.",
                f"The issue date {invoice.issue_date:%Y-%m-%d} is in the future; "
                "KSeF would reject the invoice.",
                "issue_date",
            )
        )
    sale_dates = [invoice.sale_date] if invoice.sale_date is not None else []
    if invoice.period is not None:
        start, end = invoice.period
        sale_dates.append(end)
        if start > end:
            out.append(
                Problem(
                    "period_reversed",
                    "Początek okresu rozliczeniowego jest późniejszy niż jego koniec.",
                    "The billing period starts after it ends.",
                    "period",
                )
            )
    for sale in sale_dates:
        if sale - invoice.issue_date > timedelta(days=MAX_DAYS_ISSUED_BEFORE_SALE):
            out.append(
                Problem(
                    "sale_date_too_far_ahead",
                    f"Data sprzedaży {sale:%d.%m.%Y} jest ponad {MAX_DAYS_ISSUED_BEFORE_SALE} dni po dacie "
                    "wystawienia; fakturę można wystawić najwcześniej 60 dni przed dostawą.",
                    f"The sale date {sale:%Y-%m-%d} is more than {MAX_DAYS_ISSUED_BEFORE_SALE} days after "
                    "the issue date; an invoice may be issued at most 60 days before the supply.",
                    "sale_date",
                )
            )
        elif invoice.issue_date - sale > timedelta(days=366):
            out.append(
                Problem(
                    "sale_date_too_old",
                    f"Data sprzedaży {sale:%d.%m.%Y} jest ponad rok przed datą wystawienia. Czy to pomyłka?",
                    f"The sale date {sale:%Y-%m-%d} is over a year before the issue date. Is it a typo?",
                    "sale_date",
                    severity="warning",
                )
            )
    return out


def _currency(invoice: Invoice) -> list[Problem]:
    out = []
    if not _CURRENCY.fullmatch(invoice.currency):
        out.append(
            Problem(
                "currency_invalid",
                f"Kod waluty {invoice.currency!r} nie jest trzyliterowym kodem ISO 4217.",
                f"The currency code {invoice.currency!r} is not a three-letter ISO 4217 code.",
                "currency",
            )
        )
    rates = [invoice.exchange_rate, *(line.exchange_rate for line in invoice.lines)]
    if invoice.currency == "PLN":
        if any(r is not None for r in rates):
            out.append(
                Problem(
                    "exchange_rate_unexpected",
                    "Faktura w złotych nie powinna mieć kursu waluty.",
                    "An invoice in PLN should not carry an exchange rate.",
                    "exchange_rate",
                )
            )
        return out
    taxed = any(line.vat_rate is not None and line.vat_rate.percent is not None for line in invoice.lines)
    missing = invoice.exchange_rate is None and any(line.exchange_rate is None for line in invoice.lines)
    if taxed and missing:
        out.append(
            Problem(
                "exchange_rate_missing",
                f"Faktura w walucie {invoice.currency} wymaga kursu waluty, by wykazać VAT w złotych.",
                f"An invoice in {invoice.currency} needs an exchange rate to show the VAT in PLN.",
                "exchange_rate",
            )
        )
    if any(r is not None and r <= 0 for r in rates):
        out.append(
            Problem(
                "exchange_rate_invalid",
                "Kurs waluty musi być większy od zera.",
                "The exchange rate must be greater than zero.",
                "exchange_rate",
            )
        )
    return out


def _lines_and_totals(invoice: Invoice) -> list[Problem]:
    out = []
    if not invoice.lines and invoice.kind in _KINDS_NEEDING_LINES:
        out.append(
            Problem(
                "no_lines",
                "Faktura musi mieć co najmniej jedną pozycję.",
                "The invoice must have at least one line.",
                "lines",
            )
        )
    for i, line in enumerate(invoice.lines):
        if line.vat_rate is None and line.oss_rate is None and invoice.annotations.margin is None:
            out.append(
                Problem(
                    "line_rate_missing",
                    f"Pozycja {i + 1} nie ma stawki VAT.",
                    f"Line {i + 1} has no VAT rate.",
                    f"lines[{i}].vat_rate",
                )
            )
        if (
            line.net_value is not None
            and line.quantity is not None
            and line.unit_price is not None
            and line.discount is None
            and round_half_up(line.quantity * line.unit_price) != line.net_value
        ):
            out.append(
                Problem(
                    "line_net_mismatch",
                    f"Wartość netto pozycji {i + 1} ({line.net_value}) nie równa się ilości razy cenie "
                    f"({round_half_up(line.quantity * line.unit_price)}).",
                    f"The net value of line {i + 1} ({line.net_value}) is not quantity times price "
                    f"({round_half_up(line.quantity * line.unit_price)}).",
                    f"lines[{i}].net_value",
                )
            )
    if invoice.totals is None:
        return out
    given = invoice.totals
    if given.gross != sum((r.net + (r.vat or 0) for r in given.rates), Decimal(0)) and invoice.kind in (
        InvoiceKind.VAT,
        InvoiceKind.KOR,
    ):
        out.append(
            Problem(
                "gross_mismatch",
                f"Kwota należności ogółem {given.gross} nie równa się sumie netto i VAT.",
                f"The total due {given.gross} is not the sum of net and VAT amounts.",
                "totals.gross",
            )
        )
    if (
        not invoice.lines
        or invoice.kind not in _KINDS_TOTALS_FROM_LINES
        or any(line_net(x) is None for x in invoice.lines)
    ):
        return out
    expected = compute_totals(invoice)
    for bucket in sorted({r.bucket for r in (*given.rates, *expected.rates)}):
        have, want = given.get(bucket), expected.get(bucket)
        have_net, have_vat = (have.net, have.vat or 0) if have else (Decimal(0), 0)
        want_net, want_vat = (want.net, want.vat or 0) if want else (Decimal(0), 0)
        if have_net != want_net or have_vat != want_vat:
            out.append(
                Problem(
                    "totals_mismatch",
                    f"Suma dla P_13_{bucket}/P_14_{bucket} ({have_net} / {have_vat}) nie wynika z "
                    f"pozycji faktury (powinno być {want_net} / {want_vat}).",
                    f"The P_13_{bucket}/P_14_{bucket} totals ({have_net} / {have_vat}) do not follow "
                    f"from the lines (expected {want_net} / {want_vat}).",
                    f"totals.P_13_{bucket}",
                )
            )
    return out


def _correction(invoice: Invoice) -> list[Problem]:
    out: list[Problem] = []
    correction = invoice.correction
    if not invoice.kind.is_correction:
        if correction is not None:
            out.append(
                Problem(
                    "correction_unexpected",
                    "Dane korekty podano dla faktury, która nie jest korektą.",
                    "Correction data was given for an invoice that is not a correction.",
                    "correction",
                )
            )
        return out
    if correction is None or not correction.corrected:
        out.append(
            Problem(
                "correction_missing",
                "Faktura korygująca musi wskazywać fakturę korygowaną (data, numer, numer KSeF).",
                "A correction must identify the corrected invoice (date, number, KSeF number).",
                "correction.corrected",
            )
        )
        return out
    for i, original in enumerate(correction.corrected):
        where = f"correction.corrected[{i}]"
        if not original.number.strip():
            out.append(
                Problem(
                    "corrected_number_missing",
                    "Brak numeru faktury korygowanej.",
                    "The corrected invoice's number is missing.",
                    f"{where}.number",
                )
            )
        if original.issue_date > invoice.issue_date:
            out.append(
                Problem(
                    "corrected_date_after",
                    "Faktura korygowana ma datę wystawienia późniejszą niż korekta.",
                    "The corrected invoice is dated after the correction.",
                    f"{where}.issue_date",
                )
            )
        if original.ksef_number is not None and not ksef_number_is_valid(original.ksef_number):
            out.append(
                Problem(
                    "corrected_ksef_number_invalid",
                    f"Numer KSeF faktury korygowanej {original.ksef_number} jest nieprawidłowy.",
                    f"The corrected invoice's KSeF number {original.ksef_number} is not valid.",
                    f"{where}.ksef_number",
                )
            )
    return out


def _annotations(invoice: Invoice) -> list[Problem]:
    out = []
    rates = {line.vat_rate for line in invoice.lines}
    notes = invoice.annotations
    if VatRate.ZW in rates and notes.exemption is None:
        out.append(
            Problem(
                "exemption_basis_missing",
                "Sprzedaż zwolniona (zw) wymaga podania podstawy prawnej zwolnienia.",
                "An exempt supply (zw) needs the legal basis of the exemption.",
                "annotations.exemption",
            )
        )
    if VatRate.OO in rates and not notes.reverse_charge:
        out.append(
            Problem(
                "reverse_charge_flag_missing",
                "Pozycje ze stawką „oo” wymagają adnotacji „odwrotne obciążenie”.",
                'Lines at the "oo" rate need the "reverse charge" annotation.',
                "annotations.reverse_charge",
            )
        )
    if any(line.annex15 for line in invoice.lines) and not notes.split_payment:
        totals = invoice.totals or compute_totals(invoice)
        rate = invoice.exchange_rate if invoice.currency != "PLN" else Decimal(1)
        if rate is not None and totals.gross * rate > SPLIT_PAYMENT_THRESHOLD_PLN:
            out.append(
                Problem(
                    "split_payment_required",
                    "Towary z załącznika nr 15 i kwota powyżej 15 000 zł: "
                    "wymagany mechanizm podzielonej płatności.",
                    "Annex 15 goods over PLN 15,000: the split payment mechanism is required.",
                    "annotations.split_payment",
                )
            )
    return out

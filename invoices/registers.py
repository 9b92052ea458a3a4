"""VAT registers (sales and purchase) for a month or a quarter, each row with what JPK_VAT(3) must carry about
KSeF, the totals per rate in PLN, the warnings that would make the JPK wrong, and their CSV/XLSX downloads.

Pure reads over :class:`invoices.models.Invoice`; ``invoices`` knows nothing of ``ksef_integration``.

**The KSeF markers** (rozporządzenie MF z 12.12.2025, Dz.U. 2025 poz. 1800, amending the JPK_VAT regulation
of 15.10.2019; in force for JPK_V7M(3)/JPK_V7K(3) from the February 2026 period). Every ``SprzedazWiersz``
and ``ZakupWiersz`` carries exactly one of:

- ``NrKSeF`` — the invoice has a KSeF number on the day the JPK is filed, whatever mode it was issued in
  (online, offline24, unavailability, failure);
- ``OFF`` — only an invoice issued in the KSeF *failure* mode (art. 106nf ust. 1 of the VAT act, our
  ``KsefOfflineMode.FAILURE``) with no number yet on the filing day; the JPK need **not** be corrected once
  the number arrives;
- ``BFK`` — an invoice issued outside KSeF, electronic or paper (art. 2 pkt 31-32): B2C, before the KSeF
  obligation, foreign sellers, the total-failure mode of art. 106ng;
- ``DI`` — any other document (receipts, internal documents WEW, periodic reports RO, customs documents)
  **and** an invoice issued in offline24 (art. 106nda) or during announced unavailability (art. 106nh ust.
  1) that has no number yet on the filing day; unlike OFF, the JPK **must be corrected** with the number
  once KSeF gives it.

Sources: ksiegowosc.infor.pl "Nowy JPK VAT od rozliczenia za luty 2026 r." (11.03.2026); sqradvisory.pl
"OFF, BFK, DI - trzy nowe znaczniki w JPK_VAT"; hlb-poland.global "KSeF a nowa struktura JPK_VAT od 1 lutego
2026"; podatki.gazetaprawna.pl on Dz.U. 2025 poz. 1800; pl.andersen.com and EY's alert on the draft of
14.10.2025. Note that the issue's short form ("OFF for offline invoices") is narrower than the regulation:
offline24 and unavailability invoices without a number are DI, and this module follows the regulation.

**Decisions where the rules leave it to the taxpayer or to us**

- The status that counts is the one on the filing day. We take the filing deadline, the 25th of the month
  after each row's month (also for JPK_V7K: its register part is filed monthly), moved to the next working
  day when it falls on a Saturday, Sunday or a Polish public holiday (Ordynacja podatkowa art. 12 § 5). A
  KSeF number acquired by then is in the JPK; one acquired later means the filed JPK had DI (→ "korekta JPK
  potrzebna") or OFF (no correction needed, said so). The register itself always shows the best marker known
  *now*, because a correction is made from the register as it is now.
- A sales invoice waiting for KSeF (queued, sent) or refused by it (rejected, failed locally) has no lawful
  marker: it is listed with an empty marker and a warning, since leaving it so would make the JPK wrong. A
  sales invoice never handed to KSeF (not_sent: issued before the obligation or to a consumer) is BFK; when
  its buyer has a Polish NIP we ask to check that the invoice was allowed outside KSeF.
- A purchase invoice without a KSeF number is BFK (a paper or electronic invoice from outside KSeF); DI
  needs a document that is not an invoice, which the portal does not hold. When the seller has a Polish NIP
  we ask to check it, because such a seller usually must issue in KSeF and the number belongs in the JPK.
- Period: a sales row belongs to the month of its sale date (the tax point of art. 19a ust. 1 for most
  supplies), else of its issue date; a purchase row to the month it was received — the KSeF acquisition date
  for invoices from KSeF (art. 86 ust. 10b: no deduction before receipt), else the issue date.
- Amounts in PLN: a foreign-currency invoice's net is converted at its ``exchange_rate`` and its tax taken
  in PLN as the invoice states it (``P_14_xW``) or computed; a foreign invoice without a rate is flagged.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Company
from invoices.formatting import rate_code
from invoices.models import Direction, Invoice, InvoiceLine, KsefOfflineMode, KsefStatus, VatRate
from invoices.totals import RATE_ORDER, round_half_up
from invoices.workdays import working_day_on_or_after

FILING_DAY = 25
WAITING_STATUSES = (KsefStatus.QUEUED, KsefStatus.SENT)
REFUSED_STATUSES = (KsefStatus.REJECTED, KsefStatus.FAILED_LOCAL)


class Marker(StrEnum):
    """What JPK_VAT(3) carries instead of a KSeF number."""

    OFF = "OFF"
    BFK = "BFK"
    DI = "DI"


class Level(StrEnum):
    ERROR = "error"  # the JPK is or will be wrong
    CHECK = "check"  # possibly wrong: a person should look
    INFO = "info"  # worth knowing when filing


class PeriodError(ValueError):
    """A period the user typed that is not a month (2026-11) or a quarter (2026-Q4)."""


# --- periods ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A month (``months == 1``) or a quarter (``months == 3``) starting at ``start``."""

    start: dt.date
    months: int

    @property
    def end(self) -> dt.date:
        """The last day."""
        return _add_months(self.start, self.months) - dt.timedelta(days=1)

    @property
    def is_quarter(self) -> bool:
        return self.months == 3

    @property
    def code(self) -> str:
        """``2026-11`` or ``2026-Q4``: the URL parameter and the file name's part."""
        if self.is_quarter:
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start.year}-{self.start.month:02d}"

    def month_starts(self) -> list[dt.date]:
        return [_add_months(self.start, i) for i in range(self.months)]

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        return cls(dt.date(year, month, 1), 1)

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        return cls(dt.date(year, 3 * quarter - 2, 1), 3)

    @classmethod
    def parse(cls, value: str) -> Period:
        """``2026-11`` (also ``11/2026``) or ``2026-Q4`` (also ``2026-q4``, ``Q4/2026``); else PeriodError."""
        text = value.strip().upper().replace(" ", "")
        try:
            if m := re.fullmatch(r"(\d{4})-Q([1-4])", text) or re.fullmatch(r"Q([1-4])/(\d{4})", text):
                year, quarter = (m[1], m[2]) if len(m[1]) == 4 else (m[2], m[1])
                return cls.quarter(int(year), int(quarter))
            if m := re.fullmatch(r"(\d{4})-(\d{1,2})", text):
                return cls.month(int(m[1]), int(m[2]))
            if m := re.fullmatch(r"(\d{1,2})/(\d{4})", text):
                return cls.month(int(m[2]), int(m[1]))
        except ValueError:
            pass  # month 13, year 0 …
        raise PeriodError(value)

    @classmethod
    def previous_month(cls, today: dt.date) -> Period:
        first = today.replace(day=1) - dt.timedelta(days=1)
        return cls.month(first.year, first.month)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def filing_deadline(month_start: dt.date) -> dt.date:
    """The last day to file the JPK for the month starting at ``month_start``: the 25th of the next month, or
    the next day that is neither a Saturday, a Sunday nor a holiday (Ordynacja podatkowa art. 12 § 5)."""
    return working_day_on_or_after(_add_months(month_start, 1).replace(day=FILING_DAY))


# --- rows -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Amounts:
    """One rate's amounts on one row, in PLN."""

    net: Decimal
    vat: Decimal

    @property
    def gross(self) -> Decimal:
        return self.net + self.vat


@dataclass(frozen=True)
class RegisterWarning:
    level: Level
    message: str
    invoice_number: str = ""
    invoice_uuid: str = ""

    @property
    def level_label(self) -> str:
        return str(LEVEL_LABELS[self.level])


@dataclass(frozen=True)
class RegisterRow:
    ordinal: int
    invoice_uuid: str
    kind: str  # VAT, KOR, ZAL, or the stated kind of an imported invoice (ROZ, UPR …)
    number: str
    issue_date: dt.date
    sale_date: dt.date | None
    register_date: dt.date  # the day that puts the row into the period
    counterparty_name: str
    counterparty_id: str  # NIP, or the foreign tax ID with its country
    ksef: str  # the KSeF number, OFF/BFK/DI, or "" when no lawful marker applies
    corrected_number: str
    corrected_ksef_number: str
    currency: str
    amounts: dict[str, Amounts]  # by VAT rate code

    @property
    def net(self) -> Decimal:
        return sum((a.net for a in self.amounts.values()), Decimal("0.00"))

    @property
    def vat(self) -> Decimal:
        return sum((a.vat for a in self.amounts.values()), Decimal("0.00"))

    @property
    def gross(self) -> Decimal:
        return self.net + self.vat

    @property
    def has_ksef_number(self) -> bool:
        return self.ksef not in ("", *Marker)


@dataclass(frozen=True)
class RateSum:
    vat_rate: str
    label: str
    net: Decimal
    vat: Decimal

    @property
    def gross(self) -> Decimal:
        return self.net + self.vat


@dataclass
class Register:
    company: Company
    direction: str
    period: Period
    rows: list[RegisterRow] = field(default_factory=list)
    warnings: list[RegisterWarning] = field(default_factory=list)

    @property
    def rates(self) -> list[str]:
        """The rate codes that occur, in the order of FA(3)."""
        codes = {code for row in self.rows for code in row.amounts}
        return sorted(codes, key=lambda c: (RATE_ORDER.index(c) if c in RATE_ORDER else len(RATE_ORDER), c))

    def totals(self) -> list[RateSum]:
        out = []
        for code in self.rates:
            net = sum((r.amounts[code].net for r in self.rows if code in r.amounts), Decimal("0.00"))
            vat = sum((r.amounts[code].vat for r in self.rows if code in r.amounts), Decimal("0.00"))
            out.append(RateSum(code, rate_label(code), net, vat))
        return out

    @property
    def net(self) -> Decimal:
        return sum((r.net for r in self.rows), Decimal("0.00"))

    @property
    def vat(self) -> Decimal:
        return sum((r.vat for r in self.rows), Decimal("0.00"))

    @property
    def gross(self) -> Decimal:
        return self.net + self.vat


def rate_label(code: str) -> str:
    labels = dict(VatRate.choices)
    return str(labels[code]) if code in labels else rate_code(code)  # "margin scheme", "OSS"


# --- the marker -------------------------------------------------------------------------------------------


def _acquired_on(invoice: Invoice) -> dt.date | None:
    if invoice.ksef_acquisition_date is None:
        return None
    return timezone.localtime(invoice.ksef_acquisition_date).date()


def _marker_without_number(invoice: Invoice) -> str:
    """What the JPK carries for an invoice KSeF has not numbered (yet), by how it was issued."""
    if invoice.direction == Direction.PURCHASE:
        return Marker.BFK
    if invoice.ksef_offline_mode == KsefOfflineMode.FAILURE:
        return Marker.OFF
    if invoice.ksef_offline_mode or invoice.ksef_status == KsefStatus.OFFLINE:
        return Marker.DI  # offline24 or unavailability: DI until numbered, then a JPK correction
    if invoice.ksef_status == KsefStatus.NOT_SENT:
        return Marker.BFK
    return ""  # waiting or refused: no marker is right, the invoice must reach KSeF first


def ksef_marker(invoice: Invoice) -> str:
    """The KSeF number if the invoice has one, else the marker JPK_VAT(3) requires, else ""."""
    return invoice.ksef_number or _marker_without_number(invoice)


def invoice_warnings(invoice: Invoice, *, register_month: dt.date, today: dt.date) -> list[RegisterWarning]:
    """What about this invoice would make (or has made) the JPK for its month wrong."""
    deadline = filing_deadline(register_month)
    out: list[RegisterWarning] = []

    def warn(level: Level, message: str) -> None:
        out.append(RegisterWarning(level, message, invoice.number, str(invoice.uuid)))

    acquired = _acquired_on(invoice)
    if invoice.direction == Direction.SALES:
        marker = _marker_without_number(invoice)
        if invoice.ksef_number and acquired is not None and acquired > deadline:
            if marker == Marker.OFF:
                warn(
                    Level.INFO,
                    _(
                        "Issued in the KSeF failure mode and numbered on %(acquired)s, after the filing "
                        "deadline of %(deadline)s: the filed JPK carried OFF, which needs no correction."
                    )
                    % {"acquired": acquired.isoformat(), "deadline": deadline.isoformat()},
                )
            else:
                warn(
                    Level.ERROR,
                    _(
                        "JPK correction needed: KSeF numbered this invoice on %(acquired)s, after the filing "
                        "deadline of %(deadline)s; the filed JPK lacks its KSeF number (%(marker)s)."
                    )
                    % {
                        "acquired": acquired.isoformat(),
                        "deadline": deadline.isoformat(),
                        "marker": marker or _("no marker"),
                    },
                )
        elif not invoice.ksef_number:
            if invoice.ksef_status in WAITING_STATUSES:
                warn(
                    Level.ERROR,
                    _(
                        "Not in KSeF yet (waiting for KSeF): unless it gets its KSeF number before you file, "
                        "the JPK has no correct entry for it."
                    ),
                )
            elif invoice.ksef_status in REFUSED_STATUSES:
                warn(
                    Level.ERROR,
                    _(
                        "KSeF refused this invoice, so it will not be in KSeF: correct it and send it again "
                        "before filing the JPK."
                    ),
                )
            elif marker == Marker.DI:
                past = today > deadline
                warn(
                    Level.ERROR if past else Level.CHECK,
                    _(
                        "Issued offline and not in KSeF yet: the JPK carries DI, and must be corrected "
                        "with the KSeF number once it is given."
                    ),
                )
            elif marker == Marker.OFF:
                warn(
                    Level.INFO,
                    _("Issued in the KSeF failure mode and not in KSeF yet: the JPK carries OFF."),
                )
            elif marker == Marker.BFK and invoice.buyer_nip:
                warn(
                    Level.CHECK,
                    _(
                        "Issued outside KSeF (BFK) to a buyer with a Polish NIP: check that the invoice was "
                        "allowed outside KSeF."
                    ),
                )
    elif not invoice.ksef_number and invoice.seller_nip:
        warn(
            Level.CHECK,
            _(
                "Purchase invoice without a KSeF number (BFK): check with the seller whether it is in KSeF; "
                "if it is, its KSeF number belongs in the JPK."
            ),
        )
    if invoice.is_correction:
        corrected = invoice.corrected_number
        if invoice.corrected_ksef_number:
            corrected = f"{corrected} ({invoice.corrected_ksef_number})"
        warn(Level.INFO, _("Correction of invoice %(number)s.") % {"number": corrected})
    if invoice.currency != "PLN" and invoice.exchange_rate is None:
        warn(
            Level.ERROR,
            _("Invoice in %(currency)s without an exchange rate: its amounts are not in PLN.")
            % {"currency": invoice.currency},
        )
    return out


# --- reading ----------------------------------------------------------------------------------------------


def _period_bounds(period: Period) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(period.start, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(_add_months(period.start, period.months), dt.time.min, tzinfo=tz)
    return start, end


def register_queryset(*, company: Company, direction: str, period: Period) -> QuerySet[Invoice]:
    qs = Invoice.objects.filter(company=company, direction=direction).prefetch_related(
        Prefetch("lines", queryset=InvoiceLine.objects.order_by("before_correction", "ordinal"))
    )
    if direction == Direction.SALES:
        return qs.annotate(register_day=Coalesce("sale_date", "issue_date")).filter(
            register_day__gte=period.start, register_day__lte=period.end
        )
    start, end = _period_bounds(period)
    return qs.filter(
        Q(ksef_acquisition_date__gte=start, ksef_acquisition_date__lt=end)
        | Q(ksef_acquisition_date__isnull=True, issue_date__gte=period.start, issue_date__lte=period.end)
    )


def register_date(invoice: Invoice) -> dt.date:
    if invoice.direction == Direction.SALES:
        return invoice.sale_date or invoice.issue_date
    return _acquired_on(invoice) or invoice.issue_date


def _amounts(invoice: Invoice) -> dict[str, Amounts]:
    rate = invoice.exchange_rate if invoice.currency != "PLN" else None
    out: dict[str, Amounts] = {}
    for total in invoice.rate_totals():
        net, vat = total.net, total.vat
        if rate is not None:
            net = round_half_up(net * rate)
            vat = total.vat_pln if total.vat_pln is not None else round_half_up(vat * rate)
        prev = out.get(total.vat_rate)
        out[total.vat_rate] = Amounts(net, vat) if prev is None else Amounts(prev.net + net, prev.vat + vat)
    return out


def _counterparty_id(invoice: Invoice) -> str:
    if invoice.direction == Direction.SALES:
        nip, foreign, country = invoice.buyer_nip, invoice.buyer_foreign_id, invoice.buyer_country_code
    else:
        nip, foreign, country = invoice.seller_nip, invoice.seller_foreign_id, invoice.seller_country_code
    if nip:
        return nip
    if foreign:
        return foreign if foreign[:2].isalpha() else f"{country}{foreign}"
    return ""


def register_build(
    *, company: Company, direction: str, period: Period, today: dt.date | None = None
) -> Register:
    """The register of one company, one direction and one period: rows by date and number, and warnings."""
    today = today or timezone.localdate()
    invoices = sorted(
        register_queryset(company=company, direction=direction, period=period),
        key=lambda inv: (register_date(inv), inv.issue_date, inv.number, inv.id),
    )
    register = Register(company=company, direction=direction, period=period)
    for ordinal, invoice in enumerate(invoices, start=1):
        day = register_date(invoice)
        register.rows.append(
            RegisterRow(
                ordinal=ordinal,
                invoice_uuid=str(invoice.uuid),
                kind=invoice.document_kind,
                number=invoice.number,
                issue_date=invoice.issue_date,
                sale_date=invoice.sale_date,
                register_date=day,
                counterparty_name=invoice.counterparty_name,
                counterparty_id=_counterparty_id(invoice),
                ksef=ksef_marker(invoice),
                corrected_number=invoice.corrected_number,
                corrected_ksef_number=invoice.corrected_ksef_number,
                currency=invoice.currency,
                amounts=_amounts(invoice),
            )
        )
        register.warnings.extend(invoice_warnings(invoice, register_month=day.replace(day=1), today=today))
    return register


# --- the table (page, CSV and XLSX show the same cells) ---------------------------------------------------

Cell = str | int | Decimal | dt.date | None


def register_headers(register: Register) -> list[str]:
    party = _("Buyer") if register.direction == Direction.SALES else _("Seller")
    date_label = _("Sale date") if register.direction == Direction.SALES else _("Received")
    headers = [
        _("No."), _("Kind"), _("Invoice number"), _("Issue date"), date_label, party, _("NIP / tax ID"),
        _("KSeF number or marker"), _("Corrected invoice"), _("Corrected invoice KSeF number"),
    ]  # fmt: skip
    for code in register.rates:
        label = rate_label(code)
        if VatRate.percent_of(code) is not None:
            headers += [_("Net %(rate)s") % {"rate": label}, _("VAT %(rate)s") % {"rate": label}]
        else:
            headers.append(_("Net %(rate)s") % {"rate": label})
    headers += [_("Net"), _("VAT"), _("Gross")]
    return headers


def register_cells(register: Register) -> list[list[Cell]]:
    """One list of cells per row, in the order of :func:`register_headers`; amounts in PLN, None: none."""
    out: list[list[Cell]] = []
    for row in register.rows:
        cells: list[Cell] = [
            row.ordinal, row.kind, row.number, row.issue_date, row.register_date, row.counterparty_name,
            row.counterparty_id, row.ksef, row.corrected_number, row.corrected_ksef_number,
        ]  # fmt: skip
        for code in register.rates:
            amounts = row.amounts.get(code)
            cells.append(amounts.net if amounts else None)
            if VatRate.percent_of(code) is not None:
                cells.append(amounts.vat if amounts else None)
        cells += [row.net, row.vat, row.gross]
        out.append(cells)
    return out


def csv_text(value: Cell) -> str:
    """A cell as Polish Excel reads it: decimal comma, ISO dates, empty for no amount."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}".replace(".", ",")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def register_csv(register: Register) -> bytes:
    """``;``-separated, decimal commas, UTF-8 with a BOM: Excel with Polish regional settings splits on ``;``
    (the list separator where the comma is the decimal separator) and reads a CSV as cp1250 unless a BOM says
    UTF-8, which would garble ą, ę, ł, ó …"""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(register_headers(register))
    for cells in register_cells(register):
        writer.writerow([csv_text(c) for c in cells])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def register_xlsx(register: Register) -> bytes:
    """The register on the first sheet (numbers as numbers, dates as dates), totals per rate and warnings on
    the next two."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    if sheet is None:  # pragma: no cover - a new workbook always has one sheet
        sheet = workbook.create_sheet()
    sheet.title = _sheet_title(register)
    sheet.append(register_headers(register))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for cells in register_cells(register):
        sheet.append(cells)
    _format(sheet.iter_rows(min_row=2))
    sheet.freeze_panes = "A2"

    totals = workbook.create_sheet(_sheet_name(_("Totals per rate")))
    totals.append([_("VAT rate"), _("Net"), _("VAT"), _("Gross")])
    for s in register.totals():
        totals.append([s.label, s.net, s.vat, s.gross])
    totals.append([_("Total"), register.net, register.vat, register.gross])
    _format(totals.iter_rows(min_row=2))

    warnings = workbook.create_sheet(_sheet_name(_("Warnings")))
    warnings.append([_("Level"), _("Invoice number"), _("Warning")])
    for w in register.warnings:
        warnings.append([w.level_label, w.invoice_number, w.message])

    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _format(rows: Iterable[Any]) -> None:
    for row in rows:
        for cell in row:
            if isinstance(cell.value, Decimal):
                cell.number_format = "#,##0.00"
            elif isinstance(cell.value, dt.date):
                cell.number_format = "yyyy-mm-dd"


def _sheet_name(text: str) -> str:
    """Excel's sheet names: at most 31 characters, none of ``[]:*?/\\``."""
    return re.sub(r"[\[\]:*?/\\]", "-", text)[:31]


def _sheet_title(register: Register) -> str:
    kind = _("Sales") if register.direction == Direction.SALES else _("Purchases")
    return _sheet_name(f"{kind} {register.period.code}")


def register_filename(register: Register, extension: str) -> str:
    kind = "sprzedaz" if register.direction == Direction.SALES else "zakup"
    return f"rejestr-vat-{kind}-{register.period.code}.{extension}"


LEVEL_LABELS = {
    Level.ERROR: gettext_lazy("JPK wrong"),
    Level.CHECK: gettext_lazy("check"),
    Level.INFO: gettext_lazy("note"),
}

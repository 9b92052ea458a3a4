"""State changes for invoices and contractors: issuing, correcting, adding purchases, numbering.

Issuing is one transaction: the number is taken from the series under a row lock, so numbers are unique and
gapless even when many people issue at once (a rolled-back issue gives its number back). Totals are always
computed here from the lines, whatever the browser showed.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext

from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Company, Membership, Role, User
from accounts.nip import nip_is_valid, nip_normalize
from invoices import advances
from invoices.acceptance import Issue, acceptance_issues
from invoices.errors import InvoiceError, InvoiceInvalid
from invoices.models import (
    CORRECTION_KINDS,
    CORRECTION_OF,
    EU_COUNTRIES,
    MARGIN_RATE,
    Contractor,
    DeliveryLanguage,
    Direction,
    Gtu,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    KsefStatus,
    MarginScheme,
    NumberingCounter,
    NumberingReset,
    NumberingSeries,
    Procedure,
    ThirdPartyRole,
    VatRate,
)
from invoices.signals import invoice_edited, invoice_issued
from invoices.totals import (
    RateTotal,
    StatedTotals,
    invoice_sums,
    line_discount,
    line_net,
    line_vat,
    rate_percent,
    rate_totals,
    spread_discount,
    vat_in_gross,
)

logger = logging.getLogger(__name__)

DEFAULT_PATTERNS = {
    InvoiceKind.VAT: "FV/{n}/{MM}/{YYYY}",
    InvoiceKind.KOR: "KOR/{n}/{MM}/{YYYY}",
    InvoiceKind.ZAL: "FZ/{n}/{MM}/{YYYY}",
}
# A final invoice (ROZ) is a sales invoice of the main series: it takes the VAT series' next number. Every
# correction (of a VAT, an advance or a final invoice) takes the next number of the one KOR series.
_SERIES_KIND = {
    InvoiceKind.ROZ: InvoiceKind.VAT,
    InvoiceKind.KOR_ZAL: InvoiceKind.KOR,
    InvoiceKind.KOR_ROZ: InvoiceKind.KOR,
}
ISSUABLE_KINDS = (InvoiceKind.VAT, InvoiceKind.ZAL, InvoiceKind.ROZ)
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True)
class PartyData:
    """A buyer (on a sales invoice) or a seller (on a purchase invoice), as typed in the form."""

    name: str
    nip: str = ""
    foreign_id: str = ""
    address_line1: str = ""
    address_line2: str = ""
    country_code: str = "PL"
    email: str = ""
    bank_account: str = ""


@dataclass(frozen=True)
class LineData:
    name: str
    quantity: Decimal
    unit_price: Decimal
    vat_rate: str
    unit: str = ""
    discount_percent: Decimal | None = None  # P_10 = this percent of quantity x price
    gtu: str = ""  # GTU_01..GTU_13
    annex15: bool = False  # P_12_Zal_15
    procedure: str = ""  # Procedura: WSTO_EE, IED, TT_D …
    pkwiu: str = ""
    cn: str = ""
    gtin: str = ""
    index: str = ""  # Indeks: the seller's own product code
    sale_date: dt.date | None = None  # P_6A, where the line's sale date differs from the invoice's


@dataclass(frozen=True)
class ThirdPartyData:
    """``Podmiot3``: another party the invoice names, with its role (invoices.models.ThirdPartyRole)."""

    role: int
    party: PartyData


@dataclass(frozen=True)
class PartialPayment:
    """One part of the price paid before the invoice (``ZaplataCzesciowa``)."""

    amount: Decimal
    paid_on: dt.date


@dataclass(frozen=True)
class InvoiceData:
    party: PartyData
    lines: Sequence[LineData]
    issue_date: dt.date
    sale_date: dt.date | None = None
    period_from: dt.date | None = None  # a billing period instead of a sale date (both or neither)
    period_to: dt.date | None = None
    place_of_issue: str = ""
    currency: str = "PLN"
    exchange_rate: Decimal | None = None
    payment_method: int | None = None
    due_date: dt.date | None = None
    paid_on: dt.date | None = None  # paid in full on this day (cash, card, prepayment)
    bank_account: str = ""
    split_payment: bool = False
    cash_accounting: bool = False  # P_16 "metoda kasowa"
    self_billing: bool = False  # P_17 "samofakturowanie"
    related_parties: bool = False  # TP: buyer and seller are related (art. 32 ust. 2 pkt 1)
    partial_payments: tuple[PartialPayment, ...] = ()  # part of the price paid (not with paid_on)
    third_parties: tuple[ThirdPartyData, ...] = ()  # Podmiot3
    notes: str = ""
    number: str = ""  # only for purchase invoices; sales invoices are numbered by their series
    idempotency_key: uuid.UUID | None = None
    ksef_offline_mode: str = ""  # "offline24" when the issuer chose to issue offline (Wystaw)
    exemption_basis: str = ""  # ExemptionBasis, for lines at the "zw" rate
    exemption_text: str = ""
    # Wystaw only: VAT, ZAL (the lines are the order; ``advance_amount`` is the gross amount received) or
    # ROZ (the lines are the whole sale; ``advances`` are the uuids of the advance invoices it settles).
    kind: str = InvoiceKind.VAT
    advance_amount: Decimal | None = None
    advances: tuple[uuid.UUID, ...] = ()
    # Issue 22: e-mail the invoice (PDF + XML) to this address once KSeF accepted it; not part of FA(3).
    delivery_email: str = ""
    delivery_language: str = DeliveryLanguage.PL
    # Issue 19: the lines' prices include the tax (art. 106e ust. 7-8: P_9B, P_11A); a margin scheme
    # (MarginScheme: every line sold in it, priced as the buyer pays); a discount on the whole invoice, as
    # a percent or an amount (at most one), spread over the lines' P_10.
    prices_gross: bool = False
    margin_scheme: str = ""
    discount_percent: Decimal | None = None
    discount_amount: Decimal | None = None


@dataclass(frozen=True)
class CorrectionData:
    reason: str
    lines: Sequence[LineData]  # the invoice as it should be after the correction
    issue_date: dt.date
    notes: str = ""
    idempotency_key: uuid.UUID | None = None
    # None keeps the corrected invoice's exemption basis; a correction that adds "zw" lines may give one.
    exemption_basis: str | None = None
    exemption_text: str | None = None
    # A correction of an advance invoice (KOR_ZAL): the advance after it, gross (0: all of it given back).
    advance_amount: Decimal | None = None


# --- contractors ---------------------------------------------------------------------------------------


def _party_fields(data: PartyData) -> dict[str, str]:
    return {
        "nip": nip_normalize(data.nip),
        "foreign_id": "".join(data.foreign_id.split()).upper(),
        "name": data.name.strip(),
        "address_line1": data.address_line1.strip(),
        "address_line2": data.address_line2.strip(),
        "country_code": (data.country_code or "PL").strip().upper(),
        "email": data.email.strip(),
        "bank_account": data.bank_account.replace(" ", ""),
    }


def _third_party_snapshot(third: ThirdPartyData) -> dict[str, object]:
    fields = _party_fields(third.party)
    keys = ("name", "nip", "foreign_id", "address_line1", "address_line2", "country_code")
    return {"role": int(third.role)} | {key: fields[key] for key in keys}


def _party_check(fields: dict[str, str]) -> None:
    if not fields["name"]:
        raise InvoiceError(_("Enter the contractor's name."), code="party_name")
    if fields["nip"] and not nip_is_valid(fields["nip"]):
        raise InvoiceError(_("The contractor's NIP is not valid. Check it for typos."), code="party_nip")
    if not _COUNTRY.match(fields["country_code"]):
        raise InvoiceError(_("Enter a two-letter country code, e.g. PL."), code="party_country")


def contractor_upsert(*, company: Company, data: PartyData) -> Contractor:
    """Remember a contractor: by NIP when it has one (updating the data), else by exact name.

    The row is locked ``FOR NO KEY UPDATE`` (not ``FOR UPDATE``): an issuing transaction that only reads the
    contractor takes the series lock first and the foreign key's share lock on the contractor at its commit;
    a full ``FOR UPDATE`` held while waiting for that series would deadlock with it."""
    fields = _party_fields(data)
    _party_check(fields)
    if not fields["bank_account"]:
        fields.pop("bank_account")  # an invoice without an account number must not erase a known one
    if fields["nip"]:
        with transaction.atomic():
            found = Contractor.objects.select_for_update(no_key=True).filter(
                company=company, nip=fields["nip"]
            )
            existing = found.first()
            if existing is None:
                try:
                    with transaction.atomic():
                        return Contractor.objects.create(company=company, **fields)
                except IntegrityError:  # a concurrent issuer remembered it first
                    existing = found.get()
            for name, value in fields.items():
                setattr(existing, name, value)
            existing.save()
            return existing
    existing = Contractor.objects.filter(company=company, nip="", name=fields["name"]).first()
    if existing is None:
        return Contractor.objects.create(company=company, **fields)
    for name, value in fields.items():
        setattr(existing, name, value)
    existing.save()
    return existing


def _contractor_for_issue(*, company: Company, data: PartyData) -> Contractor:
    """``contractor_upsert`` inside an issuing transaction. A contractor invoiced again with the same data
    (the usual case) is only read: writing its row would lock it until the commit, and every issuer
    invoicing the same buyer would wait for the one before it. Its ``updated_at`` (Wystaw's "most recently
    used first") is moved once the invoice has committed, by a statement of its own."""
    fields = _party_fields(data)
    if not fields["bank_account"]:
        fields.pop("bank_account")
    found = Contractor.objects.filter(company=company, nip=fields["nip"])
    existing = found.first() if fields["nip"] else found.filter(name=fields["name"]).first()
    if existing is None or any(getattr(existing, name) != value for name, value in fields.items()):
        return contractor_upsert(company=company, data=data)
    pk = existing.pk
    transaction.on_commit(lambda: Contractor.objects.filter(pk=pk).update(updated_at=timezone.now()))
    return existing


# --- numbering -----------------------------------------------------------------------------------------


def number_format(pattern: str, *, n: int, on: dt.date) -> str:
    return (
        pattern.replace("{n}", str(n))
        .replace("{MM}", f"{on.month:02d}")
        .replace("{YYYY}", f"{on.year:04d}")
        .replace("{YY}", f"{on.year % 100:02d}")
    )


def number_preview(*, company: Company, kind: str, issue_date: dt.date) -> str:
    """The number the next invoice of ``kind`` dated ``issue_date`` would get now (nothing is reserved)."""
    kind = _SERIES_KIND.get(InvoiceKind(kind), InvoiceKind(kind))
    series = NumberingSeries.objects.filter(company=company, kind=kind).first()
    pattern = series.pattern if series is not None else DEFAULT_PATTERNS[kind]
    reset = series.reset if series is not None else NumberingReset.MONTHLY
    period = f"{issue_date:%Y}" if reset == NumberingReset.YEARLY else f"{issue_date:%Y-%m}"
    last = (
        NumberingCounter.objects.filter(series=series, period=period)
        .values_list("last_number", flat=True)
        .first()
        if series is not None
        else None
    )
    return number_format(pattern, n=(last or 0) + 1, on=issue_date)


def number_allocate(*, company: Company, kind: str, issue_date: dt.date) -> str:
    """The next number of the company's series for ``kind`` in the period of ``issue_date``.

    Must run inside the transaction that saves the invoice: the series row stays locked until it commits, so
    concurrent issuers queue here, and a rollback returns the number. Call it as the last step before the
    invoice is saved (everything else ready), so that the lock is held as briefly as possible.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("number_allocate must run inside the transaction that saves the invoice")
    kind = _SERIES_KIND.get(InvoiceKind(kind), InvoiceKind(kind))
    locked = NumberingSeries.objects.select_for_update().filter(company=company, kind=kind)
    series = locked.first()
    if series is None:  # the company's first invoice of this kind
        NumberingSeries.objects.get_or_create(
            company=company, kind=kind, defaults={"pattern": DEFAULT_PATTERNS[kind]}
        )
        series = locked.get()
    period = f"{issue_date:%Y}" if series.reset == NumberingReset.YEARLY else f"{issue_date:%Y-%m}"
    counter, _created = NumberingCounter.objects.get_or_create(series=series, period=period)
    counter.last_number += 1
    counter.save(update_fields=["last_number"])
    return number_format(series.pattern, n=counter.last_number, on=issue_date)


# --- invoices ------------------------------------------------------------------------------------------


def line_data_of(line: InvoiceLine) -> LineData:
    """What a saved line says, as the forms give it (a correction's "before" state, an edit's start)."""
    return LineData(
        line.name,
        line.quantity,
        line.unit_price_gross if line.unit_price_gross is not None else line.unit_price,
        line.vat_rate,
        line.unit,
        discount_percent=line.discount_percent,
        gtu=line.gtu,
        annex15=line.annex15,
        procedure=line.procedure,
        pkwiu=line.pkwiu,
        cn=line.cn,
        gtin=line.gtin,
        index=line.index,
        sale_date=line.sale_date,
    )


def _check_lines(lines: Sequence[LineData]) -> None:
    if not lines:
        raise InvoiceError(_("Add at least one line to the invoice."), code="no_lines")
    for line in lines:
        if not line.name.strip():
            raise InvoiceError(_("Every line needs a name."), code="line_name")
        if line.quantity < 0 or line.unit_price < 0:
            raise InvoiceError(_("Quantities and prices cannot be negative."), code="line_negative")
        if line.vat_rate not in VatRate.values and line.vat_rate != MARGIN_RATE:
            raise InvoiceError(_("Choose a VAT rate for every line."), code="line_rate")
        if line.discount_percent is not None and not 0 <= line.discount_percent <= 100:
            raise InvoiceError(_("A discount is a percent from 0 to 100."), code="line_discount")
        if line.gtu and line.gtu not in Gtu.values:
            raise InvoiceError(_("Choose a GTU code from the list."), code="line_gtu")
        if line.procedure and line.procedure not in Procedure.values:
            raise InvoiceError(_("Choose a procedure from the list."), code="line_procedure")


def _check_money(currency: str, exchange_rate: Decimal | None) -> None:
    if not _CURRENCY.match(currency):
        raise InvoiceError(_("Enter a three-letter currency code, e.g. PLN or EUR."), code="currency")
    if currency != "PLN" and exchange_rate is None:
        raise InvoiceError(_("An invoice in a foreign currency needs the exchange rate to PLN."), code="rate")
    if exchange_rate is not None and exchange_rate <= 0:
        raise InvoiceError(_("The exchange rate must be greater than zero."), code="rate")


def _amount_limit(model: type[Invoice] | type[InvoiceLine], name: str) -> Decimal:
    """The smallest amount the column (and the FA(3) amount type of the same size) cannot hold."""
    field = model._meta.get_field(name)
    if not isinstance(field, models.DecimalField):
        raise TypeError(f"{model.__name__}.{name} is not a decimal column")
    return Decimal(10) ** (field.max_digits - field.decimal_places)


def _limit_issues(
    lines: Sequence[LineData],
    *,
    currency: str,
    exchange_rate: Decimal | None,
    pricing: dict[str, object] | None = None,
) -> list[Issue]:
    """Amounts the database (and FA(3): TKwotowy, 16 digits before the point) cannot hold, found before any
    arithmetic that would overflow: a line's value, then the invoice's totals."""
    line_limit = _amount_limit(InvoiceLine, "gross_value")
    issues = []
    with localcontext() as exact:
        exact.prec = 80  # 16 + 14 digits before the point plus the fractions: never rounded here
        for index, line in enumerate(lines):
            net = line.quantity * line.unit_price
            if net * Decimal("1.23") >= line_limit:
                issues.append(
                    Issue(
                        _(
                            "The line's value (quantity x price) is too large: KSeF and the books take "
                            "amounts below 10 000 000 000 000 000."
                        ),
                        field="unit_price",
                        line=index,
                    )
                )
    if issues:
        return issues
    priced = Invoice(**(pricing or {}))
    objects = _line_objects(priced, lines)
    totals = rate_totals(
        objects, currency=currency, exchange_rate=exchange_rate, prices_gross=priced.prices_gross
    )
    invoice_limit = _amount_limit(Invoice, "total_gross")
    if (
        any(abs(total.gross) >= invoice_limit for total in totals)
        or sum((abs(total.gross) for total in totals), Decimal(0)) >= invoice_limit
    ):
        issues.append(
            Issue(
                _(
                    "The invoice's total is too large: KSeF and the books take amounts below "
                    "10 000 000 000 000 000. Split it into several invoices."
                )
            )
        )
    return issues


def _rate_issues(
    lines: Sequence[LineData], *, party: dict[str, str], exemption_basis: str, exemption_text: str
) -> list[Issue]:
    """What a Polish invoice must say for the rates it uses (art. 106e ust. 1 pkt 18-19, 24)."""
    rates = {line.vat_rate for line in lines}
    issues = []
    if VatRate.ZW in rates:
        if not exemption_basis:
            issues.append(
                Issue(
                    _(
                        "Lines at the exempt (zw) rate need the legal basis of the exemption: "
                        "choose its source."
                    ),
                    field="exemption_basis",
                )
            )
        if not exemption_text.strip():
            issues.append(
                Issue(
                    _("Give the provision the exemption rests on, e.g. art. 43 ust. 1 pkt 37 ustawy o VAT."),
                    field="exemption_text",
                )
            )
    if VatRate.OO in rates and not (party["nip"] and party["country_code"] == "PL"):
        issues.append(
            Issue(
                _("Reverse charge (oo) applies only to a Polish VAT payer: enter the buyer's NIP."),
                field="nip",
            )
        )
    country = party["country_code"]
    eu_buyer = country in EU_COUNTRIES and country != "PL"
    for rate, text in (
        (VatRate.ZERO_WDT, _("0% intra-EU supply (0 WDT) needs a buyer from another EU country")),
        (VatRate.NP_II, _("EU services outside Polish VAT (np II) need a buyer from another EU country")),
    ):
        if rate not in rates:
            continue
        if not eu_buyer:
            issues.append(
                Issue(_("%(rule)s: change the country code.") % {"rule": text}, field="country_code")
            )
        elif not party["foreign_id"]:
            issues.append(
                Issue(_("%(rule)s with a VAT-UE number: enter it.") % {"rule": text}, field="foreign_id")
            )
    if VatRate.ZERO_EX in rates and country in EU_COUNTRIES:
        issues.append(
            Issue(
                _("0% export (0 EX) applies to a buyer outside the European Union: change the country code."),
                field="country_code",
            )
        )
    return issues


def _pricing_fields(data: InvoiceData) -> dict[str, object]:
    """How the invoice's lines are priced (issue 19): gross prices, a margin scheme, a discount on the whole
    invoice. A margin scheme's lines are priced as the buyer pays, so the gross switch is moot there."""
    margin = data.margin_scheme if data.margin_scheme in MarginScheme.values else ""
    return {
        "prices_gross": data.prices_gross and not margin,
        "margin_scheme": margin,
        "discount_percent": data.discount_percent or None,
        "discount_amount": None if data.discount_percent else (data.discount_amount or None),
    }


def _net_unit_price(gross_price: Decimal, vat_rate: str) -> Decimal:
    """The net unit price a gross price stands for (kept for the books; FA(3) gets only ``P_9B``)."""
    pct = rate_percent(vat_rate)
    if pct is None:
        return gross_price
    return (gross_price * 100 / (100 + pct)).quantize(Decimal("0.00000001"))


def _line_objects(
    invoice: Invoice, lines: Sequence[LineData], *, before_correction: bool = False
) -> list[InvoiceLine]:
    """The invoice's lines with their amounts, priced as ``invoice`` says (net, gross or in a margin scheme,
    with its discount on the whole invoice spread over the lines)."""
    gross_priced = invoice.prices_gross or bool(invoice.margin_scheme)
    own = [line_discount(line.quantity, line.unit_price, line.discount_percent) for line in lines]
    values = [
        line_net(line.quantity, line.unit_price) - (off or 0) for line, off in zip(lines, own, strict=True)
    ]
    shares = spread_discount(values, percent=invoice.discount_percent, amount=invoice.discount_amount)
    objects = []
    for ordinal, line in enumerate(lines, start=1):
        rate = MARGIN_RATE if invoice.margin_scheme else line.vat_rate
        share = shares[ordinal - 1]
        value = values[ordinal - 1] - share
        discount = (own[ordinal - 1] or 0) + share if own[ordinal - 1] is not None or share else None
        if gross_priced:
            gross = value
            vat = vat_in_gross(gross, rate)
            net = gross - vat
        else:
            net = value
            vat = line_vat(net, rate)
            gross = net + vat
        objects.append(
            InvoiceLine(
                invoice=invoice,
                ordinal=ordinal,
                name=line.name.strip(),
                unit=line.unit.strip(),
                quantity=line.quantity,
                unit_price=_net_unit_price(line.unit_price, rate) if gross_priced else line.unit_price,
                unit_price_gross=line.unit_price if gross_priced else None,
                vat_rate=rate,
                net_value=net,
                vat_amount=vat,
                gross_value=gross,
                discount=discount,
                discount_percent=line.discount_percent if own[ordinal - 1] is not None else None,
                invoice_discount=share or None,
                gtu=line.gtu,
                annex15=line.annex15,
                procedure=line.procedure,
                pkwiu=line.pkwiu.strip(),
                cn=line.cn.strip(),
                gtin=line.gtin.strip(),
                index=line.index.strip(),
                sale_date=line.sale_date,
                before_correction=before_correction,
            )
        )
    return objects


def _totals_set(invoice: Invoice, lines: list[InvoiceLine]) -> None:
    """The invoice's totals: its lines', or what it states (advance and final invoices, see
    invoices.advances)."""
    stated = invoice.stated
    if stated is not None:
        totals = stated.rate_totals()
    else:
        totals = rate_totals(
            lines,
            currency=invoice.currency,
            exchange_rate=invoice.exchange_rate,
            prices_gross=invoice.prices_gross,
        )
    invoice.total_net, invoice.total_vat, invoice.total_gross = invoice_sums(totals)


def _save_with_lines(invoice: Invoice, lines: list[InvoiceLine]) -> Invoice:
    """Save ``invoice`` with its totals, and its lines."""
    _totals_set(invoice, lines)
    invoice.save()
    InvoiceLine.objects.bulk_create(lines)
    return invoice


def _save_numbered(invoice: Invoice, lines: list[InvoiceLine], *, kind: str, issue_date: dt.date) -> None:
    """Number ``invoice`` and save it with its lines. Everything is computed before the number is taken:
    from then on the series row is locked until the commit, and every other issuer of the series waits."""
    _totals_set(invoice, lines)
    invoice.number = number_allocate(company=invoice.company, kind=kind, issue_date=issue_date)
    invoice.save()
    InvoiceLine.objects.bulk_create(lines)


def _idempotent(
    company: Company, key: uuid.UUID | None, create: object, *, looked_up: bool = False
) -> Invoice:
    """Run ``create`` once per form key: a repeated submit returns the invoice the first one made.
    ``looked_up``: the caller has just found no invoice with the key (a concurrent one still loses below)."""
    if key is not None and not looked_up:
        existing = Invoice.objects.filter(company=company, idempotency_key=key).first()
        if existing is not None:
            return existing
    try:
        with transaction.atomic():
            invoice: Invoice = create()  # type: ignore[operator]
    except IntegrityError:
        if key is not None:
            existing = Invoice.objects.filter(company=company, idempotency_key=key).first()
            if existing is not None:  # a concurrent submit of the same form won the race
                return existing
        raise
    return invoice


def _seller_from_company(company: Company) -> dict[str, str]:
    return {
        "seller_name": company.name,
        "seller_nip": company.nip,
        "seller_address_line1": company.address_line1,
        "seller_address_line2": company.address_line2,
        "seller_country_code": company.country_code,
        "seller_krs": company.krs,
        "seller_regon": company.regon,
        "seller_bdo": company.bdo,
    }


def _buyer_from_company(company: Company) -> dict[str, str]:
    return {
        "buyer_name": company.name,
        "buyer_nip": company.nip,
        "buyer_address_line1": company.address_line1,
        "buyer_address_line2": company.address_line2,
        "buyer_country_code": company.country_code,
        "buyer_email": company.email,
    }


def _party_snapshot(prefix: str, fields: dict[str, str]) -> dict[str, str]:
    snapshot = {
        f"{prefix}_name": fields["name"],
        f"{prefix}_nip": fields["nip"],
        f"{prefix}_foreign_id": fields["foreign_id"],
        f"{prefix}_address_line1": fields["address_line1"],
        f"{prefix}_address_line2": fields["address_line2"],
        f"{prefix}_country_code": fields["country_code"],
    }
    if prefix == "buyer":
        snapshot["buyer_email"] = fields["email"]
    return snapshot


MPP_THRESHOLD_PLN = Decimal(15000)


def split_payment_required(
    lines: Sequence[LineData],
    *,
    currency: str,
    exchange_rate: Decimal | None,
    pricing: dict[str, object] | None = None,
) -> bool:
    """Art. 106e ust. 1 pkt 18a: an invoice with goods or services of Annex 15 whose gross total is above
    15,000 PLN (a foreign-currency one at its exchange rate) must carry "mechanizm podzielonej płatności"
    (P_18A); below it, split payment stays the issuer's choice."""
    if not any(line.annex15 for line in lines):
        return False
    priced = Invoice(**(pricing or {}))
    totals = rate_totals(
        _line_objects(priced, lines),
        currency=currency,
        exchange_rate=exchange_rate,
        prices_gross=priced.prices_gross,
    )
    gross = invoice_sums(totals)[2]
    rate = Decimal(1) if currency == "PLN" else exchange_rate
    return rate is not None and gross * rate > MPP_THRESHOLD_PLN


def _common_fields(data: InvoiceData, *, issued_here: bool = True) -> dict[str, object]:
    """The fields every invoice takes from the form. ``issued_here``: a sales invoice the portal issues gets
    split payment where the law requires it; a purchase invoice keeps what its seller wrote."""
    exempt = not data.margin_scheme and any(line.vat_rate == VatRate.ZW for line in data.lines)
    return {
        "exemption_basis": data.exemption_basis if exempt else "",
        "exemption_text": " ".join(data.exemption_text.split()) if exempt else "",
        "issue_date": data.issue_date,
        "sale_date": None if data.period_from else data.sale_date,
        "period_from": data.period_from,
        "period_to": data.period_to if data.period_from else None,
        "place_of_issue": data.place_of_issue.strip(),
        "currency": data.currency,
        "exchange_rate": data.exchange_rate if data.currency != "PLN" else None,
        "payment_method": data.payment_method,
        "due_date": data.due_date,
        "paid_on": data.paid_on,
        "bank_account": data.bank_account.replace(" ", ""),
        "split_payment": data.split_payment
        or (
            issued_here
            and split_payment_required(
                data.lines,
                currency=data.currency,
                exchange_rate=data.exchange_rate,
                pricing=_pricing_fields(data),
            )
        ),
        "cash_accounting": data.cash_accounting,
        "self_billing": data.self_billing,
        "related_parties": data.related_parties,
        "third_parties": [_third_party_snapshot(third) for third in data.third_parties],
        "partial_payments": []
        if data.paid_on
        else [
            {"amount": f"{part.amount:f}", "paid_on": part.paid_on.isoformat()}
            for part in data.partial_payments
        ],
        "notes": data.notes.strip(),
        **_pricing_fields(data),
        **_delivery_fields(data),
    }


def _delivery_fields(data: InvoiceData) -> dict[str, str]:
    """Where and in which language the invoice is e-mailed to its buyer (issue 22)."""
    language = (
        data.delivery_language if data.delivery_language in DeliveryLanguage.values else DeliveryLanguage.PL
    )
    return {"delivery_email": data.delivery_email.strip(), "delivery_language": language}


def _delivery_remember(contractor: Contractor, data: InvoiceData) -> None:
    """The contractor keeps the address and language of its last invoice: Wystaw offers them next time."""
    fields = _delivery_fields(data)
    if any(getattr(contractor, name) != value for name, value in fields.items()):
        Contractor.objects.filter(pk=contractor.pk).update(**fields)


def _refuse_unless_acceptable(
    *, invoice: Invoice, before: list[InvoiceLine], after: list[InvoiceLine]
) -> None:
    """Raise InvoiceInvalid when KSeF would refuse the unsaved ``invoice`` (see invoices.acceptance); issues
    about the lines are turned into issues about the form's lines (the "after" lines of a correction)."""
    issues = []
    for issue in acceptance_issues(invoice=invoice, lines=[*before, *after]):
        if issue.line is None:
            issues.append(issue)
        elif issue.line >= len(before):
            issues.append(Issue(issue.message, field=issue.field, line=issue.line - len(before)))
        else:
            issues.append(
                Issue(
                    _("Line %(number)s before the correction: %(message)s")
                    % {"number": issue.line + 1, "message": issue.message}
                )
            )
    if issues:
        raise InvoiceInvalid(issues)


def _third_party_issues(data: InvoiceData) -> list[Issue]:
    issues = []
    for third in data.third_parties:
        fields = _party_fields(third.party)
        if third.role not in ThirdPartyRole.values:
            issues.append(Issue(_("Choose the other party's role."), field="third_role"))
        if not fields["name"]:
            issues.append(Issue(_("Enter the other party's name."), field="third_name"))
        if fields["nip"] and not nip_is_valid(fields["nip"]):
            issues.append(Issue(_("The NIP is not valid. Check it for typos."), field="third_nip"))
    return issues


def _pricing_issues(data: InvoiceData) -> list[Issue]:
    """Gross prices, a margin scheme and a discount on the whole invoice (issue 19): what they allow."""
    issues = []
    if data.margin_scheme and data.margin_scheme not in MarginScheme.values:
        issues.append(Issue(_("Choose a margin scheme from the list."), field="margin_scheme"))
    if data.discount_percent and data.discount_amount:
        issues.append(
            Issue(
                _("Give the discount either as a percent or as an amount, not both."), field="discount_amount"
            )
        )
    if data.discount_percent is not None and not 0 <= data.discount_percent <= 100:
        issues.append(Issue(_("A discount is a percent from 0 to 100."), field="discount_percent"))
    if data.discount_amount is not None and data.discount_amount < 0:
        issues.append(Issue(_("A discount cannot be negative."), field="discount_amount"))
    elif data.discount_amount and not data.discount_percent:
        values = [
            line_net(line.quantity, line.unit_price)
            - (line_discount(line.quantity, line.unit_price, line.discount_percent) or 0)
            for line in data.lines
        ]
        total = sum(values, Decimal("0.00"))
        if data.discount_amount > total:
            issues.append(
                Issue(
                    _("The discount is larger than the value of the lines (%(total)s).")
                    % {"total": f"{total:.2f}".replace(".", ",")},
                    field="discount_amount",
                )
            )
    if data.kind in (InvoiceKind.ZAL, InvoiceKind.ROZ):
        message = _("Not available on advance and final invoices yet: issue them at net prices without it.")
        for name, used in (
            ("prices_gross", data.prices_gross),
            ("margin_scheme", bool(data.margin_scheme)),
            ("discount_percent", bool(data.discount_percent)),
            ("discount_amount", bool(data.discount_amount)),
        ):
            if used:
                issues.append(Issue(message, field=name))
    return issues


def _sales_checks(data: InvoiceData, party: dict[str, str]) -> None:
    """Our own rules and the database's limits, before the invoice is built for the acceptance check."""
    pricing_issues = _pricing_issues(data)
    if pricing_issues:
        raise InvoiceInvalid(pricing_issues)
    issues = (
        _third_party_issues(data)
        + (
            []
            if data.margin_scheme  # no rates: every line is sold in the margin scheme
            else _rate_issues(
                data.lines,
                party=party,
                exemption_basis=data.exemption_basis,
                exemption_text=data.exemption_text,
            )
        )
        + _limit_issues(
            data.lines,
            currency=data.currency,
            exchange_rate=data.exchange_rate,
            pricing=_pricing_fields(data),
        )
    )
    if issues:
        raise InvoiceInvalid(issues)


def _announce(invoice: Invoice) -> None:
    transaction.on_commit(lambda: invoice_issued.send(sender=Invoice, invoice=invoice))


def _advance_issues(advance: Invoice, party: dict[str, str], currency: str) -> list[Issue]:
    """Why ``advance`` cannot be settled by a final invoice to ``party`` in ``currency``."""
    label = {"number": advance.number}
    if advance.settled_by_id is not None:
        return [Issue(_("The advance invoice %(number)s is already settled.") % label, field="advances")]
    if (advance.buyer_nip, advance.buyer_foreign_id) != (party["nip"], party["foreign_id"]):
        return [
            Issue(_("The advance invoice %(number)s was issued to another buyer.") % label, field="advances")
        ]
    if advance.currency != currency:
        return [
            Issue(
                _("The advance invoice %(number)s is in %(currency)s: settle it in the same currency.")
                % {**label, "currency": advance.currency},
                field="advances",
            )
        ]
    if advance.ksef_status in (KsefStatus.REJECTED, KsefStatus.FAILED_LOCAL):
        return [
            Issue(
                _("KSeF has not accepted the advance invoice %(number)s: correct it and send it first.")
                % label,
                field="advances",
            )
        ]
    if not advance.ksef_number and advance.ksef_status in (
        KsefStatus.QUEUED,
        KsefStatus.SENT,
        KsefStatus.OFFLINE,
    ):
        return [
            Issue(
                _(
                    "The advance invoice %(number)s is still on its way to KSeF: the final invoice must cite "
                    "its KSeF number. Issue it once KSeF has accepted the advance."
                )
                % label,
                field="advances",
            )
        ]
    pending = (
        Invoice.objects.filter(
            corrected_invoice=advance,
            kind=InvoiceKind.KOR_ZAL,
            ksef_number__isnull=True,
            ksef_status__in=(KsefStatus.QUEUED, KsefStatus.SENT, KsefStatus.OFFLINE),
        )
        .values_list("number", flat=True)
        .first()
    )
    if pending is not None:
        # The final invoice deducts the advance as corrected; were KSeF to refuse the correction, it would
        # have deducted an amount that never took effect.
        return [
            Issue(
                _(
                    "The correction %(correction)s of the advance invoice %(number)s is still on its way to "
                    "KSeF: issue the final invoice once KSeF has accepted it."
                )
                % {**label, "correction": pending},
                field="advances",
            )
        ]
    return []


def _advance_amounts(
    *, company: Company, data: InvoiceData, party: dict[str, str], lock: bool = False
) -> tuple[StatedTotals | None, list[Invoice]]:
    """What an advance (ZAL) or final (ROZ) invoice states, and the advance invoices a ROZ settles; raises
    InvoiceInvalid with the form field to show. ``lock``: inside the issuing transaction, the advances'
    rows are locked so that two final invoices cannot settle the same advance."""
    lines = _line_objects(Invoice(), data.lines)
    if data.kind == InvoiceKind.ZAL:
        if data.advance_amount is None:
            raise InvoiceInvalid([Issue(_("Enter the advance received (gross)."), field="advance_amount")])
        try:
            split = advances.advance_split(
                lines, data.advance_amount, currency=data.currency, exchange_rate=data.exchange_rate
            )
        except advances.AdvanceProblem as exc:
            raise InvoiceInvalid([Issue(str(exc), field="advance_amount")]) from exc
        return StatedTotals(rates=tuple(split), gross=data.advance_amount), []
    if data.kind != InvoiceKind.ROZ:
        return None, []
    if not data.advances:
        raise InvoiceInvalid(
            [Issue(_("Choose the advance invoices this final invoice settles."), field="advances")]
        )
    found = Invoice.objects.filter(
        company=company, direction=Direction.SALES, kind=InvoiceKind.ZAL, uuid__in=data.advances
    ).order_by("issue_date", "id")
    settled = list(found.select_for_update() if lock else found)
    if len(settled) != len(set(data.advances)):
        raise InvoiceInvalid([Issue(_("An advance invoice chosen is no longer there."), field="advances")])
    issues = [issue for advance in settled for issue in _advance_issues(advance, party, data.currency)]
    if issues:
        raise InvoiceInvalid(issues)
    whole = rate_totals(lines, currency=data.currency, exchange_rate=data.exchange_rate)
    # an advance corrected (KOR_ZAL) before it is settled is deducted as it stands after its corrections
    deducted = [
        stated.rate_totals() if (stated := invoice_stated_now(original=advance)) else []
        for advance in settled
    ]
    try:
        rates = advances.settlement_totals(whole, deducted)
    except advances.AdvanceProblem as exc:
        raise InvoiceInvalid([Issue(str(exc), field="advances")]) from exc
    return StatedTotals(rates=tuple(rates), gross=invoice_sums(rates)[2]), settled


def _advance_refs(settled: Sequence[Invoice]) -> list[dict[str, str]]:
    """``FakturaZaliczkowa`` as the final invoice keeps it: each advance's number and KSeF number."""
    return [{"number": advance.number, "ksef_number": advance.ksef_number or ""} for advance in settled]


def invoice_issue(*, company: Company, user: User | None, data: InvoiceData) -> Invoice:
    """Issue a sales invoice (VAT, or an advance ZAL or final ROZ invoice): number it, snapshot seller and
    buyer, save lines and totals; a final invoice marks the advance invoices it settles.

    ``invoice_issued`` is sent once the transaction has committed. Submitting the same form twice (same
    ``idempotency_key``) returns the first invoice.
    """
    if data.kind not in ISSUABLE_KINDS:
        raise InvoiceError(_("Choose the kind of invoice."), code="kind")
    kind = InvoiceKind(data.kind)
    _check_lines(data.lines)
    _check_money(data.currency, data.exchange_rate)
    party = _party_fields(data.party)
    _party_check(party)

    def build(number: str, stated: StatedTotals | None, settled: Sequence[Invoice]) -> Invoice:
        return Invoice(
            company=company,
            direction=Direction.SALES,
            kind=kind,
            number=number,
            created_by=user,
            idempotency_key=data.idempotency_key,
            ksef_offline_mode=data.ksef_offline_mode,
            stated_totals=None if stated is None else stated.to_json(),
            advance_refs=_advance_refs(settled),
            **_seller_from_company(company),
            **_party_snapshot("buyer", party),
            **_common_fields(data),
        )

    def create() -> Invoice:
        stated, settled = _advance_amounts(company=company, data=data, party=party, lock=True)
        contractor = _contractor_for_issue(company=company, data=data.party)
        _delivery_remember(contractor, data)
        invoice = build("", stated, settled)
        invoice.contractor = contractor
        _save_numbered(invoice, _line_objects(invoice, data.lines), kind=kind, issue_date=data.issue_date)
        if settled:
            Invoice.objects.filter(pk__in=[advance.pk for advance in settled]).update(settled_by=invoice)
        _announce(invoice)
        logger.info("invoice issued: company=%s invoice=%s kind=%s", company.uuid, invoice.uuid, kind)
        return invoice

    if data.idempotency_key is not None and (
        Invoice.objects.filter(company=company, idempotency_key=data.idempotency_key).exists()
    ):
        return _idempotent(company, data.idempotency_key, create)  # a repeated submit: the first invoice
    _sales_checks(data, party)
    stated, settled = _advance_amounts(company=company, data=data, party=party)
    # Checked with the number it would get now; the number itself is taken only once the invoice is valid.
    preview = build(number_preview(company=company, kind=kind, issue_date=data.issue_date), stated, settled)
    _refuse_unless_acceptable(invoice=preview, before=[], after=_line_objects(preview, data.lines))
    return _idempotent(company, data.idempotency_key, create, looked_up=data.idempotency_key is not None)


def invoice_edit(*, invoice: Invoice, user: User | None, data: InvoiceData) -> Invoice:
    """Change a sales invoice KSeF did not accept (same number), then ask for it to be sent again.

    Such an invoice does not legally exist yet, so it is corrected in place rather than by a KOR. The row is
    locked and its state checked again inside the transaction, so a resend that started meanwhile wins and
    the edit is refused. ``invoice_edited`` is sent once the change has committed.
    """
    _check_lines(data.lines)
    _check_money(data.currency, data.exchange_rate)
    party = _party_fields(data.party)
    _party_check(party)
    _sales_checks(data, party)
    preview = Invoice(
        company=invoice.company,
        direction=Direction.SALES,
        kind=InvoiceKind.VAT,
        number=invoice.number,
        ksef_offline_mode=invoice.ksef_offline_mode,
        **_seller_from_company(invoice.company),
        **_party_snapshot("buyer", party),
        **_common_fields(data),
    )
    _refuse_unless_acceptable(invoice=preview, before=[], after=_line_objects(preview, data.lines))
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().select_related("company").get(pk=invoice.pk)
        if not locked.can_be_edited():
            raise InvoiceError(
                _("This invoice can no longer be changed: it is not in the rejected state any more."),
                code="not_editable",
            )
        company = locked.company
        locked.contractor = contractor_upsert(company=company, data=data.party)
        fields = {**_seller_from_company(company), **_party_snapshot("buyer", party), **_common_fields(data)}
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.lines.all().delete()
        _save_with_lines(locked, _line_objects(locked, data.lines))
        transaction.on_commit(lambda: invoice_edited.send(sender=Invoice, invoice=locked))
    logger.info("rejected invoice changed: company=%s invoice=%s", company.uuid, locked.uuid)
    return locked


def _corrections_in_effect(original: Invoice) -> models.QuerySet[Invoice]:
    """The corrections of ``original`` that count, oldest first: a correction KSeF rejected (or that was
    stopped before sending) never took effect."""
    return (
        Invoice.objects.filter(corrected_invoice=original, kind__in=CORRECTION_KINDS)
        .exclude(ksef_status__in=(KsefStatus.REJECTED, KsefStatus.FAILED_LOCAL))
        .order_by("id")
    )


def invoice_current_lines(*, original: Invoice) -> list[InvoiceLine]:
    """The lines as they stand now: those of the latest correction's "after" state, else the original's
    (an advance invoice's lines are the order's positions)."""
    latest = _corrections_in_effect(original).last()
    source = latest or original
    return list(source.lines.filter(before_correction=False).order_by("ordinal"))


def invoice_stated_now(*, original: Invoice) -> StatedTotals | None:
    """What an advance (ZAL) or final (ROZ) invoice states once its corrections are counted: the amounts it
    was issued with plus each correction's change (``P_13_x``/``P_14_x``/``P_15`` of a KOR_ZAL/KOR_ROZ are
    differences). None for the kinds whose amounts follow from their lines."""
    stated = original.stated
    if stated is None or original.kind not in (InvoiceKind.ZAL, InvoiceKind.ROZ):
        return None
    states = [stated.rate_totals()]
    gross = stated.gross
    for correction in _corrections_in_effect(original):
        change = correction.stated
        if change is not None:
            states.append(change.rate_totals())
            gross += change.gross
    return StatedTotals(rates=tuple(advances.rate_sum(*states)), gross=gross)


def invoice_correction_check(*, original: Invoice) -> None:
    """Raise InvoiceError, with the reason for the user, unless ``original`` can be corrected now."""
    if original.correction_waits_for_ksef_number():
        raise InvoiceError(
            _(
                "Wait for the KSeF number: a correction must cite it, and this invoice "
                "gets it once KSeF accepts it."
            ),
            code="awaiting_ksef_number",
        )
    if original.kind == InvoiceKind.ZAL and original.settled_by_id is not None:
        settled_by = (
            Invoice.objects.filter(pk=original.settled_by_id).values_list("number", flat=True).first()
        )
        raise InvoiceError(
            _(
                "The final invoice %(number)s has settled this advance invoice: correct the final invoice "
                "instead."
            )
            % {"number": settled_by or ""},
            code="advance_settled",
        )
    if not original.can_be_corrected():
        raise InvoiceError(
            _("Only sales VAT, advance and final invoices issued here can be corrected."),
            code="not_correctable",
        )


def _correction_amounts(
    *, original: Invoice, lines: Sequence[InvoiceLine], data: CorrectionData
) -> StatedTotals | None:
    """What a correction of an advance (KOR_ZAL) or final (KOR_ROZ) invoice states: per rate, after less
    before (``P_13_x``/``P_14_x``), the change of the amount (``P_15``) and the amount before (``P_15ZK``).
    ``lines``: the lines after the correction. None for a KOR, whose totals follow from its lines."""
    if original.kind not in (InvoiceKind.ZAL, InvoiceKind.ROZ):
        return None
    before = invoice_stated_now(original=original)
    if before is None:  # an advance or final invoice always states its amounts; nothing to correct from
        raise InvoiceError(_("This invoice does not state its amounts."), code="not_correctable")
    currency, rate = original.currency, original.exchange_rate
    if original.kind == InvoiceKind.ZAL:
        amount = data.advance_amount
        if amount is None:
            raise InvoiceInvalid(
                [Issue(_("Enter the advance after the correction (gross)."), field="advance_amount")]
            )
        if amount < 0:
            raise InvoiceInvalid([Issue(_("The advance cannot be negative."), field="advance_amount")])
        after: list[RateTotal] = []  # zero: the whole advance was given back, nothing of it stays taxed
        if amount > 0:
            try:
                after = advances.advance_split(lines, amount, currency=currency, exchange_rate=rate)
            except advances.AdvanceProblem as exc:
                raise InvoiceInvalid([Issue(str(exc), field="advance_amount")]) from exc
    else:
        deducted = [
            stated.rate_totals()
            for advance in original.settled_advances.order_by("issue_date", "id")
            if (stated := invoice_stated_now(original=advance)) is not None
        ]
        whole = rate_totals(lines, currency=currency, exchange_rate=rate)
        try:
            after = advances.settlement_totals(whole, deducted)
        except advances.AdvanceProblem as exc:
            raise InvoiceInvalid([Issue(str(exc))]) from exc
        amount = invoice_sums(after)[2]
    change = advances.rate_differences(after, before.rate_totals())
    return StatedTotals(rates=tuple(change), gross=amount - before.gross, paid_before=before.gross)


def invoice_correct(*, original: Invoice, user: User | None, data: CorrectionData) -> Invoice:
    """Issue a correction of a sales invoice: the lines before (as they stand) and after the change.

    A VAT invoice gets a KOR; an advance invoice a KOR_ZAL (its lines are the order, and the advance may
    change too: ``data.advance_amount``); a final invoice a KOR_ROZ (the advances it settled stay deducted,
    and it cites them again). All are numbered in the KOR series."""
    invoice_correction_check(original=original)
    kind = CORRECTION_OF[InvoiceKind(original.kind)]
    reason = data.reason.strip()
    if not reason:
        raise InvoiceError(_("Give the reason for the correction."), code="reason")
    _check_lines(data.lines)
    if data.issue_date < original.issue_date:
        raise InvoiceError(
            _("A correction cannot be dated before the invoice it corrects."), code="correction_date"
        )
    company = original.company
    exempt = not original.margin_scheme and any(line.vat_rate == VatRate.ZW for line in data.lines)
    exemption_basis = original.exemption_basis if data.exemption_basis is None else data.exemption_basis
    exemption_text = original.exemption_text if data.exemption_text is None else data.exemption_text

    def before_lines() -> list[LineData]:
        return [line_data_of(line) for line in invoice_current_lines(original=original)]

    def build(number: str, stated: StatedTotals | None) -> Invoice:
        return Invoice(
            company=company,
            direction=Direction.SALES,
            kind=kind,
            number=number,
            issue_date=data.issue_date,
            sale_date=original.sale_date,
            period_from=original.period_from,
            period_to=original.period_to,
            place_of_issue=original.place_of_issue,
            contractor=original.contractor,
            **_seller_from_company(company),
            buyer_name=original.buyer_name,
            buyer_nip=original.buyer_nip,
            buyer_foreign_id=original.buyer_foreign_id,
            buyer_address_line1=original.buyer_address_line1,
            buyer_address_line2=original.buyer_address_line2,
            buyer_country_code=original.buyer_country_code,
            buyer_email=original.buyer_email,
            delivery_email=original.delivery_email,
            delivery_language=original.delivery_language,
            currency=original.currency,
            exchange_rate=original.exchange_rate,
            payment_method=original.payment_method,
            due_date=original.due_date,
            bank_account=original.bank_account,
            split_payment=original.split_payment,
            cash_accounting=original.cash_accounting,
            self_billing=original.self_billing,
            related_parties=original.related_parties,
            # priced as the corrected invoice is, so its lines before the correction come out as they were
            prices_gross=original.prices_gross,
            margin_scheme=original.margin_scheme,
            discount_percent=original.discount_percent,
            discount_amount=original.discount_amount,
            notes=data.notes.strip(),
            exemption_basis=exemption_basis if exempt else "",
            exemption_text=" ".join(exemption_text.split()) if exempt else "",
            corrected_invoice=original,
            correction_reason=reason,
            corrected_number=original.number,
            corrected_issue_date=original.issue_date,
            corrected_ksef_number=original.ksef_number or "",
            # A final invoice's correction cites the advances it settled again (FakturaZaliczkowa).
            advance_refs=list(original.advance_refs) if kind == InvoiceKind.KOR_ROZ else [],
            stated_totals=None if stated is None else stated.to_json(),
            created_by=user,
            idempotency_key=data.idempotency_key,
        )

    def create() -> Invoice:
        # The corrected invoice's row is locked, so two corrections issued at once follow each other and a
        # final invoice settling this advance meanwhile (it locks the advance too) is seen here.
        invoice_correction_check(original=Invoice.objects.select_for_update().get(pk=original.pk))
        stated = _correction_amounts(original=original, lines=_line_objects(Invoice(), data.lines), data=data)
        invoice = build("", stated)
        invoice.contractor = original.contractor
        before = before_lines()
        lines = _line_objects(invoice, before, before_correction=True) + _line_objects(invoice, data.lines)
        _save_numbered(invoice, lines, kind=kind, issue_date=data.issue_date)
        _announce(invoice)
        logger.info(
            "correction issued: company=%s invoice=%s kind=%s of=%s",
            company.uuid,
            invoice.uuid,
            kind,
            original.uuid,
        )
        return invoice

    if data.idempotency_key is not None and (
        Invoice.objects.filter(company=company, idempotency_key=data.idempotency_key).exists()
    ):
        return _idempotent(company, data.idempotency_key, create)  # a repeated submit: the first invoice
    party = {
        "nip": original.buyer_nip,
        "foreign_id": original.buyer_foreign_id,
        "country_code": original.buyer_country_code,
    }
    pricing: dict[str, object] = {
        "prices_gross": original.prices_gross,
        "margin_scheme": original.margin_scheme,
        "discount_percent": original.discount_percent,
        "discount_amount": original.discount_amount,
    }
    issues = (
        []
        if original.margin_scheme
        else _rate_issues(
            data.lines, party=party, exemption_basis=exemption_basis, exemption_text=exemption_text
        )
    ) + _limit_issues(
        data.lines, currency=original.currency, exchange_rate=original.exchange_rate, pricing=pricing
    )
    if original.discount_amount:
        # the corrected invoice's discount stays as it was, spread over the lines after the correction
        after = sum(
            (
                line_net(line.quantity, line.unit_price)
                - (line_discount(line.quantity, line.unit_price, line.discount_percent) or 0)
                for line in data.lines
            ),
            Decimal("0.00"),
        )
        if after < original.discount_amount:
            issues.append(
                Issue(
                    _(
                        "The invoice's discount of %(amount)s is larger than the value of the lines after "
                        "the correction (%(total)s)."
                    )
                    % {
                        "amount": f"{original.discount_amount:.2f}".replace(".", ","),
                        "total": f"{after:.2f}".replace(".", ","),
                    }
                )
            )
    if issues:
        raise InvoiceInvalid(issues)
    stated = _correction_amounts(original=original, lines=_line_objects(Invoice(), data.lines), data=data)
    preview = build(number_preview(company=company, kind=kind, issue_date=data.issue_date), stated)
    _refuse_unless_acceptable(
        invoice=preview,
        before=_line_objects(preview, before_lines(), before_correction=True),
        after=_line_objects(preview, data.lines),
    )
    return _idempotent(company, data.idempotency_key, create, looked_up=data.idempotency_key is not None)


def invoice_purchase_add(*, company: Company, user: User | None, data: InvoiceData) -> Invoice:
    """Record a purchase invoice received outside KSeF (typed in by hand). It is never sent anywhere."""
    _check_lines(data.lines)
    _check_money(data.currency, data.exchange_rate)
    party = _party_fields(data.party)
    _party_check(party)
    number = data.number.strip()
    if not number:
        raise InvoiceError(_("Enter the invoice number as printed on it."), code="number")
    issues = _pricing_issues(data) or _limit_issues(
        data.lines, currency=data.currency, exchange_rate=data.exchange_rate, pricing=_pricing_fields(data)
    )
    if issues:
        raise InvoiceInvalid(issues)

    def create() -> Invoice:
        contractor = contractor_upsert(company=company, data=data.party)
        invoice = Invoice(
            company=company,
            direction=Direction.PURCHASE,
            kind=InvoiceKind.VAT,
            number=number,
            contractor=contractor,
            created_by=user,
            idempotency_key=data.idempotency_key,
            **_party_snapshot("seller", party),
            **_buyer_from_company(company),
            **_common_fields(data, issued_here=False),
        )
        return _save_with_lines(invoice, _line_objects(invoice, data.lines))

    return _idempotent(company, data.idempotency_key, create)


def invoice_mark_opened(*, invoice: Invoice, membership: Membership) -> None:
    """An imported invoice stops being "new" (the Zakupy marker, one for the whole company) once someone
    who acts on invoices (an owner or an accountant) opens it; a viewer looking at it changes nothing."""
    if membership.company_id != invoice.company_id or membership.role not in (Role.OWNER, Role.ACCOUNTANT):
        return
    if invoice.is_new:
        Invoice.objects.filter(pk=invoice.pk).update(is_new=False)
        invoice.is_new = False

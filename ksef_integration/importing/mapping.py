"""An FA(3) invoice from a KSeF export → ``invoices`` records (contractor, invoice, lines) + the original XML.

Upsert by (company, KSeF number): an invoice KSeF already gave us is left as it is (KSeF invoices never
change), and an invoice the portal sent itself is recognised by identity (the KSeF number its submission
got, or the SHA-256 of the XML we sent) instead of being imported a second time. A document of another
issuer with the same number as one of ours is imported as a separate invoice, with a warning on it.

An imported invoice shows what its issuer wrote: ``stated_kind`` (RodzajFaktury) and ``stated_totals``
(P_13_x/P_14_x/P_14_xW, P_15, Rozliczenie) are kept beside the lines; nothing the XML states is recomputed.
Values are bounded to what the columns hold. An invoice that still cannot be stored is kept as an
``ImportFailure`` (KSeF number, XML, reason) and the rest of the window is stored all the same.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Company
from invoices.errors import InvoiceError
from invoices.models import (
    MARGIN_RATE,
    Contractor,
    Direction,
    Gtu,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    KsefStatus,
    MarginScheme,
    Procedure,
    VatRate,
)
from invoices.services import PartyData, contractor_upsert
from invoices.signals import invoice_imported
from invoices.totals import (
    MARGIN,
    OSS,
    RateTotal,
    Settlement,
    SettlementEntry,
    StatedTotals,
    line_vat,
    rate_percent,
    round_half_up,
)
from ksef_integration.fa3 import model as fa3
from ksef_integration.fa3.parser import parse_invoice, settlement_parse
from ksef_integration.ksef.crypto import sha256_b64
from ksef_integration.ksef.invoices import InvoiceMetadata, invoice_metadata_parse
from ksef_integration.models import ImportedDocument, ImportFailure, SubjectType, Submission

logger = logging.getLogger(__name__)

_KINDS = {
    fa3.InvoiceKind.VAT: InvoiceKind.VAT,
    fa3.InvoiceKind.UPR: InvoiceKind.VAT,
    fa3.InvoiceKind.ROZ: InvoiceKind.VAT,
    fa3.InvoiceKind.ZAL: InvoiceKind.ZAL,
    fa3.InvoiceKind.KOR: InvoiceKind.KOR,
    fa3.InvoiceKind.KOR_ZAL: InvoiceKind.KOR,
    fa3.InvoiceKind.KOR_ROZ: InvoiceKind.KOR,
}
# A line without P_12 (margin scheme, OSS): the local rate is only used for summaries, the XML is kept as is.
_NO_RATE = VatRate.ZW
# The rate a P_13_x group is shown with when its lines do not name one rate (or there are no lines).
_BUCKET_RATES = {
    "1": "23", "2": "8", "3": "5", "4": "4", "5": OSS, "6_1": "0 KR", "6_2": "0 WDT", "6_3": "0 EX",
    "7": "zw", "8": "np I", "9": "np II", "10": "oo", "11": MARGIN,
}  # fmt: skip
# Column sizes (digits, decimal places) of what an imported invoice writes into the database.
MONEY = (18, 2)
RATE = (12, 6)
QUANTITY = (22, 6)
PRICE = (22, 8)
SAME_NUMBER = "same_number"  # StatedTotals.warnings: one of our own invoices has this number


class ImportMappingError(Exception):
    """One invoice of a package cannot be stored; the window is not committed and the cursor stays."""

    def __init__(self, ksef_number: str, reason: str) -> None:
        super().__init__(f"{ksef_number}: {reason}")
        self.ksef_number = ksef_number
        self.reason = reason


@dataclass
class WindowStats:
    created: int = 0
    recognised: int = 0
    unchanged: int = 0
    failed: int = 0
    created_ids: list[int] = field(default_factory=list)


def fit(value: Decimal | None, size: tuple[int, int]) -> Decimal | None:
    """``value`` rounded to the column's decimal places, or None when it does not fit the column."""
    if value is None:
        return None
    digits, places = size
    try:
        rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return None
    return rounded if abs(rounded) < Decimal(10) ** (digits - places) else None


def _fit_or(value: Decimal, size: tuple[int, int]) -> Decimal:
    """``value`` if it fits the column, else the largest value of its sign that does (list and filters
    only; the page shows the stated value)."""
    fitted = fit(value, size)
    if fitted is not None:
        return fitted
    digits, places = size
    largest = Decimal(10) ** (digits - places) - Decimal(1).scaleb(-places)
    return largest if value > 0 else -largest


def _tax_id_fields(tax_id: fa3.TaxId) -> tuple[str, str, str | None]:
    """(nip, foreign id, country) of a ``Podmiot2`` identifier."""
    if isinstance(tax_id, fa3.Nip):
        return tax_id.value, "", None
    if isinstance(tax_id, fa3.EuVatId):
        return "", f"{tax_id.country}{tax_id.number}"[:50], tax_id.country
    if isinstance(tax_id, fa3.OtherTaxId):
        return "", tax_id.number[:50], tax_id.country
    return "", "", None


def _address(address: fa3.Address | None) -> tuple[str, str, str]:
    if address is None:
        return "", "", "PL"
    return address.line1[:512], (address.line2 or "")[:512], (address.country or "PL")[:2].upper()


def _seller_fields(seller: fa3.Seller) -> dict[str, str]:
    line1, line2, country = _address(seller.address)
    return {
        "seller_name": seller.name[:512],
        "seller_nip": seller.nip,
        "seller_foreign_id": "",
        "seller_address_line1": line1,
        "seller_address_line2": line2,
        "seller_country_code": country,
    }


def _registry_fields(parsed: fa3.Invoice) -> dict[str, str]:
    """The seller's KRS, REGON and BDO from the footer (Stopka/Rejestry), the first entry that has each."""
    found = {"seller_krs": "", "seller_regon": "", "seller_bdo": ""}
    for registry in parsed.registries:
        found["seller_krs"] = found["seller_krs"] or (registry.krs or "")[:10]
        found["seller_regon"] = found["seller_regon"] or (registry.regon or "")[:14]
        found["seller_bdo"] = found["seller_bdo"] or (registry.bdo or "")[:9]
    return found


def _third_party_fields(parsed: fa3.Invoice) -> list[dict[str, object]]:
    """``Podmiot3`` as the issuer wrote it: role (0 with ``role_text`` for RolaInna), name, identifiers."""
    out: list[dict[str, object]] = []
    for party in parsed.third_parties:
        line1, line2, country = _address(party.address) if party.address else ("", "", "")
        tax_id = party.tax_id
        out.append(
            {
                "role": int(party.role) if party.role is not None else 0,
                "role_text": (party.other_role or "")[:256],
                "name": (party.name or "")[:512],
                "nip": tax_id.value if isinstance(tax_id, fa3.Nip) else "",
                "foreign_id": (
                    tax_id.country + tax_id.number
                    if isinstance(tax_id, fa3.EuVatId)
                    else tax_id.number
                    if isinstance(tax_id, fa3.OtherTaxId)
                    else tax_id.value
                    if isinstance(tax_id, fa3.InternalId)
                    else ""
                )[:50],
                "address_line1": line1,
                "address_line2": line2,
                "country_code": country,
            }
        )
    return out


def _buyer_fields(buyer: fa3.Buyer) -> dict[str, str]:
    nip, foreign_id, id_country = _tax_id_fields(buyer.tax_id)
    line1, line2, country = _address(buyer.address)
    email = next((c.email for c in buyer.contacts if c.email), "") or ""
    return {
        "buyer_name": (buyer.name or "")[:512],
        "buyer_nip": nip,
        "buyer_foreign_id": foreign_id,
        "buyer_address_line1": line1,
        "buyer_address_line2": line2,
        "buyer_country_code": country if buyer.address else (id_country or "PL")[:2].upper(),
        "buyer_email": email[:254],
    }


def _line_amounts(line: fa3.Line, rate: str) -> tuple[Decimal, Decimal, Decimal]:
    """(net, VAT, gross) of a line so that gross = net + VAT, from whatever the line states."""
    net, vat, gross = line.net_value, line.vat_amount, line.gross_value
    if net is None and gross is not None:
        if vat is None:
            pct = rate_percent(rate)
            vat = round_half_up(gross * pct / (100 + pct)) if pct is not None else Decimal("0.00")
        net = gross - vat
    if net is None:
        if line.quantity is not None and line.unit_price is not None:
            net = fit(line.quantity * line.unit_price, MONEY)  # None (shown as 0) beyond the column
        else:
            net = Decimal("0.00")
    net = fit(net, MONEY)
    if net is None:  # more than the column holds (quantity times price of an absurd line): shown as 0
        return Decimal("0.00"), Decimal("0.00"), Decimal("0.00")
    vat = fit(vat, MONEY) if vat is not None else fit(line_vat(net, rate), MONEY)
    if vat is None or fit(net + vat, MONEY) is None:
        vat = Decimal("0.00")
    return net, vat, net + vat


def _lines(invoice: Invoice, parsed: fa3.Invoice) -> list[InvoiceLine]:
    objects: list[InvoiceLine] = []
    margin = parsed.annotations.margin is not None
    used: set[tuple[bool, int]] = set()
    counters = {True: 0, False: 0}
    for line in parsed.lines:
        before = line.before_correction
        counters[before] += 1
        ordinal = line.number if line.number and (before, line.number) not in used else counters[before]
        while (before, ordinal) in used:
            ordinal += 1
        used.add((before, ordinal))
        if line.vat_rate is not None:
            rate = line.vat_rate.value
        elif margin and line.oss_rate is None:
            rate = MARGIN_RATE  # sold in the margin scheme: no rate, no tax (P_13_11)
        else:
            rate = _NO_RATE.value
        net, vat, gross = _line_amounts(line, rate)
        quantity = fit(line.quantity, QUANTITY)
        if quantity is None:
            quantity = Decimal(1)
        unit_price = fit(line.unit_price, PRICE)
        if unit_price is None:
            unit_price = fit(line.unit_price_gross, PRICE)
        if unit_price is None:
            unit_price = fit(net, PRICE)
        if unit_price is None:  # a line of only P_11 = 10^16: no price column holds it
            unit_price = Decimal(0)
        objects.append(
            InvoiceLine(
                invoice=invoice,
                ordinal=ordinal,
                name=(line.name or "—")[:512],
                unit=(line.unit or "")[:32],
                quantity=quantity,
                unit_price=unit_price,
                unit_price_gross=fit(line.unit_price_gross, PRICE),  # P_9B as written
                vat_rate=rate,
                net_value=net,
                vat_amount=vat,
                gross_value=gross,
                discount=fit(line.discount, MONEY),  # P_10 as written (its percent is not stated)
                gtu=line.gtu if line.gtu in Gtu.values else "",
                annex15=line.annex15,
                procedure=line.procedure if line.procedure in Procedure.values else "",
                pkwiu=(line.pkwiu or "")[:50],
                cn=(line.cn or "")[:50],
                gtin=(line.gtin or "")[:20],
                index=(line.index or "")[:50],
                sale_date=line.sale_date,
                before_correction=before,
                allows_negative=quantity < 0 or unit_price < 0,
            )
        )
    return objects


_MARGIN_SCHEMES = {
    fa3.MarginScheme.TRAVEL: MarginScheme.TRAVEL,
    fa3.MarginScheme.USED_GOODS: MarginScheme.USED_GOODS,
    fa3.MarginScheme.ART: MarginScheme.ART,
    fa3.MarginScheme.ANTIQUES: MarginScheme.ANTIQUES,
}


def _pricing(parsed: fa3.Invoice) -> dict[str, object]:
    """How the issuer priced the lines, so the document shows them as written: a margin scheme (PMarzy), or
    gross prices (art. 106e ust. 7-8) when every line states ``P_11A`` and not ``P_11``."""
    margin = parsed.annotations.margin
    lines = [line for line in parsed.lines if line.vat_rate is not None]
    gross = bool(lines) and all(line.net_value is None and line.gross_value is not None for line in lines)
    return {
        "margin_scheme": _MARGIN_SCHEMES[margin].value if margin is not None else "",
        "prices_gross": gross and margin is None,
    }


def _bucket_rate(parsed: fa3.Invoice, bucket: str) -> str:
    codes = {line.vat_rate.value for line in parsed.lines if line.vat_rate and line.vat_rate.bucket == bucket}
    return codes.pop() if len(codes) == 1 else _BUCKET_RATES.get(bucket, bucket)


def _settlement(parsed: fa3.Invoice) -> Settlement | None:
    if parsed.settlement_xml is None:
        return None
    read = settlement_parse(parsed.settlement_xml)

    def entries(items: tuple[fa3.SettlementEntry, ...]) -> tuple[SettlementEntry, ...]:
        return tuple(SettlementEntry(amount=e.amount, reason=e.reason) for e in items)

    return Settlement(
        charges=entries(read.charges),
        charges_total=read.charges_total,
        deductions=entries(read.deductions),
        deductions_total=read.deductions_total,
        to_pay=read.to_pay,
        to_settle=read.to_settle,
    )


def stated_totals(parsed: fa3.Invoice, *, warnings: tuple[str, ...] = ()) -> StatedTotals:
    """What the document states about its amounts, exactly: per-rate ``P_13_x``/``P_14_x``/``P_14_xW``,
    ``P_15`` and ``Rozliczenie`` (and ``KursWaluty`` when it does not fit the invoice's column)."""
    totals = parsed.totals
    rates = tuple(
        RateTotal(
            vat_rate=_bucket_rate(parsed, r.bucket),
            net=r.net,
            vat=r.vat if r.vat is not None else Decimal("0.00"),
            vat_pln=r.vat_pln,
            stated_vat=r.vat is not None,
        )
        for r in (totals.rates if totals else ())
    )
    rate = parsed.exchange_rate if parsed.currency != "PLN" else None
    return StatedTotals(
        rates=rates,
        gross=totals.gross if totals else Decimal("0.00"),
        settlement=_settlement(parsed),
        exchange_rate=f"{rate:f}" if rate is not None and _exchange_rate(parsed) is None else None,
        warnings=warnings,
    )


def _exchange_rate(parsed: fa3.Invoice) -> Decimal | None:
    """``KursWaluty`` if the column holds it (and it is a rate, i.e. positive); else None."""
    if parsed.currency == "PLN" or parsed.exchange_rate is None or parsed.exchange_rate <= 0:
        return None
    return fit(parsed.exchange_rate, RATE)


def _totals(stated: StatedTotals) -> tuple[Decimal, Decimal, Decimal]:
    """The list's columns: Σ ``P_13_x``, Σ ``P_14_x`` and ``P_15``, each bounded to its column."""
    summary = stated.summary(correction=False)
    net = _fit_or(summary.net or Decimal("0.00"), MONEY)
    vat = _fit_or(summary.vat or Decimal("0.00"), MONEY)
    return net, vat, _fit_or(stated.gross, MONEY)


def _payment_fields(parsed: fa3.Invoice) -> dict[str, Any]:
    payment = parsed.payment
    if payment is None:
        return {}
    due = next((t.due_date for t in payment.terms if t.due_date), None)
    account = payment.bank_accounts[0].number.replace(" ", "")[:64] if payment.bank_accounts else ""
    return {
        "payment_method": int(payment.method) if payment.method is not None else None,
        "due_date": due,
        "paid_on": payment.paid_on,  # Zaplacono + DataZaplaty, as the issuer wrote it
        "partial_payments": [
            {"amount": f"{part.amount:f}", "paid_on": part.paid_on.isoformat()}
            for part in payment.partial_payments
        ],
        "bank_account": account,
    }


def _notes(parsed: fa3.Invoice) -> str:
    parts = [f"{note.key}: {note.value}" for note in parsed.notes]
    parts += list(parsed.footer)
    return "\n".join(parts)


def _correction_fields(company: Company, parsed: fa3.Invoice) -> dict[str, Any]:
    correction = parsed.correction
    if correction is None or not correction.corrected:
        return {}
    first = correction.corrected[0]
    original = None
    if first.ksef_number:
        original = Invoice.objects.filter(company=company, ksef_number=first.ksef_number).first()
    return {
        "corrected_invoice": original,
        "correction_reason": (correction.reason or "")[:256],
        "corrected_number": first.number[:256],
        "corrected_issue_date": first.issue_date,
        "corrected_ksef_number": (first.ksef_number or "")[:64],
    }


class ContractorCache:
    """Contractors of one window by NIP, so 300 invoices from 20 sellers cost 20 upserts, not 300."""

    def __init__(self, company: Company) -> None:
        self.company = company
        self._known: dict[str, Contractor | None] = {}

    def get(self, fields: dict[str, str], prefix: str, bank_account: str) -> Contractor | None:
        key = fields[f"{prefix}_nip"] or fields[f"{prefix}_foreign_id"] or fields[f"{prefix}_name"]
        if not key or not fields[f"{prefix}_name"]:
            return None
        if key in self._known:
            return self._known[key]
        data = PartyData(
            name=fields[f"{prefix}_name"],
            nip=fields[f"{prefix}_nip"],
            foreign_id=fields[f"{prefix}_foreign_id"],
            address_line1=fields[f"{prefix}_address_line1"],
            address_line2=fields[f"{prefix}_address_line2"],
            country_code=fields[f"{prefix}_country_code"] or "PL",
            email=fields.get("buyer_email", "") if prefix == "buyer" else "",
            bank_account=bank_account if prefix == "seller" else "",
        )
        try:
            contractor: Contractor | None = contractor_upsert(company=self.company, data=data)
        except InvoiceError:
            contractor = None  # e.g. a foreign ID we cannot check: keep the snapshot on the invoice only
        self._known[key] = contractor
        return contractor

    def forget(self) -> None:
        """Drop what is known (after a rolled-back savepoint that may have created some of it)."""
        self._known.clear()


def _recognise_own(
    company: Company, *, ksef_number: str, xml: bytes, metadata: InvoiceMetadata | None
) -> Invoice | None:
    """Our own sales invoice that KSeF lists under Subject1 before the sender stored its KSeF number,
    known by identity, never by its number: the submission that got this KSeF number, or the SHA-256 of
    the very XML we sent (on the submission or the invoice; KSeF's ``invoiceHash`` is the same digest)."""
    hashes = {sha256_b64(xml)}
    if metadata is not None and metadata.invoice_hash:
        hashes.add(metadata.invoice_hash)
    submitted = Submission.objects.filter(company=company).filter(
        Q(ksef_number=ksef_number) | Q(xml_sha256_b64__in=hashes)
    )
    own = (
        Invoice.objects.filter(company=company, direction=Direction.SALES, stated_kind="")
        .filter(Q(ksef_number__isnull=True) | Q(ksef_number=ksef_number))
        .filter(Q(pk__in=submitted.values("invoice_id")) | Q(xml_sha256_b64__in=hashes))
        .first()
    )
    if own is None:
        return None
    own.ksef_number = ksef_number
    own.ksef_status = KsefStatus.ACCEPTED
    if own.ksef_acquisition_date is None and metadata is not None:
        own.ksef_acquisition_date = metadata.acquisition_date
    own.save(update_fields=["ksef_number", "ksef_status", "ksef_acquisition_date", "updated_at"])
    return own


def _same_number_exists(company: Company, parsed: fa3.Invoice) -> bool:
    """One of our own sales invoices carries this number (the imported one is not it: see _recognise_own)."""
    return Invoice.objects.filter(
        company=company, direction=Direction.SALES, stated_kind="", number=parsed.number[:256]
    ).exists()


def _create(
    company: Company,
    *,
    ksef_number: str,
    subject_type: str,
    parsed: fa3.Invoice,
    xml: bytes,
    metadata: InvoiceMetadata | None,
    contractors: ContractorCache,
) -> Invoice:
    purchase = subject_type != SubjectType.SUBJECT1
    seller = _seller_fields(parsed.seller) | _registry_fields(parsed)
    buyer = _buyer_fields(parsed.buyer)
    payment = _payment_fields(parsed)
    kind = _KINDS.get(parsed.kind, InvoiceKind.VAT)
    warnings: tuple[str, ...] = ()
    if not purchase and _same_number_exists(company, parsed):
        warnings = (SAME_NUMBER,)
    stated = stated_totals(parsed, warnings=warnings)
    net, vat, gross = _totals(stated)
    if kind == InvoiceKind.VAT and (net < 0 or vat < 0):
        kind = InvoiceKind.KOR if parsed.correction else kind
    contractor = contractors.get(
        seller if purchase else buyer, "seller" if purchase else "buyer", payment.get("bank_account", "")
    )
    invoice = Invoice(
        company=company,
        direction=Direction.PURCHASE if purchase else Direction.SALES,
        kind=kind,
        number=parsed.number[:256],
        issue_date=parsed.issue_date,
        sale_date=parsed.sale_date,
        period_from=parsed.period[0] if parsed.period else None,
        period_to=parsed.period[1] if parsed.period else None,
        place_of_issue=(parsed.issue_place or "")[:256],
        contractor=contractor,
        currency=parsed.currency,
        exchange_rate=_exchange_rate(parsed),
        split_payment=parsed.annotations.split_payment,
        cash_accounting=parsed.annotations.cash_accounting,
        self_billing=parsed.annotations.self_billing,
        related_parties=parsed.related_parties,
        **_pricing(parsed),
        third_parties=_third_party_fields(parsed),
        notes=_notes(parsed),
        total_net=net,
        total_vat=vat,
        total_gross=gross,
        stated_kind=parsed.kind.value,
        stated_totals=stated.to_json(),
        ksef_number=ksef_number,
        ksef_status=KsefStatus.ACCEPTED,
        ksef_acquisition_date=metadata.acquisition_date if metadata else None,
        xml_sha256_b64=sha256_b64(xml),
        is_new=purchase,
        **seller,
        **buyer,
        **payment,
        **_correction_fields(company, parsed),
    )
    if invoice.kind == InvoiceKind.KOR and not invoice.corrected_number:
        invoice.corrected_number = "—"
    invoice.save()
    InvoiceLine.objects.bulk_create(_lines(invoice, parsed))
    return invoice


def window_import(
    *,
    company: Company,
    subject_type: str,
    invoices: dict[str, bytes],
    metadata: Iterable[InvoiceMetadata],
) -> WindowStats:
    """Store one export window's invoices. Call inside a transaction.

    Each invoice is stored in a savepoint of its own: one that cannot be stored (unreadable, too large for
    a column, anything) is rolled back alone and kept as an ``ImportFailure``; the others are stored and the
    caller moves the cursor on. Raises ``ImportMappingError`` only when the package itself is incomplete.
    """
    by_number = {m.ksef_number: m for m in metadata}
    missing = sorted(set(by_number) - set(invoices))
    if missing:
        raise ImportMappingError(missing[0], "the package lists the invoice but has no XML for it")
    stats = WindowStats()
    rows = Invoice.objects.filter(company=company, ksef_number__in=list(invoices))
    existing = dict(rows.values_list("ksef_number", "id"))
    documented = set(
        ImportedDocument.objects.filter(invoice_id__in=list(existing.values())).values_list(
            "invoice_id", flat=True
        )
    )
    failed_before = set(
        ImportFailure.objects.filter(company=company, ksef_number__in=list(invoices)).values_list(
            "ksef_number", flat=True
        )
    )
    contractors = ContractorCache(company)
    for ksef_number in sorted(invoices):
        xml = invoices[ksef_number]
        meta = by_number.get(ksef_number)
        invoice_id = existing.get(ksef_number)
        if invoice_id is not None:
            if ksef_number in failed_before:  # imported meanwhile (a retry racing this window)
                ImportFailure.objects.filter(company=company, ksef_number=ksef_number).delete()
            if invoice_id in documented:
                stats.unchanged += 1
            else:  # sent by the portal; keep KSeF's copy of the XML beside it
                ImportedDocument.objects.create(
                    **_document_kwargs(invoice_id, ksef_number, subject_type, xml, meta)
                )
                stats.recognised += 1
            continue
        try:
            with transaction.atomic():
                created = _store_one(
                    company,
                    ksef_number=ksef_number,
                    subject_type=subject_type,
                    xml=xml,
                    metadata=meta,
                    contractors=contractors,
                )
        except Exception as exc:
            contractors.forget()  # a contractor created in the rolled-back savepoint is gone
            _failure_record(company, ksef_number, subject_type, xml, meta, exc)
            stats.failed += 1
            continue
        if ksef_number in failed_before:
            ImportFailure.objects.filter(company=company, ksef_number=ksef_number).delete()
        if created is None:
            stats.recognised += 1
        else:
            stats.created += 1
            stats.created_ids.append(created.pk)
    return stats


def _store_one(
    company: Company,
    *,
    ksef_number: str,
    subject_type: str,
    xml: bytes,
    metadata: InvoiceMetadata | None,
    contractors: ContractorCache,
) -> Invoice | None:
    """The new invoice, or None when it is one of our own sales invoices (then recognised)."""
    if subject_type == SubjectType.SUBJECT1:
        own = _recognise_own(company, ksef_number=ksef_number, xml=xml, metadata=metadata)
        if own is not None:
            values = _document_kwargs(own.pk, ksef_number, subject_type, xml, metadata)
            invoice_id = values.pop("invoice_id")
            ImportedDocument.objects.update_or_create(invoice_id=invoice_id, defaults=values)
            return None
    try:
        parsed = parse_invoice(xml)
    except ValueError as exc:
        raise ImportMappingError(ksef_number, f"the XML is not a readable FA(3) invoice ({exc})") from exc
    invoice = _create(
        company,
        ksef_number=ksef_number,
        subject_type=subject_type,
        parsed=parsed,
        xml=xml,
        metadata=metadata,
        contractors=contractors,
    )
    ImportedDocument.objects.create(**_document_kwargs(invoice.pk, ksef_number, subject_type, xml, metadata))
    _check_shown(invoice)
    # Inside the savepoint: receivers queue on commit, so a rolled-back invoice queues nothing.
    invoice_imported.send(sender=Invoice, invoice=invoice)
    return invoice


def _check_shown(invoice: Invoice) -> None:
    """Read back what the invoice's page and PDF read: an invoice that imports can be shown (e.g. SQLite
    keeps decimals as floats, and 16 integer digits do not come back; then the invoice is kept aside)."""
    invoice.refresh_from_db()
    list(invoice.lines.all())
    invoice.summary()
    invoice.rate_totals()


def _failure_reason(exc: BaseException) -> str:
    if isinstance(exc, ImportMappingError):
        return exc.reason[:2000]
    return f"{type(exc).__name__}: {exc}"[:2000]


def _failure_record(
    company: Company,
    ksef_number: str,
    subject_type: str,
    xml: bytes,
    metadata: InvoiceMetadata | None,
    exc: BaseException,
) -> None:
    reason = _failure_reason(exc)
    logger.warning(
        "ksef import: invoice %s of company %s not imported: %s", ksef_number, company.uuid, reason
    )
    failure, created = ImportFailure.objects.get_or_create(
        company=company,
        ksef_number=ksef_number,
        defaults={
            "subject_type": subject_type,
            "xml": xml,
            "metadata": metadata.raw if metadata else {},
            "reason": reason,
        },
    )
    if not created:
        ImportFailure.objects.filter(pk=failure.pk).update(
            reason=reason, xml=xml, attempts=failure.attempts + 1, last_failed_at=timezone.now()
        )


def failure_retry(*, failure: ImportFailure) -> Invoice | None:
    """Try one ``ImportFailure`` again (after a fix): the invoice it became (or the one of ours it was
    recognised as), and the row is gone; None if it still fails (its reason and attempts are updated)."""
    company = failure.company
    metadata = None
    if failure.metadata:
        try:
            metadata = invoice_metadata_parse(failure.metadata)
        except (KeyError, TypeError, ValueError):
            metadata = None
    with transaction.atomic():
        done = Invoice.objects.filter(company=company, ksef_number=failure.ksef_number).first()
        if done is not None:  # imported meanwhile (e.g. by a rerun of its window)
            failure.delete()
            return done
        stats = window_import(
            company=company,
            subject_type=failure.subject_type,
            invoices={failure.ksef_number: bytes(failure.xml)},
            metadata=[metadata] if metadata is not None else (),
        )
    if stats.failed:
        return None
    return Invoice.objects.filter(company=company, ksef_number=failure.ksef_number).first()


def imported_restate(*, invoice: Invoice, xml: bytes) -> bool:
    """Give an invoice imported before amounts were kept as written its RodzajFaktury and stated totals
    from its original XML (lines are left as they are). False if there is nothing to do or it cannot be
    read; the invoice then stays as it was."""
    if invoice.stated_kind:
        return False
    try:
        parsed = parse_invoice(xml)
        stated = stated_totals(parsed)
    except ValueError:
        return False
    net, vat, gross = _totals(stated)
    invoice.stated_kind = parsed.kind.value
    invoice.stated_totals = stated.to_json()
    invoice.total_net, invoice.total_vat, invoice.total_gross = net, vat, gross
    invoice.save(update_fields=["stated_kind", "stated_totals", "total_net", "total_vat", "total_gross"])
    return True


def failures_retry(*, company: Company) -> int:
    """Retry every ``ImportFailure`` of the company; how many imported now."""
    done = 0
    for failure in ImportFailure.objects.filter(company=company).order_by("id"):
        if failure_retry(failure=failure) is not None:
            done += 1
    return done


def _document_kwargs(
    invoice_id: int, ksef_number: str, subject_type: str, xml: bytes, metadata: InvoiceMetadata | None
) -> dict[str, Any]:
    return {
        "invoice_id": invoice_id,
        "ksef_number": ksef_number,
        "subject_type": subject_type,
        "xml": xml,
        "xml_sha256_b64": sha256_b64(xml),
        "invoice_hash": ((metadata.invoice_hash if metadata else None) or sha256_b64(xml))[:44],
        "metadata": metadata.raw if metadata else {},
        "permanent_storage_date": metadata.permanent_storage_date if metadata else None,
    }

"""An FA(3) invoice from a KSeF export → ``invoices`` records (contractor, invoice, lines) + the original XML.

Upsert by (company, KSeF number): an invoice KSeF already gave us is left as it is (KSeF invoices never
change), and an invoice the portal sent itself is recognised (by KSeF number, or by its number while the
sending side has not stored the KSeF number yet) instead of being imported a second time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import DataError, IntegrityError
from django.db.models import Q

from accounts.models import Company
from invoices.errors import InvoiceError
from invoices.models import Contractor, Direction, Invoice, InvoiceKind, InvoiceLine, KsefStatus, VatRate
from invoices.services import PartyData, contractor_upsert
from invoices.totals import line_vat, rate_percent, round_half_up
from ksef_integration.fa3 import model as fa3
from ksef_integration.fa3.parser import parse_invoice
from ksef_integration.ksef.crypto import sha256_b64
from ksef_integration.ksef.invoices import InvoiceMetadata
from ksef_integration.models import ImportedDocument, SubjectType

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
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
    created_ids: list[int] = field(default_factory=list)


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
            net = round_half_up(line.quantity * line.unit_price)
        else:
            net = Decimal("0.00")
    net = round_half_up(net)
    vat = round_half_up(vat) if vat is not None else line_vat(net, rate)
    return net, vat, net + vat


def _lines(invoice: Invoice, parsed: fa3.Invoice) -> list[InvoiceLine]:
    objects: list[InvoiceLine] = []
    used: set[tuple[bool, int]] = set()
    counters = {True: 0, False: 0}
    for line in parsed.lines:
        before = line.before_correction
        counters[before] += 1
        ordinal = line.number if line.number and (before, line.number) not in used else counters[before]
        while (before, ordinal) in used:
            ordinal += 1
        used.add((before, ordinal))
        rate = line.vat_rate.value if line.vat_rate is not None else _NO_RATE.value
        net, vat, gross = _line_amounts(line, rate)
        quantity = line.quantity if line.quantity is not None else Decimal(1)
        unit_price = line.unit_price
        if unit_price is None:
            unit_price = line.unit_price_gross if line.unit_price_gross is not None else net
        objects.append(
            InvoiceLine(
                invoice=invoice,
                ordinal=ordinal,
                name=(line.name or "—")[:512],
                unit=(line.unit or "")[:32],
                quantity=quantity,
                unit_price=unit_price,
                vat_rate=rate,
                net_value=net,
                vat_amount=vat,
                gross_value=gross,
                before_correction=before,
                allows_negative=quantity < 0 or unit_price < 0,
            )
        )
    return objects


def _totals(parsed: fa3.Invoice) -> tuple[Decimal, Decimal, Decimal]:
    """Net and VAT from ``P_13_x``/``P_14_x``; gross = net + VAT (``P_15`` of a settlement invoice is what is
    left to pay, so it is not the gross; it stays in the XML)."""
    rates = parsed.totals.rates if parsed.totals else ()
    net = sum((r.net for r in rates), Decimal("0.00")).quantize(CENT)
    vat = sum((r.vat for r in rates if r.vat is not None), Decimal("0.00")).quantize(CENT)
    return net, vat, net + vat


def _payment_fields(parsed: fa3.Invoice) -> dict[str, Any]:
    payment = parsed.payment
    if payment is None:
        return {}
    due = next((t.due_date for t in payment.terms if t.due_date), None)
    account = payment.bank_accounts[0].number.replace(" ", "")[:64] if payment.bank_accounts else ""
    return {
        "payment_method": int(payment.method) if payment.method is not None else None,
        "due_date": due,
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


def _recognise_own(
    company: Company, *, ksef_number: str, parsed: fa3.Invoice, metadata: InvoiceMetadata | None
) -> Invoice | None:
    """Our own sales invoice that KSeF lists under Subject1 before the sender stored its KSeF number."""
    own = (
        Invoice.objects.filter(company=company, direction=Direction.SALES, number=parsed.number)
        .filter(Q(ksef_number__isnull=True) | Q(ksef_number=ksef_number))
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
    seller = _seller_fields(parsed.seller)
    buyer = _buyer_fields(parsed.buyer)
    payment = _payment_fields(parsed)
    kind = _KINDS.get(parsed.kind, InvoiceKind.VAT)
    net, vat, gross = _totals(parsed)
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
        place_of_issue=(parsed.issue_place or "")[:256],
        contractor=contractor,
        currency=parsed.currency,
        exchange_rate=parsed.exchange_rate if parsed.currency != "PLN" else None,
        split_payment=parsed.annotations.split_payment,
        notes=_notes(parsed),
        total_net=net,
        total_vat=vat,
        total_gross=gross,
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
    """Store one export window's invoices. Call inside a transaction; raises ``ImportMappingError``."""
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
    contractors = ContractorCache(company)
    for ksef_number in sorted(invoices):
        xml = invoices[ksef_number]
        meta = by_number.get(ksef_number)
        invoice_id = existing.get(ksef_number)
        if invoice_id is not None:
            if invoice_id in documented:
                stats.unchanged += 1
            else:  # sent by the portal; keep KSeF's copy of the XML beside it
                ImportedDocument.objects.create(
                    **_document_kwargs(invoice_id, ksef_number, subject_type, xml, meta)
                )
                stats.recognised += 1
            continue
        try:
            parsed = parse_invoice(xml)
        except ValueError as exc:
            raise ImportMappingError(ksef_number, f"the XML is not a readable FA(3) invoice ({exc})") from exc
        if subject_type == SubjectType.SUBJECT1:
            own = _recognise_own(company, ksef_number=ksef_number, parsed=parsed, metadata=meta)
            if own is not None:
                values = _document_kwargs(own.pk, ksef_number, subject_type, xml, meta)
                invoice_id = values.pop("invoice_id")
                ImportedDocument.objects.update_or_create(invoice_id=invoice_id, defaults=values)
                stats.recognised += 1
                continue
        try:
            invoice = _create(
                company,
                ksef_number=ksef_number,
                subject_type=subject_type,
                parsed=parsed,
                xml=xml,
                metadata=meta,
                contractors=contractors,
            )
        except (IntegrityError, DataError) as exc:
            raise ImportMappingError(ksef_number, f"the invoice does not fit the database ({exc})") from exc
        ImportedDocument.objects.create(**_document_kwargs(invoice.pk, ksef_number, subject_type, xml, meta))
        stats.created += 1
        stats.created_ids.append(invoice.pk)
    return stats


def _document_kwargs(
    invoice_id: int, ksef_number: str, subject_type: str, xml: bytes, metadata: InvoiceMetadata | None
) -> dict[str, Any]:
    return {
        "invoice_id": invoice_id,
        "ksef_number": ksef_number,
        "subject_type": subject_type,
        "xml": xml,
        "invoice_hash": ((metadata.invoice_hash if metadata else None) or sha256_b64(xml))[:44],
        "metadata": metadata.raw if metadata else {},
        "permanent_storage_date": metadata.permanent_storage_date if metadata else None,
    }

"""Map an issued ``invoices.Invoice`` onto the neutral FA(3) model and into XML bytes that are checked locally
(official XSD and ``fa3.checks``) before anything is sent to KSeF."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from invoices.models import Invoice, InvoiceKind, InvoiceLine
from ksef_integration.fa3 import builder, check_invoice, model, validate
from ksef_integration.fa3.digest import invoice_hash

SYSTEM_INFO = "KSeF Portal"


@dataclass(frozen=True)
class BuiltXml:
    xml: bytes
    sha256_b64: str


class XmlProblems(Exception):
    """The invoice cannot be sent: ``problems`` are readable sentences (Polish), one per issue."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _address(line1: str, line2: str, country: str) -> model.Address:
    return model.Address(line1=line1 or "-", line2=line2 or None, country=country or "PL")


def _buyer(invoice: Invoice) -> model.Buyer:
    tax_id: model.TaxId
    if invoice.buyer_nip:
        tax_id = model.Nip(invoice.buyer_nip)
    elif invoice.buyer_foreign_id:
        tax_id = model.OtherTaxId(number=invoice.buyer_foreign_id, country=invoice.buyer_country_code or None)
    else:
        tax_id = model.NoTaxId()
    address = None
    if invoice.buyer_address_line1 or invoice.buyer_address_line2:
        address = _address(
            invoice.buyer_address_line1, invoice.buyer_address_line2, invoice.buyer_country_code
        )
    contacts = (model.Contact(email=invoice.buyer_email),) if invoice.buyer_email else ()
    return model.Buyer(tax_id=tax_id, name=invoice.buyer_name, address=address, contacts=contacts)


def _line(line: InvoiceLine) -> model.Line:
    return model.Line(
        name=line.name,
        quantity=line.quantity,
        unit=line.unit or None,
        unit_price=line.unit_price,
        net_value=line.net_value,
        vat_rate=model.VatRate(line.vat_rate),
        vat_amount=line.vat_amount if line.vat_amount else None,
        before_correction=line.before_correction,
    )


def _payment(invoice: Invoice) -> model.Payment | None:
    if not (invoice.payment_method or invoice.due_date or invoice.bank_account):
        return None
    return model.Payment(
        terms=(model.PaymentTerm(due_date=invoice.due_date),) if invoice.due_date else (),
        method=model.PaymentMethod(invoice.payment_method) if invoice.payment_method else None,
        bank_accounts=(model.BankAccount(number=invoice.bank_account),) if invoice.bank_account else (),
    )


def _correction(invoice: Invoice) -> model.Correction | None:
    if invoice.kind != InvoiceKind.KOR:
        return None
    corrected = model.CorrectedInvoice(
        issue_date=invoice.corrected_issue_date or invoice.issue_date,
        number=invoice.corrected_number,
        ksef_number=invoice.corrected_ksef_number or None,
    )
    return model.Correction(corrected=(corrected,), reason=invoice.correction_reason or None)


def invoice_to_fa3(invoice: Invoice, *, created_at: dt.datetime) -> model.Invoice:
    """The neutral FA(3) picture of a sales invoice (lines in the order FA(3) wants: before, then after)."""
    lines = sorted(invoice.lines.all(), key=lambda line: (not line.before_correction, line.ordinal))
    notes = (model.Note(key="Uwagi", value=invoice.notes[:256]),) if invoice.notes else ()
    return model.Invoice(
        number=invoice.number,
        issue_date=invoice.issue_date,
        seller=model.Seller(
            nip=invoice.seller_nip,
            name=invoice.seller_name,
            address=_address(
                invoice.seller_address_line1, invoice.seller_address_line2, invoice.seller_country_code
            ),
        ),
        buyer=_buyer(invoice),
        lines=tuple(_line(line) for line in lines),
        kind=model.InvoiceKind(invoice.kind),
        currency=invoice.currency,
        exchange_rate=invoice.exchange_rate if invoice.currency != "PLN" else None,
        created_at=created_at,
        system_info=SYSTEM_INFO,
        issue_place=invoice.place_of_issue or None,
        sale_date=invoice.sale_date
        if invoice.sale_date and invoice.sale_date != invoice.issue_date
        else None,
        annotations=model.Annotations(split_payment=invoice.split_payment),
        correction=_correction(invoice),
        notes=notes,
        payment=_payment(invoice),
    )


def invoice_xml_build(invoice: Invoice, *, created_at: dt.datetime | None = None) -> BuiltXml:
    """FA(3) XML for ``invoice``, valid against the XSD and free of errors found by ``fa3.checks``.

    Raises ``XmlProblems`` with readable Polish sentences otherwise. Build once and store the bytes: the
    same bytes must be resent on every retry (KSeF recognises a duplicate by seller NIP, kind and number).
    """
    created = (created_at or timezone.now()).astimezone(dt.UTC).replace(microsecond=0)
    try:
        neutral = invoice_to_fa3(invoice, created_at=created)
        problems = [p.message("pl") for p in check_invoice(neutral) if p.severity == "error"]
        if problems:
            raise XmlProblems(problems)
        xml = builder.build_invoice(neutral)
    except (ValueError, builder.Fa3BuildError) as exc:
        raise XmlProblems([f"Nie można zbudować pliku FA(3): {exc}"]) from exc
    schema_errors = validate(xml)
    if schema_errors:
        raise XmlProblems([f"Niezgodność ze schematem FA(3): {error}" for error in schema_errors[:10]])
    return BuiltXml(xml=xml, sha256_b64=invoice_hash(xml))

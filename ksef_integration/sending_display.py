"""What the invoice page and PDF show about KSeF: KOD I (with the KSeF number or OFFLINE), the sending
timeline, and for an invoice KSeF gave us (import) its KSeF number and the original XML to download.

Installed into ``invoices.visualisation`` at start-up so that ``invoices`` never imports this app.
"""

from __future__ import annotations

from django.template.loader import render_to_string

from invoices.models import Direction, Invoice
from invoices.visualisation import QrCode
from ksef_integration import gateway
from ksef_integration.ksef.crypto import sha256_b64
from ksef_integration.ksef.qr import LABEL_OFFLINE, kod1_url
from ksef_integration.models import ImportedDocument, KsefConnection, Submission


def _imported_xml(invoice: Invoice) -> bytes | None:
    xml = ImportedDocument.objects.filter(invoice_id=invoice.pk).values_list("xml", flat=True).first()
    return bytes(xml) if xml is not None else None


def invoice_xml_bytes(invoice: Invoice) -> bytes | None:
    """The invoice's FA(3) file: the original KSeF gave us (imported), else the one the portal sent."""
    original = _imported_xml(invoice)
    if original is not None:
        return original
    sent = Submission.objects.filter(invoice_id=invoice.pk).values_list("xml", flat=True).first()
    return bytes(sent) if sent is not None else None


def ksef_qr_codes(invoice: Invoice) -> list[QrCode]:
    """KOD I for an invoice whose FA(3) file exists (sent, about to be, or imported): the seller's NIP, P_1
    and the file's hash. An imported invoice's hash is computed from the original XML KSeF gave us."""
    original = _imported_xml(invoice)
    invoice_hash = sha256_b64(original) if original is not None else invoice.xml_sha256_b64
    if not invoice_hash:
        invoice_hash = (
            Submission.objects.filter(invoice_id=invoice.pk).values_list("xml_sha256_b64", flat=True).first()
            or ""
        )
    if not invoice_hash or not invoice.seller_nip:
        return []
    url = kod1_url(
        qr_host=gateway.environment(),
        seller_nip=invoice.seller_nip,
        issue_date=invoice.issue_date,
        invoice_hash=invoice_hash,
    )
    return [QrCode(url=url, label=invoice.ksef_number or LABEL_OFFLINE)]


def ksef_timeline(invoice: Invoice) -> str:
    submission = Submission.objects.filter(invoice_id=invoice.pk).first()
    document = ImportedDocument.objects.filter(invoice_id=invoice.pk).defer("xml").first()
    if submission is None and document is not None:
        return render_to_string("ksef_integration/_imported.html", {"invoice": invoice, "document": document})
    if submission is None:
        connection = KsefConnection.objects.filter(company_id=invoice.company_id).first()
        if invoice.direction != Direction.SALES or connection is None or not connection.can_send:
            return ""
        # Not queued automatically (automatic sending off): offer to send it now.
        return render_to_string("ksef_integration/_send_button.html", {"invoice": invoice})
    return render_to_string(
        "ksef_integration/_timeline.html",
        {
            "invoice": invoice,
            "submission": submission,
            "events": list(submission.events.all()),
            "has_xml": document is not None or submission.xml is not None,
        },
    )

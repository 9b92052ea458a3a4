"""What the invoice page and PDF show about sending: KOD I (with the KSeF number or OFFLINE) and the timeline.

Installed into ``invoices.visualisation`` at start-up so that ``invoices`` never imports this app.
"""

from __future__ import annotations

from django.template.loader import render_to_string

from invoices.models import Direction, Invoice
from invoices.visualisation import QrCode
from ksef_integration import gateway
from ksef_integration.ksef.qr import LABEL_OFFLINE, kod1_url
from ksef_integration.models import KsefConnection, Submission


def ksef_qr_codes(invoice: Invoice) -> list[QrCode]:
    """KOD I for an invoice whose FA(3) file exists (sent or about to be): NIP, P_1 and the file's hash."""
    invoice_hash = invoice.xml_sha256_b64
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
    if submission is None:
        connection = KsefConnection.objects.filter(company_id=invoice.company_id).first()
        if invoice.direction != Direction.SALES or connection is None or not connection.can_send:
            return ""
        # Not queued automatically (automatic sending off): offer to send it now.
        return render_to_string("ksef_integration/_send_button.html", {"invoice": invoice})
    return render_to_string(
        "ksef_integration/_timeline.html",
        {"submission": submission, "events": list(submission.events.all())},
    )

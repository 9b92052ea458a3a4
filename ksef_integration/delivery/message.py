"""The e-mail that hands an invoice to its buyer: in the contractor's language (Polish or English), from
the portal's address with the company's own e-mail as reply-to, with the PDF (KOD I, and KOD II for an
invoice issued offline, with their labels) and the FA(3) file attached."""

from __future__ import annotations

import re

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from invoices.formatting import money
from invoices.models import Invoice
from invoices.pdf import invoice_pdf_bytes
from invoices.visualisation import qr_codes
from ksef_integration.models import InvoiceDelivery
from ksef_integration.sending.display import invoice_xml_bytes
from ksefportal.mail import email_subject

_UNSAFE = re.compile(r"[^0-9A-Za-z._-]+")


def attachment_name(invoice: Invoice, extension: str) -> str:
    """A file name every mail program keeps: the invoice number with anything but letters and digits as
    "_" (numbers like FV/1/05/2026 have slashes)."""
    stem = _UNSAFE.sub("_", invoice.number).strip("_") or "faktura"
    return f"{stem[:80]}.{extension}"


def delivery_message(delivery: InvoiceDelivery) -> EmailMessage:
    """The e-mail of ``delivery`` as it is sent now (the PDF shows the invoice's current KSeF state)."""
    invoice = Invoice.objects.select_related("company").get(pk=delivery.invoice_id)
    with translation.override(delivery.language):
        codes = qr_codes(invoice)
        deadline = None
        if delivery.kind == InvoiceDelivery.Kind.OFFLINE:
            from ksef_integration.offline.reminders import invoice_deadline

            found = invoice_deadline(invoice=invoice)
            deadline = found.day if found is not None else None
        context = {
            "invoice": invoice,
            "gross": money(invoice.total_gross, invoice.currency),
            "offline": delivery.kind == InvoiceDelivery.Kind.OFFLINE,
            "kod1": codes[0].url if codes else "",
            "kod2": codes[1].url if len(codes) > 1 else "",
            "deadline": deadline,
            "site_name": settings.SITE_NAME,
            "reply_to": bool(invoice.company.email),
        }
        subject = _("Invoice %(number)s from %(seller)s") % {
            "number": invoice.number,
            "seller": invoice.seller_name,
        }
        body = render_to_string("ksef_integration/email/invoice_delivery.txt", context)
        pdf = invoice_pdf_bytes(invoice, qr_codes=codes)
    company_email = invoice.company.email
    message = EmailMessage(
        subject=email_subject(subject),
        body=body,
        to=[delivery.to_email],
        reply_to=[company_email] if company_email else None,
    )
    message.attach(attachment_name(invoice, "pdf"), pdf, "application/pdf")
    xml = invoice_xml_bytes(invoice)
    if xml is not None:
        message.attach(attachment_name(invoice, "xml"), xml, "application/xml")
    return message

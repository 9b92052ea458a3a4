"""What the invoice page and PDF show about KSeF: KOD I (with the KSeF number or OFFLINE), KOD II
("CERTYFIKAT") for an invoice issued offline, the sending timeline with the offline deadline, and for an
invoice KSeF gave us (import) its KSeF number and the original XML to download.

Installed into ``invoices.visualisation`` at start-up so that ``invoices`` never imports this app.
"""

from __future__ import annotations

from django.db.models import BooleanField, ExpressionWrapper, Q
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from invoices.models import Direction, Invoice, KsefOfflineMode, KsefStatus
from invoices.visualisation import QrCode
from ksef_integration.connect import gateway, sunset
from ksef_integration.connect.selectors import company_one
from ksef_integration.ksef.crypto import sha256_b64
from ksef_integration.ksef.qr import LABEL_CERTIFICATE, LABEL_OFFLINE, kod1_url
from ksef_integration.models import ImportedDocument, KsefConnection, Submission, SubmissionEvent


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


def invoice_upo_bytes(invoice: Invoice) -> bytes | None:
    """The UPO KSeF issued for the invoice the portal sent (None until it arrived)."""
    upo = Submission.objects.filter(invoice_id=invoice.pk).values_list("upo", flat=True).first()
    return upo.encode("utf-8") if upo else None


_IMPORTED = "_ksef_imported_document"


def _imported_document(invoice: Invoice) -> ImportedDocument | None:
    """The invoice's imported document without its XML (None when it was not imported), read once per
    invoice object: the page's KOD I and its timeline both need it."""
    if _IMPORTED not in invoice.__dict__:
        invoice.__dict__[_IMPORTED] = (
            ImportedDocument.objects.filter(invoice_id=invoice.pk).defer("xml").first()
        )
    document: ImportedDocument | None = invoice.__dict__[_IMPORTED]
    return document


def _imported_xml_hash(invoice: Invoice) -> str | None:
    """The SHA-256 of the original XML KSeF gave us (None when the invoice was not imported), kept on the
    document at import; computed and kept here once for a document stored without it."""
    document = _imported_document(invoice)
    if document is None or document.xml_sha256_b64:
        return document.xml_sha256_b64 if document is not None else None
    original = _imported_xml(invoice)
    if original is None:
        return None
    computed = sha256_b64(original)
    ImportedDocument.objects.filter(invoice_id=invoice.pk).update(xml_sha256_b64=computed)
    document.xml_sha256_b64 = computed
    return computed


def ksef_qr_codes(invoice: Invoice) -> list[QrCode]:
    """KOD I for an invoice KSeF numbered (sent or imported) or issued offline: the seller's NIP, P_1 and the
    file's hash, labelled with the KSeF number or OFFLINE (then with KOD II). An imported invoice's hash is
    the one of the original XML KSeF gave us."""
    if not invoice.seller_nip or (not invoice.ksef_number and not invoice.ksef_offline_mode):
        # An online invoice on its way: its code carries the KSeF number, which KSeF has not given yet.
        # Printing "OFFLINE" would present it as an offline invoice, which it is not (and it has no KOD II).
        return []
    invoice_hash = _imported_xml_hash(invoice) or invoice.xml_sha256_b64
    if not invoice_hash:
        invoice_hash = (
            Submission.objects.filter(invoice_id=invoice.pk).values_list("xml_sha256_b64", flat=True).first()
            or ""
        )
    if not invoice_hash:
        return []
    url = kod1_url(
        qr_host=gateway.environment(),
        seller_nip=invoice.seller_nip,
        issue_date=invoice.issue_date,
        invoice_hash=invoice_hash,
    )
    codes = [QrCode(url=url, label=invoice.ksef_number or LABEL_OFFLINE)]
    if invoice.ksef_offline_mode:
        from ksef_integration.offline.certificate import kod2_for

        kod2 = kod2_for(invoice=invoice, invoice_hash=invoice_hash)
        if kod2:
            codes.append(QrCode(url=kod2, label=LABEL_CERTIFICATE))
    return codes


def _offline_status(invoice: Invoice, submission: Submission | None) -> str:
    """The offline block of the invoice page: mode, deadline and time left, KOD II, technical correction."""
    if not invoice.ksef_offline_mode:
        return ""
    from ksef_integration.models import OfflineCertificate
    from ksef_integration.offline.issue import technical_correction_possible
    from ksef_integration.offline.reminders import invoice_deadline, remaining_text

    deadline = invoice_deadline(invoice=invoice)
    certificate = OfflineCertificate.objects.filter(company_id=invoice.company_id).first()
    context = {
        "invoice": invoice,
        "mode_label": KsefOfflineMode(invoice.ksef_offline_mode).label,
        "deadline": deadline,
        "remaining": remaining_text(deadline.remaining) if deadline and deadline.remaining else "",
        "accepted": invoice.ksef_status == KsefStatus.ACCEPTED,
        "has_kod2": certificate is not None and certificate.is_valid_now,
        "can_upload": True,
        "can_correct": submission is not None and technical_correction_possible(invoice=invoice),
    }
    return render_to_string("ksef_integration/_offline_status.html", context)


def _waits_for_certificate(submission: Submission) -> str:
    """Why an invoice on its way waits after the token sunset ("Token KSeF wygasł…"), or "" when it does
    not: the company's token no longer logs in, so it goes out once the company connects by certificate."""
    if submission.is_final():
        return ""
    connection = (
        KsefConnection.objects.filter(company_id=submission.company_id).only("method", "status").first()
    )
    return sunset.expired_text() if connection is not None and connection.token_expired else ""


def ksef_timeline(invoice: Invoice) -> str:
    # The submission without its XML and UPO (kilobytes each, on every view): only whether they exist.
    submission = (
        Submission.objects.filter(invoice_id=invoice.pk)
        .defer("xml", "upo")
        .annotate(
            xml_kept=ExpressionWrapper(Q(xml__isnull=False), output_field=BooleanField()),
            upo_kept=ExpressionWrapper(~Q(upo=""), output_field=BooleanField()),
        )
        .first()
    )
    document = None
    if submission is None or not submission.xml_kept:
        document = _imported_document(invoice)
    offline_block = SafeString(_offline_status(invoice, submission))  # "" + safe HTML must stay safe
    if submission is None and document is not None:
        return render_to_string("ksef_integration/_imported.html", {"invoice": invoice, "document": document})
    if submission is None:
        if invoice.direction != Direction.SALES or invoice.ksef_number or invoice.ksef_offline_mode:
            return offline_block
        # Issued, on no way to KSeF: say why, truthfully, and what happens next.
        connection = company_one(invoice.company, "ksef_connection")  # shared with the page's banners
        return render_to_string(
            "ksef_integration/_send_button.html", {"invoice": invoice, "connection": connection}
        )
    events = list(submission.events.all())
    return offline_block + render_to_string(
        "ksef_integration/_timeline.html",
        {
            "invoice": invoice,
            "submission": submission,
            "events": events,
            "waits_for_certificate": _waits_for_certificate(submission),
            "switch_url": sunset.switch_url(),
            "has_xml": document is not None or submission.xml_kept,
            "upo_received_at": (
                next(
                    (e.created_at for e in events if e.kind == SubmissionEvent.Kind.UPO),
                    submission.finished_at,
                )
                if submission.upo_kept
                else None
            ),
        },
    )

"""The one receiver of ``invoices.signals.invoice_issued``: a sales invoice just issued goes to KSeF.

The offline package says which mode applies (an announced outage, the issuer's offline24, KSeF not answering
the company); an offline invoice gets its file and KOD II now and waits in the queue for KSeF, any other is
queued online when the company sends automatically. One receiver, so the outcome never depends on the order
in which receivers were connected.
"""

from __future__ import annotations

from invoices.models import Direction, Invoice
from ksef_integration.models import KsefConnection
from ksef_integration.offline import issue as offline
from ksef_integration.sending import online


def on_invoice_issued(sender: object, *, invoice: Invoice, **kwargs: object) -> None:
    if invoice.direction != Direction.SALES:
        return
    connection = KsefConnection.objects.filter(company_id=invoice.company_id).first()
    if connection is None or not connection.can_send:
        offline.offline_choice_drop(invoice=invoice)
        return
    mode, reason, outage = offline.issue_mode(invoice)
    if mode and offline.invoice_issue_offline(invoice=invoice, mode=mode, reason=reason, outage=outage):
        return
    if connection.auto_send:
        online.submission_enqueue(invoice=invoice)

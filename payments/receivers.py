"""The receiver of ``invoices.signals.invoice_imported``: imported purchase invoices above 15,000 PLN are
checked on the VAT white list in the background."""

from __future__ import annotations

from typing import Any

from invoices.models import Invoice
from payments import queue
from payments.whitelist import check_required


def on_invoice_imported(sender: Any, *, invoice: Invoice, **kwargs: Any) -> None:
    if check_required(invoice):
        queue.whitelist_check_enqueue(invoice_id=invoice.pk)

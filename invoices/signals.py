"""Signals other apps listen to, so that ``invoices`` never needs to know who acts on an invoice.

``invoice_issued`` is sent after the transaction that issued a sales invoice (a VAT invoice or a correction)
has committed, with ``invoice`` (the saved :class:`~invoices.models.Invoice`). ksef_integration connects a
receiver that queues the sending.
"""

from django.dispatch import Signal

invoice_issued = Signal()

"""Signals other apps listen to, so that ``invoices`` never needs to know who acts on an invoice.

``invoice_issued`` is sent after the transaction that issued a sales invoice (a VAT invoice or a correction)
has committed, with ``invoice`` (the saved :class:`~invoices.models.Invoice`). ksef_integration connects a
receiver that queues the sending.

``invoice_edited`` is sent after the transaction that changed a sales invoice KSeF did not accept (rejected,
or stopped by our own checks) has committed, with ``invoice``. The person asked to send it again:
ksef_integration's receiver queues the corrected data.
"""

from django.dispatch import Signal

invoice_issued = Signal()
invoice_edited = Signal()

"""Signals other apps listen to, so that ``invoices`` never needs to know who acts on an invoice.

``invoice_issued`` is sent after the transaction that issued a sales invoice (a VAT invoice or a correction)
has committed, with ``invoice`` (the saved :class:`~invoices.models.Invoice`). ksef_integration connects a
receiver that queues the sending.

``invoice_edited`` is sent after the transaction that changed a sales invoice KSeF did not accept (rejected,
or stopped by our own checks) has committed, with ``invoice``. The person asked to send it again:
ksef_integration's receiver queues the corrected data.

``invoice_imported`` is sent when an invoice imported from KSeF (a purchase, or an own sales invoice issued
elsewhere) is stored, with ``invoice``, inside the import's transaction: receivers queue their work on
commit (payments checks the seller's account on the VAT white list).

``invoices_accepted`` is sent after the transaction in which KSeF's acceptance of sales invoices was recorded
has committed, with ``company_id`` and ``invoice_ids`` (a list: a poll records many at once).
``invoice_rejected`` is sent likewise when KSeF rejected a sales invoice, or our own checks stopped it before
KSeF saw it (``local``), with ``company_id``, ``invoice_id`` and ``local``. Receivers only queue work (an
e-mail to the buyer, a webhook): they run in the worker's drain loop.

``invoice_offline_deadline`` is sent when the owners are reminded that offline invoices must reach KSeF
soon (once per invoice and deadline day), with ``company_id`` and ``deadlines``: a list of
``(invoice_id, deadline_day, overdue)``.
"""

from django.dispatch import Signal

invoice_issued = Signal()
invoice_edited = Signal()
invoice_imported = Signal()
invoices_accepted = Signal()
invoice_rejected = Signal()
invoice_offline_deadline = Signal()

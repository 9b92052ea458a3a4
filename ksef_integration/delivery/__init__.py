"""Invoices e-mailed to their buyers (issue 22).

Here, in ksef_integration rather than in invoices, because the e-mail follows KSeF: it goes out only once
KSeF accepted the invoice (``invoices.signals.invoices_accepted``) or at once for an invoice issued offline
(the one receiver of ``invoice_issued``), and it carries what only this app knows — the FA(3) file KSeF
holds, KOD I with the KSeF number, KOD II of the Offline certificate. ``invoices`` stores only where and in
which language to send (on the invoice and the contractor).

- ``services``: the rows (one per invoice and occasion), the send (the retrying ``ksef.delivery_send``
  task's work: idempotent, a row already sent is never sent again), "wyślij ponownie", the sweeper.
- ``message``: the e-mail itself (Polish or English, the company's reply-to, PDF + XML attached).
- ``views``: the invoice page's log panel (htmx, polled while something is on its way) and the resend.
"""

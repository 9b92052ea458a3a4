"""The "Wyślij ponownie do KSeF" button for a sales invoice KSeF did not accept: confirm (GET), then queue
its current data again (POST). Owners and accountants only; other companies' invoices are 404."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts.decorators import company_required
from accounts.models import Membership, Role
from invoices.models import KsefStatus
from invoices.selectors import invoice_get_for_company_or_404
from ksef_integration.sending.resend import invoice_can_resend, invoice_resend


@company_required(Role.OWNER, Role.ACCOUNTANT)
def invoice_resend_view(
    request: HttpRequest, invoice_uuid: uuid.UUID, *, membership: Membership
) -> HttpResponse:
    invoice = invoice_get_for_company_or_404(company=membership.company, invoice_uuid=invoice_uuid)
    if not invoice_can_resend(invoice=invoice):
        if request.method == "POST" and invoice.ksef_status not in (
            KsefStatus.REJECTED,
            KsefStatus.FAILED_LOCAL,
        ):
            # A second click after the first one queued it: nothing more to do.
            messages.info(
                request, _("Invoice %(number)s is already on its way to KSeF.") % {"number": invoice.number}
            )
        else:
            messages.error(request, _("Only an invoice KSeF did not accept can be sent again."))
        return redirect("invoices:detail", invoice_uuid=invoice.uuid)
    if request.method == "POST":
        invoice_resend(invoice=invoice)
        messages.success(
            request, _("Invoice %(number)s is on its way to KSeF again.") % {"number": invoice.number}
        )
        return redirect("invoices:detail", invoice_uuid=invoice.uuid)
    return render(request, "ksef_integration/invoice_resend.html", {"invoice": invoice})

"""The invoice page's e-mail to the buyer: its log (an htmx fragment that asks again while something is on
its way) and "Wyślij ponownie" (owners and accountants). Other companies' invoices are 404."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.decorators import company_required
from accounts.models import Membership, Role, User
from invoices.models import Direction, Invoice, KsefStatus
from invoices.selectors import invoice_get_for_company_or_404
from ksef_integration.delivery import services
from ksef_integration.models import DeliveryEvent, InvoiceDelivery

POLL_SECONDS = 3
# While KSeF has not decided, an invoice with a buyer's address is about to get its e-mail.
_AWAITING_KSEF = (KsefStatus.QUEUED, KsefStatus.SENT)


def _panel_context(invoice: Invoice, membership: Membership) -> dict[str, Any]:
    deliveries = list(InvoiceDelivery.objects.filter(invoice=invoice).order_by("-created_at", "-id"))
    events = list(
        DeliveryEvent.objects.filter(delivery__invoice=invoice)
        .select_related("actor")
        .order_by("created_at", "id")
    )
    for delivery in deliveries:
        delivery.log = [e for e in events if e.delivery_id == delivery.pk]  # type: ignore[attr-defined]
    waiting = bool(invoice.delivery_email) and not deliveries and invoice.ksef_status in _AWAITING_KSEF
    moving = waiting or any(d.status == InvoiceDelivery.Status.QUEUED for d in deliveries)
    return {
        "invoice": invoice,
        "deliveries": deliveries,
        "waiting": waiting,
        "poll_seconds": POLL_SECONDS if moving else None,
        "can_act": membership.role in (Role.OWNER, Role.ACCOUNTANT),
    }


@company_required()
def delivery_panel(request: HttpRequest, invoice_uuid: uuid.UUID, *, membership: Membership) -> HttpResponse:
    invoice = invoice_get_for_company_or_404(company=membership.company, invoice_uuid=invoice_uuid)
    if invoice.direction != Direction.SALES:
        return HttpResponse('<div id="delivery-panel"></div>')
    return render(request, "ksef_integration/_delivery.html", _panel_context(invoice, membership))


@require_POST
@company_required(Role.OWNER, Role.ACCOUNTANT)
def delivery_resend(request: HttpRequest, invoice_uuid: uuid.UUID, *, membership: Membership) -> HttpResponse:
    """ "Wyślij ponownie": the invoice's e-mail to the buyer is queued again."""
    invoice = invoice_get_for_company_or_404(company=membership.company, invoice_uuid=invoice_uuid)
    user = request.user if isinstance(request.user, User) else None
    delivery = services.delivery_requeue(invoice=invoice, user=user)
    if delivery is None:
        messages.error(
            request, _("This invoice has not been e-mailed to the buyer, so there is nothing to send again.")
        )
    else:
        messages.success(
            request, _("The invoice is on its way to %(address)s again.") % {"address": delivery.to_email}
        )
    return redirect("invoices:detail", invoice_uuid=invoice.uuid)

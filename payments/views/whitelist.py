"""The VAT white list on a purchase invoice's page: the panel, "Sprawdź na białej liście", the override."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from accounts.decorators import company_required
from accounts.models import Membership, Role
from invoices.models import Direction, Invoice
from invoices.selectors import invoice_get_for_company_or_404
from payments import whitelist
from payments.models import WhitelistCheck

CHECK_ROLES = (Role.OWNER, Role.ACCOUNTANT)
SHOWN_CHECKS = 5


def whitelist_panel(request: HttpRequest, invoice: Invoice, membership: Membership) -> str:
    """The card on a purchase invoice's page (``invoices.visualisation`` payment panel provider)."""
    if invoice.direction != Direction.PURCHASE:
        return ""
    checks = list(
        WhitelistCheck.objects.filter(invoice=invoice).select_related("requested_by", "overridden_by")[
            :SHOWN_CHECKS
        ]
    )
    context: dict[str, Any] = {
        "invoice": invoice,
        "checks": [(check, whitelist.check_message(check)) for check in checks],
        # The latest check is the first shown (newest first): not read again.
        "block": whitelist.payment_block(invoice, checks={invoice.pk: checks[0]} if checks else {}),
        "required": whitelist.check_required(invoice),
        "can_check": membership.role in CHECK_ROLES and bool(invoice.seller_nip),
        "can_override": membership.role == Role.OWNER and bool(checks) and not checks[0].is_overridden,
        "override_max": whitelist.OVERRIDE_MAX,
    }
    html = render_to_string("payments/_whitelist.html", context, request=request)
    return mark_safe(html)  # noqa: S308 - rendered by our template with autoescaping


@require_POST
@company_required(*CHECK_ROLES)
def whitelist_check(request: HttpRequest, invoice_uuid: uuid.UUID, *, membership: Membership) -> HttpResponse:
    invoice = invoice_get_for_company_or_404(company=membership.company, invoice_uuid=invoice_uuid)
    if invoice.direction == Direction.PURCHASE and invoice.seller_nip:
        check = whitelist.whitelist_check(invoice=invoice, requested_by=request.user)  # type: ignore[arg-type]
        messages.info(request, whitelist.check_message(check))
    return redirect("invoices:detail", invoice_uuid=invoice.uuid)


@require_POST
@company_required(Role.OWNER)
def whitelist_override(
    request: HttpRequest, invoice_uuid: uuid.UUID, *, membership: Membership
) -> HttpResponse:
    invoice = invoice_get_for_company_or_404(company=membership.company, invoice_uuid=invoice_uuid)
    try:
        whitelist.whitelist_override(
            invoice=invoice,
            user=request.user,  # type: ignore[arg-type]
            reason=request.POST.get("reason", ""),
        )
    except whitelist.OverrideError as exc:
        messages.error(request, str(exc))
    return redirect("invoices:detail", invoice_uuid=invoice.uuid)

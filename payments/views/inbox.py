"""The purchase inbox ("Do zapłaty"): the list with filters and bulk actions, the panel on a purchase
invoice's page, the approver setting."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.decorators import company_required
from accounts.models import Membership, Role
from invoices.models import Direction, Invoice
from invoices.selectors import Cursor
from payments import inbox, inbox_cache
from payments.forms import CommentForm, InboxFilterForm, InboxSettingsForm
from payments.models import REASON_MAX, PurchaseStatus

ACTING = (Role.OWNER, Role.ACCOUNTANT)


def _inbox_context(request: HttpRequest, membership: Membership) -> dict[str, Any]:
    form = InboxFilterForm(request.GET or None)
    filters = form.filters()
    after = Cursor.decode(request.GET.get("after"))
    page = inbox.inbox_page(membership=membership, filters=filters, after=after)
    query = {k: v for k, v in request.GET.items() if k != "after" and v}
    next_url = (
        "?" + urlencode({**query, "after": page.next_cursor.encode()}) if page.next_cursor is not None else ""
    )
    can_act = inbox.may_act(membership)
    frame = {
        "can_act": can_act,
        "can_accept": inbox.may_accept_with(membership, page.approver),
        "is_owner": membership.role == Role.OWNER,
        "approver_email": page.approver.email if page.approver else "",
        "filtered": filters.active,
        "has_rows": bool(page.rows),
        "here": request.get_full_path(),
        "next_url": next_url,
        "first_url": ("?" + urlencode(query)) if after is not None else "",
        "reason_max": REASON_MAX,
    }
    content = inbox_cache.inbox_content(request=request, rows=page.rows, frame=frame, form=form)
    return {"content_html": content, "page": page, "nav_active": "documents", "membership": membership}


@company_required()
def inbox_list(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    return render(request, "payments/inbox.html", _inbox_context(request, membership))


def _back(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _report(request: HttpRequest, action: str, result: inbox.ActionResult) -> None:
    done_messages = {
        "pending": _("Sent to approval: %(invoices)s."),
        "accept": _("Accepted: %(invoices)s."),
        "reject": _("Marked as not ours: %(invoices)s."),
        "restore": _("Back among the new ones: %(invoices)s."),
        "paid": _("Marked paid: %(invoices)s."),
    }
    if result.done:
        messages.success(request, done_messages[action] % {"invoices": inbox.describe(result.done)})
    for invoice, reason in result.skipped[:10]:
        messages.warning(
            request,
            _("%(invoice)s left as it was: %(reason)s.") % {"invoice": invoice.number, "reason": reason},
        )
    if not result.done and not result.skipped:
        messages.warning(request, _("Select at least one invoice first."))


@require_POST
@company_required(*ACTING)
def inbox_action(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    """A bulk action on the ticked invoices (POST-redirect-GET back to the list as it was filtered)."""
    back = _back(request, reverse("payments:inbox"))
    invoices = inbox.purchases_by_uuid(company=membership.company, uuids=request.POST.getlist("invoice"))
    action = request.POST.get("action", "")
    try:
        result = inbox.purchases_act(
            membership=membership,
            invoices=invoices,
            action=action,
            reason=request.POST.get("reject_reason", ""),
        )
    except inbox.InboxError as exc:
        messages.error(request, str(exc))
        return redirect(back)
    _report(request, action, result)
    return redirect(back)


@require_POST
@company_required(*ACTING)
def invoice_action(request: HttpRequest, invoice_uuid: uuid.UUID, *, membership: Membership) -> HttpResponse:
    """One invoice's action or comment, from the panel on its page."""
    invoice = inbox.purchase_get_or_404(company=membership.company, invoice_uuid=invoice_uuid)
    back = reverse("invoices:detail", kwargs={"invoice_uuid": invoice.uuid}) + "#purchase"
    action = request.POST.get("action", "")
    try:
        if action == "comment":
            inbox.purchase_comment(membership=membership, invoice=invoice, text=request.POST.get("text", ""))
        else:
            result = inbox.purchases_act(
                membership=membership,
                invoices=[invoice],
                action=action,
                reason=request.POST.get("reject_reason", ""),
            )
            _report(request, action, result)
    except inbox.InboxError as exc:
        messages.error(request, str(exc))
    return redirect(back)


def purchase_panel(request: HttpRequest, invoice: Invoice, membership: Membership) -> str:
    """The inbox card on a purchase invoice's page (status, history, comments, actions); opening the page
    (GET) marks the invoice read for this member only."""
    if invoice.direction != Direction.PURCHASE:
        return ""
    if request.method == "GET":
        inbox.purchase_seen(membership=membership, invoice=invoice)
    entry = inbox.entry_of(invoice=invoice)
    status = entry.status if entry is not None else PurchaseStatus.NEW.value
    settings_row = inbox.inbox_settings(company=membership.company)
    context = {
        "invoice": invoice,
        "entry": entry,
        "status": status,
        "status_label": PurchaseStatus(status).label,
        "history": inbox.purchase_history(invoice=invoice),
        "can_act": inbox.may_act(membership),
        "can_accept": inbox.may_accept(membership, settings_row),
        "actions": {name for name, (sources, _target) in inbox.ACTIONS.items() if status in sources},
        "comment_form": CommentForm(),
        "reason_max": REASON_MAX,
    }
    html = render_to_string("payments/_purchase.html", context, request=request)
    return mark_safe(html)  # noqa: S308 - rendered by our template with autoescaping


@company_required(Role.OWNER)
def inbox_settings(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    company = membership.company
    current = inbox.inbox_settings(company=company)
    form = InboxSettingsForm(
        request.POST or None, company=company, initial={"approver": current.approver if current else None}
    )
    if request.method == "POST" and form.is_valid():
        try:
            inbox.inbox_settings_update(company=company, approver=form.cleaned_data["approver"])
        except inbox.InboxError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Saved."))
            return redirect("payments:inbox")
    return render(
        request, "payments/settings.html", {"form": form, "nav_active": "documents", "membership": membership}
    )

"""Sending from the invoice pages: "Wyślij do KSeF", "Wyślij wszystkie niewysłane", "Wyślij ponownie do KSeF"
(a sales invoice KSeF did not accept: confirm, then queue its current data again), and the invoice's FA(3)
file and UPO. Owners and accountants send; other companies' invoices are 404."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.decorators import company_required
from accounts.models import Membership, Role
from invoices.models import Direction, Invoice, KsefStatus
from invoices.selectors import invoice_get_for_company_or_404
from ksef_integration.connect import selectors
from ksef_integration.downloads import xml_attachment
from ksef_integration.models import ImportFailure
from ksef_integration.sending import drain
from ksef_integration.sending.display import invoice_upo_bytes, invoice_xml_bytes
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


@company_required(Role.OWNER, Role.ACCOUNTANT)
def invoice_send(request: HttpRequest, invoice_uuid: uuid.UUID, *, membership: Membership) -> HttpResponse:
    """The "Wyślij do KSeF" button: confirm (GET), then queue the invoice for sending (POST)."""
    invoice = invoice_get_for_company_or_404(company=membership.company, invoice_uuid=invoice_uuid)
    connection = selectors.connection_for_company(company=membership.company)
    if invoice.direction != Direction.SALES or connection is None or not connection.can_send:
        messages.error(
            request, _("This invoice cannot be sent: the company is not connected to KSeF for sending.")
        )
        return redirect("invoices:detail", invoice_uuid=invoice.uuid)
    if request.method == "POST":
        drain.submission_enqueue(invoice=invoice)
        messages.success(request, _("Invoice %(number)s is on its way to KSeF.") % {"number": invoice.number})
        return redirect("invoices:detail", invoice_uuid=invoice.uuid)
    return render(request, "ksef_integration/invoice_send.html", {"invoice": invoice})


UNSENT_SHOWN = 200


@company_required(Role.OWNER, Role.ACCOUNTANT)
def unsent(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    """ "Wyślij wszystkie niewysłane (N)": the list of issued invoices on no way to KSeF (GET), then queue
    them all (POST)."""
    company = membership.company
    connection = selectors.connection_for_company(company=company)
    can_send = connection is not None and connection.can_send
    if request.method == "POST":
        if not can_send:
            messages.error(
                request, _("The invoices cannot be sent: the company is not connected to KSeF for sending.")
            )
            return redirect("ksef_integration:unsent")
        queued = drain.unsent_send_all(company_id=company.pk)
        messages.success(
            request,
            ngettext(
                "%(count)s invoice is on its way to KSeF.",
                "%(count)s invoices are on their way to KSeF.",
                queued,
            )
            % {"count": queued},
        )
        return redirect("invoices:list")
    invoices = drain.unsent_invoices(company_id=company.pk).order_by("issue_date", "id")
    context = {
        "invoices": invoices[:UNSENT_SHOWN],
        "count": invoices.count(),
        "connection": connection,
        "can_send": can_send,
    }
    return render(request, "ksef_integration/unsent.html", context)


@company_required(Role.OWNER, Role.ACCOUNTANT)
def unsent_banner(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    """What waits on the Dokumenty tab, as a fragment fetched after the page loads (the list page itself stays
    a function of its rows, and so stays cacheable): on Sprzedaż "Wyślij wszystkie niewysłane (N)", on Zakupy
    the invoices KSeF has that could not be imported."""
    company_id = membership.company.pk
    if request.GET.get("direction") == "purchase":
        failures = ImportFailure.objects.filter(company_id=company_id).count()
        response = render(request, "ksef_integration/_import_failures_banner.html", {"failures": failures})
    else:
        context = {"unsent_count": drain.unsent_count(company_id=company_id)}
        response = render(request, "ksef_integration/_unsent_banner.html", context)
    response["Cache-Control"] = "no-store"
    return response


@company_required()
def invoice_xml(request: HttpRequest, invoice_uuid: uuid.UUID, *, membership: Membership) -> HttpResponse:
    """The invoice's FA(3) file: the original KSeF gave us (imported), else the one the portal sent."""
    return _download(request, membership, invoice_uuid, invoice_xml_bytes, prefix="")


@company_required()
def invoice_upo(request: HttpRequest, invoice_uuid: uuid.UUID, *, membership: Membership) -> HttpResponse:
    """The UPO (Urzędowe Poświadczenie Odbioru) KSeF gave for the invoice, as KSeF wrote it."""
    return _download(request, membership, invoice_uuid, invoice_upo_bytes, prefix="UPO_")


def _download(
    request: HttpRequest,
    membership: Membership,
    invoice_uuid: uuid.UUID,
    content: Callable[[Invoice], bytes | None],
    *,
    prefix: str,
) -> HttpResponse:
    invoice = invoice_get_for_company_or_404(company=membership.company, invoice_uuid=invoice_uuid)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    body = content(invoice)
    if body is None:
        raise Http404
    return xml_attachment(body, name=f"{prefix}{invoice.ksef_number or invoice.number}")

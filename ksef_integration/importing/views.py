"""Invoices KSeF has for the company that the portal could not import: the XML, and "try again"."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.decorators import company_required
from accounts.models import Membership, Role
from ksef_integration.importing.mapping import failure_retry
from ksef_integration.models import ImportFailure


def _failure_or_404(membership: Membership, failure_uuid: uuid.UUID) -> ImportFailure:
    failure = ImportFailure.objects.filter(company=membership.company, uuid=failure_uuid).first()
    if failure is None:
        raise Http404
    return failure


@company_required()
def import_failure_xml(
    request: HttpRequest, failure_uuid: uuid.UUID, *, membership: Membership
) -> HttpResponse:
    """The invoice's XML as KSeF gave it, byte for byte."""
    failure = _failure_or_404(membership, failure_uuid)  # first: another company's row is a 404 always
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    name = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in failure.ksef_number)
    response = HttpResponse(bytes(failure.xml), content_type="application/xml")
    response["Content-Disposition"] = f'attachment; filename="{name}.xml"'
    return response


@require_POST
@company_required(Role.OWNER, Role.ACCOUNTANT)
def import_failure_retry(
    request: HttpRequest, failure_uuid: uuid.UUID, *, membership: Membership
) -> HttpResponse:
    failure = _failure_or_404(membership, failure_uuid)
    ksef_number = failure.ksef_number
    invoice = failure_retry(failure=failure)
    if invoice is None:
        message = _("The invoice %(number)s still cannot be imported.") % {"number": ksef_number}
        messages.error(request, message)
        return redirect("ksef_integration:settings")
    messages.success(request, _("The invoice %(number)s is imported.") % {"number": ksef_number})
    return redirect("invoices:detail", invoice_uuid=invoice.uuid)

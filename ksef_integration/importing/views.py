"""Importing on Dane i ustawienia → KSeF: "Pobierz teraz", each member's digest opt-in, and the invoices KSeF
has for the company that the portal could not import (the XML, and "try again")."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_POST

from accounts.decorators import company_required
from accounts.models import Membership, Role
from ksef_integration.connect import selectors
from ksef_integration.downloads import xml_attachment
from ksef_integration.importing.digest import digest_subscribed, digest_subscription_set
from ksef_integration.importing.mapping import failure_retry
from ksef_integration.importing.services import import_enqueue_on_commit
from ksef_integration.models import ImportFailure, ImportRun, SyncCursor


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
    return xml_attachment(bytes(failure.xml), name=failure.ksef_number)


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


class ImportDigestForm(forms.Form):
    enabled = forms.BooleanField(label=_l("E-mail me about new purchase invoices"), required=False)


def settings_context(membership: Membership) -> dict[str, object]:
    """What Dane i ustawienia → KSeF shows of importing: the cursors, the last runs, what could not be
    imported, and the member's own digest opt-in."""
    company = membership.company
    return {
        "digest_form": ImportDigestForm(initial={"enabled": digest_subscribed(membership=membership)}),
        "can_import_now": membership.role in (Role.OWNER, Role.ACCOUNTANT),
        "sync_cursors": list(SyncCursor.objects.filter(company=company).order_by("-subject_type")),
        "import_runs": list(ImportRun.objects.filter(company=company)[:5]),
        "import_failures": list(ImportFailure.objects.filter(company=company).defer("xml")[:50]),
    }


@require_POST
@company_required(Role.OWNER, Role.ACCOUNTANT)
def import_now(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    """ "Pobierz teraz": ask a worker to import the company's invoices from KSeF at once."""

    connection = selectors.connection_for_company(company=membership.company)
    if connection is None or not connection.can_import:
        messages.error(
            request, _("Importing needs an active KSeF connection with the InvoiceRead permission.")
        )
    else:
        import_enqueue_on_commit(company=membership.company)
        messages.success(
            request, _("Downloading invoices from KSeF has started. They will appear in Documents.")
        )
    return redirect("ksef_integration:settings")


@require_POST
@company_required()
def import_digest(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    """Each member's own opt-in: an e-mail about the purchase invoices each import brings."""

    form = ImportDigestForm(request.POST)
    if form.is_valid():
        digest_subscription_set(membership=membership, enabled=form.cleaned_data["enabled"])
        messages.success(request, _("Your notification settings are saved."))
    return redirect("ksef_integration:settings")

"""Offline work (issue 8): the Offline certificate in Dane i ustawienia → KSeF, and the technical correction
of an offline invoice KSeF rejected. Views only translate HTTP into service calls."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_POST

from accounts.decorators import company_required, owner_required
from accounts.models import Membership, Role, User
from invoices.selectors import invoice_get_for_company_or_404
from ksef_integration.errors import ConnectError
from ksef_integration.offline import certificate, issue
from ksef_integration.offline.forms import OfflineCertificateForm


@sensitive_post_parameters("password")
@sensitive_variables()
@never_cache
@owner_required
def offline_certificate(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    form = OfflineCertificateForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        user = request.user
        assert isinstance(user, User)  # noqa: S101 (owner_required guarantees a logged-in user)
        try:
            row = certificate.offline_certificate_upload(
                company=membership.company,
                user=user,
                certificate_bytes=form.cleaned_data["certificate"].read(),
                private_key_bytes=form.cleaned_data["private_key"].read(),
                password=form.cleaned_data["password"] or "",
            )
        except ConnectError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request,
                _("Offline certificate %(serial)s saved. Invoices issued offline now carry KOD II.")
                % {"serial": row.serial},
            )
            return redirect("ksef_integration:settings")
    current = certificate.offline_certificate_for(company=membership.company)
    return render(request, "ksef_integration/offline_certificate.html", {"form": form, "current": current})


@require_POST
@owner_required
def offline_certificate_delete(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)  # noqa: S101
    if certificate.offline_certificate_delete(company=membership.company, user=user):
        messages.success(request, _("Offline certificate removed."))
    return redirect("ksef_integration:settings")


@require_POST
@company_required(Role.OWNER, Role.ACCOUNTANT)
def invoice_technical_correction(
    request: HttpRequest, invoice_uuid: uuid.UUID, *, membership: Membership
) -> HttpResponse:
    invoice = invoice_get_for_company_or_404(company=membership.company, invoice_uuid=invoice_uuid)
    user = request.user
    try:
        issue.technical_correction(invoice=invoice, user=user if isinstance(user, User) else None)
    except issue.CorrectionRefused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("Technical correction of %(number)s is on its way to KSeF.") % {"number": invoice.number},
        )
    return redirect("invoices:detail", invoice_uuid=invoice.uuid)

""" "Przejdź na certyfikat KSeF": the owner prepares a login request, signs it outside the portal, uploads it,
and watches the portal obtain the certificates and switch to them. Views only translate HTTP into service
calls (``enrollment.services``)."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.decorators import owner_required
from accounts.models import Membership, User
from ksef_integration.connect import selectors, sunset
from ksef_integration.downloads import xml_attachment
from ksef_integration.enrollment import services
from ksef_integration.enrollment.forms import SignedRequestForm
from ksef_integration.errors import ConnectError
from ksef_integration.models import CertificateEnrollment

Status = CertificateEnrollment.Status


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # noqa: S101 (owner_required guarantees a logged-in user)
    return user


def _enrollment_or_404(membership: Membership, enrollment_uuid: uuid.UUID) -> CertificateEnrollment:
    row = services.enrollment_get(company=membership.company, enrollment_uuid=str(enrollment_uuid))
    if row is None:
        raise Http404
    return row


@never_cache
@owner_required
def certificate_switch(
    request: HttpRequest, *, membership: Membership, form: SignedRequestForm | None = None
) -> HttpResponse:
    """The wizard's one page; what it shows follows the company's latest enrollment."""
    connection = selectors.connection_for_company(company=membership.company)
    enrollment = services.enrollment_current(company=membership.company)
    now = timezone.now()
    context = {
        "connection": connection,
        "enrollment": enrollment,
        "form": form or SignedRequestForm(),
        "expired": enrollment is not None and services.challenge_expired(enrollment, now=now),
        "seconds_left": (
            max(0, int((enrollment.challenge_valid_until - now).total_seconds()))
            if enrollment is not None and enrollment.challenge_valid_until
            else 0
        ),
        "working": enrollment is not None and enrollment.status in (Status.QUEUED, Status.WORKING),
        "sunset": sunset.sunset_date(),
        "on_token": services.switch_allowed(connection),
    }
    return render(request, "ksef_integration/certificate_switch.html", context)


@require_POST
@owner_required
def certificate_switch_prepare(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    try:
        services.switch_prepare(company=membership.company, user=_user(request))
    except ConnectError as exc:
        messages.error(request, exc.message)
    return redirect("ksef_integration:certificate_switch")


@owner_required
def certificate_switch_request(
    request: HttpRequest, enrollment_uuid: uuid.UUID, *, membership: Membership
) -> HttpResponse:
    """The unsigned login request, as the file to sign."""
    row = _enrollment_or_404(membership, enrollment_uuid)
    if row.status != Status.AWAITING_SIGNATURE or not row.request_xml:
        raise Http404
    return xml_attachment(row.request_xml.encode(), name=f"wniosek-KSeF-{membership.company.nip}")


@require_POST
@never_cache
@owner_required
def certificate_switch_upload(
    request: HttpRequest, enrollment_uuid: uuid.UUID, *, membership: Membership
) -> HttpResponse:
    row = _enrollment_or_404(membership, enrollment_uuid)
    form = SignedRequestForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.switch_submit(
                enrollment=row, user=_user(request), data=form.cleaned_data["signed_request"].read()
            )
        except ConnectError as exc:
            form.add_error("signed_request", exc.message)
        else:
            return redirect("ksef_integration:certificate_switch")
    return certificate_switch(request, form=form)


@require_POST
@owner_required
def certificate_switch_retry(
    request: HttpRequest, enrollment_uuid: uuid.UUID, *, membership: Membership
) -> HttpResponse:
    row = _enrollment_or_404(membership, enrollment_uuid)
    try:
        services.enrollment_retry(enrollment=row, user=_user(request))
    except ConnectError as exc:
        messages.error(request, exc.message)
    return redirect("ksef_integration:certificate_switch")

"""Dane i ustawienia → KSeF → Uprawnienia (owners only): what KSeF last said about who may work in the
company's context, the grants and revocations on their way (a small htmx poll while any is), and the forms.
No KSeF call happens here: the views write rows and the worker does the rest (``permissions.services``)."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import owner_required
from accounts.models import Membership, User
from ksef_integration.connect import selectors as connect_selectors
from ksef_integration.errors import ConnectError
from ksef_integration.permissions import selectors, services
from ksef_integration.permissions.forms import OfficeGrantForm, PersonGrantForm

PAGE = "ksef_integration:permissions"


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # noqa: S101 (owner_required guarantees a logged-in user)
    return user


def _live_context(membership: Membership) -> dict[str, Any]:
    connection = connect_selectors.connection_for_company(company=membership.company)
    return {
        "state": selectors.page_state(company=membership.company),
        "can_manage": services.can_manage(connection),
    }


@never_cache
@owner_required
@require_GET
def permissions_page(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    return _page(request, membership)


def _page(
    request: HttpRequest,
    membership: Membership,
    *,
    person_form: PersonGrantForm | None = None,
    office_form: OfficeGrantForm | None = None,
) -> HttpResponse:
    company = membership.company
    connection = connect_selectors.connection_for_company(company=company)
    services.refresh_request(company=company)  # queued only when the snapshot is older than a few minutes
    can_manage = services.can_manage(connection)
    warnings = connect_selectors.missing_permission_messages(connection)
    context = {
        "connection": connection,
        "connected": connection is not None and connection.is_connected,
        "own_permissions": connect_selectors.permission_labels(connection),
        "warnings": warnings,
        "cannot_manage": "" if can_manage else services.cannot_manage_message(),
        "person_form": person_form or PersonGrantForm(initial={"idempotency_key": uuid.uuid4()}),
        "office_form": office_form or OfficeGrantForm(initial={"idempotency_key": uuid.uuid4()}),
        **_live_context(membership),
    }
    return render(request, "ksef_integration/permissions.html", context)


@never_cache
@owner_required
@require_GET
def permissions_live(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    """The part of the page that changes while the worker works; polled by htmx only while something is
    pending (the fragment drops its trigger when nothing is, and the polling stops)."""
    return render(request, "ksef_integration/_permissions_live.html", _live_context(membership))


@require_POST
@owner_required
def permissions_grant_person(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    form = PersonGrantForm(request.POST)
    if not form.is_valid():
        return _page(request, membership, person_form=form)
    kind, value = form.cleaned_data["identifier"]
    try:
        services.grant_person_request(
            company=membership.company,
            user=_user(request),
            identifier_type=kind,
            identifier_value=value,
            first_name=form.cleaned_data["first_name"],
            last_name=form.cleaned_data["last_name"],
            permissions=form.permissions(),
            idempotency_key=form.cleaned_data["idempotency_key"],
        )
    except ConnectError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("The permissions are being granted in KSeF; this page shows the outcome.")
        )
    return redirect(PAGE)


@require_POST
@owner_required
def permissions_grant_office(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    form = OfficeGrantForm(request.POST)
    if not form.is_valid():
        return _page(request, membership, office_form=form)
    try:
        services.grant_entity_request(
            company=membership.company,
            user=_user(request),
            nip=form.cleaned_data["nip"],
            name=form.cleaned_data["name"],
            permissions=form.permissions(),
            can_delegate=form.cleaned_data["can_delegate"],
            idempotency_key=form.cleaned_data["idempotency_key"],
        )
    except ConnectError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("The permissions are being granted in KSeF; this page shows the outcome.")
        )
    return redirect(PAGE)


@require_POST
@owner_required
def permissions_revoke(
    request: HttpRequest, permission_id: uuid.UUID, *, membership: Membership
) -> HttpResponse:
    grant = selectors.grant_for_company_or_404(company=membership.company, permission_id=permission_id)
    try:
        services.revoke_request(company=membership.company, user=_user(request), grant=grant)
    except ConnectError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The permission is being revoked in KSeF; this page shows the outcome."))
    return redirect(PAGE)


@require_POST
@owner_required
def permissions_refresh(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    services.refresh_request(company=membership.company, force=True)
    return redirect(PAGE)

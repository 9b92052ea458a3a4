"""Pages that show several features together: "Gotowe!" at the end of the guided flow (the connection and what
waits to be sent) and "Dane i ustawienia → KSeF" (connection, sending and importing settings, offline, the
log). Views only translate HTTP into service calls."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts.decorators import company_required
from accounts.models import Membership, User
from ksef_integration.connect import selectors, services
from ksef_integration.connect.forms import KsefSettingsForm
from ksef_integration.connect.views import SESSION_MISSING
from ksef_integration.enrollment import services as enrollment
from ksef_integration.importing.views import settings_context as import_settings_context
from ksef_integration.sending import drain


@company_required()
def done(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    connection = selectors.connection_for_company(company=membership.company)
    if connection is None or not connection.is_connected:
        return redirect("ksef_integration:landing")
    missing = request.session.pop(SESSION_MISSING, None) or selectors.missing_permission_messages(connection)
    context = {
        "missing": missing,
        "connection": connection,
        "unsent_count": drain.unsent_invoices(company_id=membership.company.pk).count(),
    }
    return render(request, "ksef_integration/done.html", context)


def _office_choices(request: HttpRequest, membership: Membership) -> list[object]:
    """The offices (companies the user owns, on a certificate) that may serve this company, when it may be."""
    user = request.user
    if not isinstance(user, User) or not selectors.via_office_allowed(membership=membership):
        return []
    return list(selectors.offices_for(user=user, client=membership.company))


@company_required()
def settings_page(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    # The page shows the connection, KSeF's availability and the Offline certificate: one query for all.
    selectors.company_ones_read(membership.company)
    connection = selectors.connection_for_company(company=membership.company)
    initial = {}
    if connection is not None:
        initial = {
            "auto_send": connection.auto_send,
            "auto_import": connection.auto_import,
            "import_interval_minutes": connection.import_interval_minutes,
        }
    form = KsefSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if not membership.is_owner or connection is None:
            return redirect("ksef_integration:settings")
        if form.is_valid():
            user = request.user
            assert isinstance(user, User)  # noqa: S101
            services.connection_settings_update(connection=connection, user=user, **form.cleaned_data)
            messages.success(request, _("KSeF settings saved."))
            return redirect("ksef_integration:settings")
    context = {
        "membership": membership,
        "connection": connection,
        "settings_form": form,
        "certificate_renewable": (
            connection is not None
            and connection.method == "certificate"
            and enrollment.switch_allowed(connection)
        ),
        "permission_labels": selectors.permission_labels(connection),
        "missing": [
            *selectors.missing_permission_messages(connection),
            *selectors.certificate_warnings(connection),
        ],
        "events": selectors.recent_events(company=membership.company, limit=10),
        "office_choices": _office_choices(request, membership),
        **import_settings_context(membership),
    }
    return render(request, "ksef_integration/settings.html", context)


@require_GET
@company_required()
def start_panel(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    """Start's KSeF numbers, polled (htmx) while invoices wait for KSeF (issue 22)."""
    from ksef_integration.templatetags.ksef_state import start_panel_context

    return render(request, "ksef_integration/_start_ksef.html", start_panel_context(membership))

"""The guided flow (Usługi dodatkowe → KSeF → Uruchom KSeF → Token/Certyfikat), checking and ending the
connection. Views only translate HTTP into service calls; "Gotowe!" and "Dane i ustawienia → KSeF", which show
several features together, are in ``ksef_integration.views``."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import company_required, owner_required
from accounts.models import Membership, Role, User
from ksef_integration.connect import progress, selectors, services, sunset
from ksef_integration.connect.forms import CertificateConnectForm, TokenConnectForm
from ksef_integration.errors import ConnectError

SESSION_MISSING = "ksef_connect_missing"


def _site_link(request: HttpRequest) -> tuple[str, str]:
    """Where the guide sends people to generate a token: the real KSeF, or the simulator's pages."""
    environment = settings.KSEF_ENVIRONMENT
    if environment == "simulator":
        return request.build_absolute_uri("/ksef-sim/"), "ksef.mf.gov.pl (symulator)"
    hosts = {"test": "https://ap-test.ksef.mf.gov.pl/", "demo": "https://ap-demo.ksef.mf.gov.pl/"}
    return hosts.get(environment, "https://ksef.mf.gov.pl/"), "ksef.mf.gov.pl"


@company_required()
def landing(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    tab = "offline" if request.GET.get("zakladka") == "offline" else "auth"
    context = {
        "tab": tab,
        "connection": selectors.connection_for_company(company=membership.company),
        "can_connect": membership.is_owner,
    }
    return render(request, "ksef_integration/landing.html", context)


@owner_required
def choose(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    return render(request, "ksef_integration/choose.html")


@sensitive_post_parameters("token")
@sensitive_variables()
@never_cache
@owner_required
def token(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    form = TokenConnectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = request.user
        assert isinstance(user, User)  # noqa: S101 (owner_required guarantees a logged-in user)
        try:
            result = services.connection_connect_token(
                company=membership.company,
                user=user,
                raw_token=form.cleaned_data["token"],
                progress=_progress(request, membership),
            )
        except ConnectError as exc:
            form.add_error("token", exc.message)
        else:
            request.session[SESSION_MISSING] = result.missing_messages
            return redirect("ksef_integration:done")
    site_url, site_label = _site_link(request)
    context = {
        "form": form,
        "ksef_site_url": site_url,
        "ksef_site_label": site_label,
        "sunset_days": selectors.token_sunset_days(),
        "sunset": sunset.sunset_date(),
        "switch_url": sunset.switch_url(),
        "attempt": uuid.uuid4(),
    }
    return render(request, "ksef_integration/token.html", context)


@sensitive_post_parameters("password")
@sensitive_variables()
@never_cache
@owner_required
def certificate(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    form = CertificateConnectForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        user = request.user
        assert isinstance(user, User)  # noqa: S101
        try:
            result = services.connection_connect_certificate(
                company=membership.company,
                user=user,
                certificate_bytes=form.cleaned_data["certificate"].read(),
                private_key_bytes=form.cleaned_data["private_key"].read(),
                password=form.cleaned_data["password"] or None,
                progress=_progress(request, membership),
            )
        except ConnectError as exc:
            form.add_error(None, exc.message)
        else:
            request.session[SESSION_MISSING] = result.missing_messages
            return redirect("ksef_integration:done")
    site_url, site_label = _site_link(request)
    context = {
        "form": form,
        "ksef_site_url": site_url,
        "ksef_site_label": site_label,
        "attempt": uuid.uuid4(),
    }
    return render(request, "ksef_integration/certificate.html", context)


def _progress(request: HttpRequest, membership: Membership) -> services.Progress:
    """Where the connecting service reports its steps for the page that posted (its ``attempt`` id)."""
    return progress.reporter(
        company_id=membership.company_id, attempt=progress.attempt_id(request.POST.get("attempt"))
    )


@require_GET
@owner_required
def connect_progress(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    """The steps of the attempt ``?attempt=`` while its POST waits for KSeF: asked once when the form is
    sent, then (the answer carries the trigger) every half a second until the POST's answer replaces the
    page."""
    attempt = progress.attempt_id(request.GET.get("attempt"))
    done = progress.steps_done(company_id=membership.company_id, attempt=attempt)
    labels = {
        services.STEP_CHECKED: _("The token's format and NIP checked"),
        services.STEP_LOGGED_IN: _("Logged in to KSeF"),
        services.STEP_PERMISSIONS: _("Permissions read from KSeF"),
    }
    if request.GET.get("method") == "certificate":
        labels[services.STEP_CHECKED] = _("The certificate and its key checked")
    current = next((step for step in services.STEPS if step not in done), None)
    steps = [
        {"name": step, "label": labels[step], "done": step in done, "current": step == current}
        for step in services.STEPS
    ]
    return render(
        request,
        "ksef_integration/_connect_progress.html",
        {"steps": steps, "attempt": attempt, "method": request.GET.get("method", "token")},
    )


@company_required()
def guide(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    return render(request, "ksef_integration/guide.html")


@owner_required
def disconnect(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    """ "Usuń token / Rozłącz": what it means (GET), then end the KSeF session and delete the secrets
    (POST)."""
    connection = selectors.connection_for_company(company=membership.company)
    if request.method == "POST":
        user = request.user
        assert isinstance(user, User)  # noqa: S101
        if services.connection_disconnect(company=membership.company, user=user):
            messages.success(request, _("Disconnected from KSeF. The token and keys have been deleted."))
        return redirect("ksef_integration:settings")
    if connection is None or not connection.is_connected:
        return redirect("ksef_integration:settings")
    return render(request, "ksef_integration/disconnect.html", {"connection": connection})


@require_POST
@owner_required
def verify(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)  # noqa: S101
    try:
        services.connection_verify(company=membership.company, user=user)
    except ConnectError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The connection with KSeF works."))
    return redirect(reverse("ksef_integration:settings"))


@require_POST
@company_required(Role.OWNER, Role.ACCOUNTANT)
def via_office(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    """ "Pobieraj przez biuro": serve the current company (a client) with the certificate of an office the
    user owns, in the client's context, on what the client granted the office in KSeF."""
    user = request.user
    assert isinstance(user, User)  # noqa: S101
    client = membership.company
    if not selectors.via_office_allowed(membership=membership):
        messages.error(request, _("The company is connected with its own credential; disconnect it first."))
        return redirect("ksef_integration:settings")
    office = selectors.office_get_or_404(user=user, client=client, office_uuid=request.POST.get("office", ""))
    try:
        result = services.connection_connect_via_office(company=client, user=user, office=office)
    except ConnectError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("KSeF Portal now works for %(client)s with the certificate of %(office)s.")
            % {"client": client.name, "office": office.name},
        )
        for item in result.missing_messages:
            messages.warning(request, item)
    return redirect("ksef_integration:settings")

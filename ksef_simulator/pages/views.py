"""Pages of the simulated "Aplikacja Podatnika": log in as a NIP, Tokeny, Uprawnienia, Certyfikaty, Faktury,
test data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from ksef_simulator import services_core, services_permissions
from ksef_simulator.pages import data
from ksef_simulator.pages.forms import (
    CertificateForm,
    EntityGrantForm,
    GenerateInvoicesForm,
    IncomingInvoiceForm,
    LoginForm,
    PersonGrantForm,
    TokenForm,
)

SESSION_NIP = "ksef_sim_nip"
SESSION_TOKEN = "ksef_sim_new_token"  # noqa: S105 (a session key name) — shown once, then removed from the session
SESSION_CERTIFICATE = "ksef_sim_certificate"

Page = Callable[..., HttpResponse]


def nip_required(view: Page) -> Page:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        nip = request.session.get(SESSION_NIP)
        if not nip:
            return redirect("ksef_simulator:index")
        return view(request, *args, nip=nip, **kwargs)

    return wrapper


def index(request: HttpRequest) -> HttpResponse:
    if request.session.get(SESSION_NIP):
        return redirect("ksef_simulator:tokens")
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        request.session.cycle_key()
        request.session[SESSION_NIP] = form.cleaned_data["nip"]
        wanted = request.GET.get("next", "")
        if wanted and url_has_allowed_host_and_scheme(
            wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return redirect(wanted)
        return redirect("ksef_simulator:tokens")
    return render(request, "ksef_simulator/login.html", {"form": form})


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    request.session.pop(SESSION_NIP, None)
    request.session.pop(SESSION_TOKEN, None)
    request.session.pop(SESSION_CERTIFICATE, None)
    return redirect("ksef_simulator:index")


@nip_required
def tokens(request: HttpRequest, *, nip: str) -> HttpResponse:
    return render(
        request,
        "ksef_simulator/tokens.html",
        {"nip": nip, "tokens": data.token_rows(nip=nip), "tab": "tokens"},
    )


@never_cache
@nip_required
def token_generate(request: HttpRequest, *, nip: str) -> HttpResponse:
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        reference, token = services_core.token_generate(
            nip=nip, permissions=form.cleaned_data["permissions"], description=form.api_description()
        )
        request.session[SESSION_TOKEN] = {"reference": reference, "token": token}
        return redirect("ksef_simulator:token_generated")
    return render(
        request, "ksef_simulator/token_generate.html", {"nip": nip, "form": form, "tab": "generate"}
    )


@never_cache
@nip_required
def token_generated(request: HttpRequest, *, nip: str) -> HttpResponse:
    shown = request.session.pop(SESSION_TOKEN, None)
    if shown is None:
        # Reloading the page does not show the token again, as in the real application.
        messages.info(request, "Token wyświetlany jest tylko raz. Wygeneruj nowy, jeśli go nie skopiowano.")
        return redirect("ksef_simulator:tokens")
    return render(request, "ksef_simulator/token_generated.html", {"nip": nip, **shown, "tab": "generate"})


@require_POST
@nip_required
def token_revoke(request: HttpRequest, reference: str, *, nip: str) -> HttpResponse:
    if not data.token_revoke(nip=nip, reference=reference):
        raise Http404
    messages.success(request, f"Token {reference} został unieważniony.")
    return redirect("ksef_simulator:tokens")


@never_cache
@nip_required
def certificates(request: HttpRequest, *, nip: str) -> HttpResponse:
    form = CertificateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            certificate_pem, key_pem, serial = services_core.certificate_issue(
                nip=nip,
                kind=form.cleaned_data["kind"],
                key_type=form.cleaned_data["key_type"],
                password=form.cleaned_data["password"],
            )
        except services_core.CoreError as exc:  # e.g. the subject's limit of certificates (25006, 25007)
            form.add_error(None, f"KSeF odrzucił wniosek: {exc.description}")
            context = {"nip": nip, "form": form, "issued": None, "tab": "certificates"}
            return render(request, "ksef_simulator/certificates.html", context)
        # Only the password-protected key is kept, and only in this browser's session, for the download.
        request.session[SESSION_CERTIFICATE] = {
            "certificate": certificate_pem,
            "key": key_pem,
            "serial": serial,
            "kind": form.cleaned_data["kind"],
        }
        messages.success(
            request, f"Certyfikat {serial} został wystawiony. Pobierz certyfikat i klucz prywatny."
        )
        return redirect("ksef_simulator:certificates")
    issued = request.session.get(SESSION_CERTIFICATE)
    context = {"nip": nip, "form": form, "issued": issued, "tab": "certificates"}
    return render(request, "ksef_simulator/certificates.html", context)


@nip_required
def certificate_download(request: HttpRequest, part: str, *, nip: str) -> HttpResponse:
    issued = request.session.get(SESSION_CERTIFICATE)
    if issued is None or part not in {"certificate", "key"}:
        raise Http404
    suffix = "crt" if part == "certificate" else "key"
    response = HttpResponse(issued[part], content_type="application/x-pem-file")
    response["Content-Disposition"] = f'attachment; filename="ksef-{issued["kind"].lower()}-{nip}.{suffix}"'
    return response


@nip_required
def invoices(request: HttpRequest, *, nip: str) -> HttpResponse:
    rows = data.invoices_for_nip(nip=nip, limit=200)
    return render(request, "ksef_simulator/invoices.html", {"nip": nip, "invoices": rows, "tab": "invoices"})


@nip_required
def test_data(request: HttpRequest, *, nip: str) -> HttpResponse:
    today = dt.datetime.now(dt.UTC).date()
    single = IncomingInvoiceForm(request.POST if "single" in request.POST else None, prefix="single")
    many = GenerateInvoicesForm(
        request.POST if "many" in request.POST else None,
        prefix="many",
        initial={"date_from": today - dt.timedelta(days=30), "date_to": today},
    )
    if request.method == "POST" and "single" in request.POST and single.is_valid():
        number = data.invoice_send_to(
            buyer_nip=nip,
            seller_nip=single.cleaned_data["seller_nip"],
            seller_name=single.cleaned_data["seller_name"],
            net_amount=single.cleaned_data["net_amount"],
        )
        messages.success(request, f"KSeF przyjął fakturę od {single.cleaned_data['seller_nip']}: {number}.")
        return redirect("ksef_simulator:test_data")
    if request.method == "POST" and "many" in request.POST and many.is_valid():
        created = data.invoices_generate(
            buyer_nip=nip,
            count=many.cleaned_data["count"],
            sellers=many.cleaned_data["sellers"],
            date_from=many.cleaned_data["date_from"],
            date_to=many.cleaned_data["date_to"],
        )
        messages.success(request, f"Wygenerowano {len(created)} faktur zakupowych dla NIP {nip}.")
        return redirect("ksef_simulator:test_data")
    return render(
        request,
        "ksef_simulator/test_data.html",
        {"nip": nip, "single": single, "many": many, "tab": "test_data"},
    )


def guide(request: HttpRequest) -> HttpResponse:
    """What the simulator is and how to drive it (tokens, certificates, faults, limits)."""
    return render(
        request, "ksef_simulator/guide.html", {"tab": "guide", "nip": request.session.get(SESSION_NIP)}
    )


# --- Uprawnienia (the same services as /permissions/*; the page's user is the context's owner) -------------


def _owner(nip: str) -> services_permissions.Actor:
    return services_permissions.Actor(context_nip=nip, subject_type="Nip", subject_value=nip)


def _permissions_page(
    request: HttpRequest,
    nip: str,
    *,
    person: PersonGrantForm | None = None,
    entity: EntityGrantForm | None = None,
) -> HttpResponse:
    context = {
        "nip": nip,
        "tab": "permissions",
        "grants": data.grant_rows(nip=nip),
        "received": data.received_rows(nip=nip),
        "person_form": person or PersonGrantForm(prefix="person"),
        "entity_form": entity or EntityGrantForm(prefix="entity"),
    }
    return render(
        request, "ksef_simulator/permissions.html", context, status=200 if request.method == "GET" else 400
    )


@never_cache
@nip_required
def permissions(request: HttpRequest, *, nip: str) -> HttpResponse:
    return _permissions_page(request, nip)


def _done(request: HttpRequest, operation: Any, success: str) -> HttpResponse:
    if operation.outcome_code == 200:
        messages.success(request, success)
    else:
        details = "; ".join(operation.outcome_details)
        messages.error(request, f"Operacja {operation.reference_number} odrzucona: {details}")
    return redirect("ksef_simulator:permissions")


@require_POST
@nip_required
def permission_grant_person(request: HttpRequest, *, nip: str) -> HttpResponse:
    form = PersonGrantForm(request.POST, prefix="person")
    if not form.is_valid():
        return _permissions_page(request, nip, person=form)
    values = form.cleaned_data
    try:
        operation = services_permissions.grant_to_person(
            actor=_owner(nip),
            subject=services_permissions.Identifier(values["identifier_type"], values["identifier"]),
            permissions=values["permissions"],
            description=values["description"],
            details={
                "subjectDetailsType": "PersonByIdentifier",
                "personById": {"firstName": values["first_name"], "lastName": values["last_name"]},
            },
        )
    except services_permissions.PermissionsError as error:
        form.add_error(None, error.detail)
        return _permissions_page(request, nip, person=form)
    return _done(request, operation, f"Nadano uprawnienia osobie {values['identifier']}.")


@require_POST
@nip_required
def permission_grant_entity(request: HttpRequest, *, nip: str) -> HttpResponse:
    form = EntityGrantForm(request.POST, prefix="entity")
    if not form.is_valid():
        return _permissions_page(request, nip, entity=form)
    values = form.cleaned_data
    try:
        operation = services_permissions.grant_to_entity(
            actor=_owner(nip),
            nip=values["nip"],
            permissions=[(p, values["can_delegate"]) for p in values["permissions"]],
            description=values["description"],
            full_name=values["full_name"],
        )
    except services_permissions.PermissionsError as error:
        form.add_error(None, error.detail)
        return _permissions_page(request, nip, entity=form)
    return _done(request, operation, f"Nadano uprawnienia podmiotowi {values['nip']}.")


@require_POST
@nip_required
def permission_revoke(request: HttpRequest, permission_id: str, *, nip: str) -> HttpResponse:
    try:
        services_permissions.revoke(actor=_owner(nip), permission_id=permission_id)
    except services_permissions.PermissionsError:
        raise Http404 from None
    messages.success(request, "Uprawnienie zostało odebrane.")
    return redirect("ksef_simulator:permissions")

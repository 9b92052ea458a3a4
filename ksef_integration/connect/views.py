"""The guided flow (Usługi dodatkowe → KSeF → Uruchom KSeF → Token/Certyfikat → Gotowe!) and the
"Dane i ustawienia → KSeF" page. Views only translate HTTP into service calls."""

from __future__ import annotations

import uuid

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_POST

from accounts.decorators import company_required, owner_required
from accounts.models import Membership, Role, User
from invoices.models import Direction
from invoices.selectors import invoice_get_for_company_or_404
from ksef_integration.connect import selectors, services
from ksef_integration.connect.forms import CertificateConnectForm, KsefSettingsForm, TokenConnectForm
from ksef_integration.errors import ConnectError
from ksef_integration.sending import drain as send_services
from ksef_integration.sending.display import invoice_upo_bytes, invoice_xml_bytes

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
                company=membership.company, user=user, raw_token=form.cleaned_data["token"]
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
            )
        except ConnectError as exc:
            form.add_error(None, exc.message)
        else:
            request.session[SESSION_MISSING] = result.missing_messages
            return redirect("ksef_integration:done")
    site_url, site_label = _site_link(request)
    context = {"form": form, "ksef_site_url": site_url, "ksef_site_label": site_label}
    return render(request, "ksef_integration/certificate.html", context)


@company_required()
def done(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    connection = selectors.connection_for_company(company=membership.company)
    if connection is None or not connection.is_connected:
        return redirect("ksef_integration:landing")
    missing = request.session.pop(SESSION_MISSING, None) or selectors.missing_permission_messages(connection)
    context = {
        "missing": missing,
        "connection": connection,
        "unsent_count": send_services.unsent_invoices(company_id=membership.company.pk).count(),
    }
    return render(request, "ksef_integration/done.html", context)


@company_required()
def guide(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    return render(request, "ksef_integration/guide.html")


@company_required()
def settings_page(request: HttpRequest, *, membership: Membership) -> HttpResponse:
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
        "permission_labels": selectors.permission_labels(connection),
        "missing": [
            *selectors.missing_permission_messages(connection),
            *selectors.certificate_warnings(connection),
        ],
        "sunset_days": selectors.token_sunset_days(),
        "sunset": settings.KSEF_TOKEN_SUNSET,
        "events": selectors.recent_events(company=membership.company, limit=10),
        **_import_context(membership),
    }
    return render(request, "ksef_integration/settings.html", context)


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
        send_services.submission_enqueue(invoice=invoice)
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
        queued = send_services.unsent_send_all(company_id=company.pk)
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
    invoices = send_services.unsent_invoices(company_id=company.pk).order_by("issue_date", "id")
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
    from ksef_integration.models import ImportFailure

    company_id = membership.company.pk
    if request.GET.get("direction") == "purchase":
        failures = ImportFailure.objects.filter(company_id=company_id).count()
        response = render(request, "ksef_integration/_import_failures_banner.html", {"failures": failures})
    else:
        count = send_services.unsent_invoices(company_id=company_id).count()
        response = render(request, "ksef_integration/_unsent_banner.html", {"unsent_count": count})
    response["Cache-Control"] = "no-store"
    return response


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


# --- importing (issue 7) ------------------------------------------------------------------------------


class ImportDigestForm(forms.Form):
    enabled = forms.BooleanField(label=_l("E-mail me about new purchase invoices"), required=False)


def _import_context(membership: Membership) -> dict[str, object]:
    from ksef_integration.models import ImportFailure, ImportRun, SyncCursor

    company = membership.company
    from ksef_integration.importing.digest import digest_subscribed

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
    from ksef_integration.importing.services import import_enqueue_on_commit

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


@company_required()
def invoice_xml(request: HttpRequest, invoice_uuid: uuid.UUID, *, membership: Membership) -> HttpResponse:
    """The invoice's FA(3) file: the original KSeF gave us (imported), else the one the portal sent."""
    invoice = invoice_get_for_company_or_404(company=membership.company, invoice_uuid=invoice_uuid)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    xml = invoice_xml_bytes(invoice)
    if xml is None:
        raise Http404
    return _xml_attachment(xml, name=invoice.ksef_number or invoice.number)


def _xml_attachment(body: bytes, *, name: str) -> HttpResponse:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
    response = HttpResponse(body, content_type="application/xml")
    response["Content-Disposition"] = f'attachment; filename="{safe}.xml"'
    return response


@company_required()
def invoice_upo(request: HttpRequest, invoice_uuid: uuid.UUID, *, membership: Membership) -> HttpResponse:
    """The UPO (Urzędowe Poświadczenie Odbioru) KSeF gave for the invoice, as KSeF wrote it."""
    invoice = invoice_get_for_company_or_404(company=membership.company, invoice_uuid=invoice_uuid)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    upo = invoice_upo_bytes(invoice)
    if upo is None:
        raise Http404
    return _xml_attachment(upo, name=f"UPO_{invoice.ksef_number or invoice.number}")


@require_POST
@company_required()
def import_digest(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    """Each member's own opt-in: an e-mail about the purchase invoices each import brings."""
    from ksef_integration.importing.digest import digest_subscription_set

    form = ImportDigestForm(request.POST)
    if form.is_valid():
        digest_subscription_set(membership=membership, enabled=form.cleaned_data["enabled"])
        messages.success(request, _("Your notification settings are saved."))
    return redirect("ksef_integration:settings")

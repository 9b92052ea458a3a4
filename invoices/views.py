"""Dokumenty (the list), Wystaw (issue), Dodaj (a purchase by hand), the invoice page, its visualisation
(HTML and PDF) and Korekta. Owners and accountants may write; viewers read only (403 on POST)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts.decorators import company_required
from accounts.models import Membership, Role
from invoices import advances, live, registers, selectors, services
from invoices.acceptance import Issue
from invoices.errors import InvoiceError, InvoiceInvalid
from invoices.formatting import price
from invoices.forms import CURRENCIES, BaseLineFormSet, CorrectionForm, FilterForm, InvoiceForm, LineFormSet
from invoices.list_cache import is_unfiltered, list_filters_html, list_rows_html
from invoices.models import Direction, Invoice, InvoiceKind, InvoiceLine, KsefStatus, VatRate
from invoices.pdf import invoice_pdf_bytes
from invoices.visualisation import document_html, payment_panel_html, qr_codes, timeline_html

WRITE_ROLES = (Role.OWNER, Role.ACCOUNTANT)
BLANK_LINES_CACHE_SECONDS = 24 * 60 * 60


def _can_write(membership: Membership) -> bool:
    return membership.role in WRITE_ROLES


def _require_write(request: HttpRequest, membership: Membership) -> None:
    if request.method == "POST" and not _can_write(membership):
        raise PermissionDenied


@company_required()
def document_list(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    direction = Direction.PURCHASE if request.GET.get("direction") == Direction.PURCHASE else Direction.SALES
    unfiltered = is_unfiltered(request.GET)
    # Without filter parameters the form has nothing to say; it is built only to render it.
    form = None if unfiltered else FilterForm(request.GET or None)
    filters = selectors.InvoiceFilters(direction) if form is None else form.filters(direction)
    filtered = form is not None and form.is_filtered()
    after = selectors.Cursor.decode(request.GET.get("after"))
    page = selectors.invoice_list(company=membership.company, filters=filters, after=after)
    next_url = None
    if page.next_cursor is not None:
        params = request.GET.copy()
        params["after"] = page.next_cursor.encode()
        next_url = f"?{params.urlencode()}"
    first_params = request.GET.copy()
    first_params.pop("after", None)
    first_url = f"?{first_params.urlencode()}" if after else None
    form = form or FilterForm(request.GET or None)
    return render(
        request,
        "invoices/document_list.html",
        {
            "membership": membership,
            "nav_active": "documents",
            "direction": direction,
            "form": form,
            "filtered": filtered,
            "filters_html": list_filters_html(
                form=form, direction=direction, filtered=filtered, params=request.GET
            ),
            "page": page,
            "rows_html": list_rows_html(invoices=page.invoices) if page.invoices else "",
            "live_ids": ",".join(str(i.uuid) for i in page.invoices if i.ksef_status in live.POLL_SECONDS),
            "poll_seconds": live.poll_seconds(i.ksef_status for i in page.invoices),
            "next_url": next_url,
            "first_url": first_url,
            "can_write": _can_write(membership),
        },
    )


def _show_issues(form: Any, formset: BaseLineFormSet, issues: list[Issue]) -> None:
    """Put each issue next to its field: the invoice form's, a line's, or above the form naming the line."""
    line_forms = formset.line_forms()
    for issue in issues:
        if issue.line is not None:
            if issue.line < len(line_forms):
                line_form = line_forms[issue.line]
                line_form.add_error(issue.field if issue.field in line_form.fields else None, issue.message)
            else:
                form.add_error(None, issue.message)
        else:
            form.add_error(issue.field if issue.field in form.fields else None, issue.message)


def _service_error(form: Any, formset: BaseLineFormSet, exc: InvoiceError) -> None:
    if isinstance(exc, InvoiceInvalid):
        _show_issues(form, formset, exc.issues)
    else:
        form.add_error(None, exc.message)


def _invoice_form_context(membership: Membership, **extra: Any) -> dict[str, Any]:
    return {
        "membership": membership,
        "can_write": _can_write(membership),
        "contractors": selectors.contractors_recent(company=membership.company),
        "currencies": CURRENCIES,
        "vat_rates": VatRate.choices,
        **extra,
    }


def _blank_lines_html(formset: BaseLineFormSet) -> SafeString:
    """The lines section of a blank Wystaw/Dodaj form (``invoices/_lines.html`` for an unbound formset
    without initial lines): the same for everyone, so rendered once per language and release and kept in
    the shared cache."""
    key = f"invoices:blank-lines:{settings.RELEASE_KEY}:{get_language()}"
    html = cache.get(key)
    if html is None:
        html = render_to_string("invoices/_lines.html", {"formset": formset})
        cache.set(key, html, BLANK_LINES_CACHE_SECONDS)
    return mark_safe(html)  # noqa: S308 - rendered by our template with autoescaping


def _split_payment_added(request: HttpRequest, form: Any, invoice: Invoice) -> None:
    if invoice.split_payment and not form.cleaned_data.get("split_payment"):
        messages.info(
            request,
            _(
                "Split payment (MPP) was added: the invoice has goods or services of Annex 15 and its "
                "gross total is above 15,000 PLN."
            ),
        )


def _invoice_form_page(request: HttpRequest, membership: Membership, direction: str) -> HttpResponse:
    _require_write(request, membership)
    today = timezone.localdate()
    lines_html: SafeString | None = None  # a posted form's lines are rendered with their values and errors
    advance_choices = (
        selectors.advances_open(company=membership.company) if direction == Direction.SALES else None
    )
    if request.method == "POST":
        form = InvoiceForm(request.POST, direction=direction, advance_choices=advance_choices)
        formset = LineFormSet(request.POST, prefix="lines")
        if form.is_valid() and formset.is_valid():
            data = form.invoice_data(formset.lines())
            try:
                if direction == Direction.SALES:
                    invoice = services.invoice_issue(company=membership.company, user=request.user, data=data)  # type: ignore[arg-type]
                else:
                    invoice = services.invoice_purchase_add(
                        company=membership.company,
                        user=request.user,  # type: ignore[arg-type]
                        data=data,
                    )
            except InvoiceError as exc:
                _service_error(form, formset, exc)
            else:
                if direction == Direction.SALES:
                    messages.success(request, _("Invoice %(number)s issued.") % {"number": invoice.number})
                    if invoice.advance_refs:
                        messages.info(
                            request,
                            _("The advances it settles were deducted: %(numbers)s.")
                            % {"numbers": ", ".join(ref["number"] for ref in invoice.advance_refs)},
                        )
                    _split_payment_added(request, form, invoice)
                else:
                    messages.success(
                        request, _("Purchase invoice %(number)s added.") % {"number": invoice.number}
                    )
                return redirect("invoices:detail", invoice_uuid=invoice.uuid)
        messages.error(request, _("Nothing was saved. Correct the marked fields and try again."))
    else:
        initial: dict[str, Any] = {"idempotency_key": uuid.uuid4(), "sale_date": today}
        if direction == Direction.SALES:
            initial["due_date"] = today + dt.timedelta(days=14)
            initial["bank_account"] = selectors.last_sales_bank_account(company=membership.company)
        form = InvoiceForm(initial=initial, direction=direction, advance_choices=advance_choices)
        formset = LineFormSet(prefix="lines")
        lines_html = _blank_lines_html(formset)
    sales = direction == Direction.SALES
    return render(
        request,
        "invoices/invoice_form.html",
        _invoice_form_context(
            membership,
            form=form,
            formset=formset,
            lines_html=lines_html,
            blank_form=lines_html is not None,  # its parts are kept (invoices.templatetags.blank_form)
            sales=sales,
            nav_active="issue" if sales else "add",
            title=_("Issue an invoice") if sales else _("Add a purchase invoice"),
            next_number=services.number_preview(
                company=membership.company, kind=InvoiceKind.VAT, issue_date=today
            )
            if sales
            else "",
        ),
    )


@company_required()
def invoice_issue(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    return _invoice_form_page(request, membership, Direction.SALES)


@company_required()
def document_add(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    return _invoice_form_page(request, membership, Direction.PURCHASE)


@require_GET
@company_required()
def contractor_lookup(request: HttpRequest, *, membership: Membership) -> JsonResponse:
    """The remembered data of the company's contractor with this NIP (for Wystaw's auto-fill)."""
    nip = "".join(ch for ch in request.GET.get("nip", "") if ch.isdigit())
    contractor = selectors.contractor_get_by_nip(company=membership.company, nip=nip)
    if contractor is None:
        return JsonResponse({"found": False})
    return JsonResponse(
        {
            "found": True,
            "nip": contractor.nip,
            "name": contractor.name,
            "address_line1": contractor.address_line1,
            "address_line2": contractor.address_line2,
            "country_code": contractor.country_code,
            "email": contractor.email,
            "bank_account": contractor.bank_account,
            "delivery_email": contractor.delivery_email,
            "delivery_language": contractor.delivery_language,
        }
    )


def _detail_context(invoice: Invoice) -> dict[str, Any]:
    return {
        "invoice": invoice,
        "document_html": document_html(invoice, qr_codes(invoice)),
        "KsefStatus": KsefStatus,
        "poll_seconds": live.poll_seconds([invoice.ksef_status]),
    }


@company_required()
def invoice_detail(request: HttpRequest, invoice_uuid: uuid.UUID, *, membership: Membership) -> HttpResponse:
    invoice = selectors.invoice_get_for_company_or_404(
        company=membership.company, invoice_uuid=invoice_uuid, with_has_corrections=True
    )
    services.invoice_mark_opened(invoice=invoice, membership=membership)
    has_corrections = getattr(invoice, "has_corrections", True)
    context = _detail_context(invoice)
    context.update(
        membership=membership,
        nav_active="documents",
        can_write=_can_write(membership),
        corrections=selectors.invoice_corrections(invoice=invoice) if has_corrections else (),
        ksef_timeline=timeline_html(invoice),
        payment_panel=payment_panel_html(request, invoice, membership),
    )
    return render(request, "invoices/invoice_detail.html", context)


@company_required()
def invoice_ksef_card(
    request: HttpRequest, invoice_uuid: uuid.UUID, *, membership: Membership
) -> HttpResponse:
    """The invoice page's KSeF card, polled (htmx) while its status moves; when the status differs from the
    one the page shows (``?status=``), the document comes along out of band (its QR codes changed)."""
    invoice = selectors.invoice_get_for_company_or_404(company=membership.company, invoice_uuid=invoice_uuid)
    context = _detail_context(invoice)
    context.update(
        can_write=_can_write(membership),
        ksef_timeline=timeline_html(invoice),
        document_changed=request.GET.get("status", invoice.ksef_status) != invoice.ksef_status,
    )
    return render(request, "invoices/_ksef_card.html", context)


@require_GET
@company_required()
def document_statuses(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    """The KSeF status cells of the Dokumenty rows that were on their way (``?ids=``), swapped in out of
    band, and the poller again for those still on their way (without a trigger once none is)."""
    found = live.statuses_for_company(
        company=membership.company, ids=live.parse_ids(request.GET.get("ids", ""))
    )
    labels = dict(KsefStatus.choices)
    cells = [{"uuid": str(u), "status": s, "status_label": labels.get(s, s)} for u, s in found]
    moving = [(str(u), s) for u, s in found if s in live.POLL_SECONDS]
    return render(
        request,
        "invoices/_document_statuses.html",
        {
            "cells": cells,
            "ids": ",".join(invoice_id for invoice_id, _status in moving),
            "poll_seconds": live.poll_seconds(status for _id, status in moving),
        },
    )


@company_required()
def invoice_preview(request: HttpRequest, invoice_uuid: uuid.UUID, *, membership: Membership) -> HttpResponse:
    invoice = selectors.invoice_get_for_company_or_404(company=membership.company, invoice_uuid=invoice_uuid)
    return render(request, "invoices/invoice_preview.html", _detail_context(invoice))


@company_required()
def invoice_pdf(request: HttpRequest, invoice_uuid: uuid.UUID, *, membership: Membership) -> HttpResponse:
    invoice = selectors.invoice_get_for_company_or_404(company=membership.company, invoice_uuid=invoice_uuid)
    pdf = invoice_pdf_bytes(invoice, qr_codes=qr_codes(invoice))
    response = HttpResponse(pdf, content_type="application/pdf")
    filename = "".join(ch if ch.isalnum() else "_" for ch in invoice.number)
    response["Content-Disposition"] = f'inline; filename="faktura_{filename}.pdf"'
    return response


def _line_initial(lines: Iterable[InvoiceLine]) -> list[dict[str, Any]]:
    return [
        {
            "name": line.name,
            "quantity": f"{line.quantity.normalize():f}".replace(".", ","),
            "unit": line.unit,
            # the price as typed: gross on an invoice priced gross or in a margin scheme
            "unit_price": price(
                line.unit_price if line.unit_price_gross is None else line.unit_price_gross
            ).replace("\u00a0", ""),
            "vat_rate": line.vat_rate,
            "discount_percent": _percent(line.discount_percent),
            "gtu": line.gtu,
            "annex15": line.annex15,
            "procedure": line.procedure,
            "pkwiu": line.pkwiu,
            "cn": line.cn,
            "gtin": line.gtin,
            "index": line.index,
            "sale_date": line.sale_date,
        }
        for line in lines
    ]


def _percent(value: Decimal | None) -> str:
    return "" if value is None else f"{value.normalize():f}".replace(".", ",")


def _third_party_initial(invoice: Invoice) -> dict[str, Any]:
    if not invoice.third_parties:
        return {}
    third = invoice.third_parties[0]
    return {"third_role": third.get("role")} | {
        f"third_{key}": third.get(key, "")
        for key in ("name", "nip", "foreign_id", "address_line1", "address_line2", "country_code")
    }


def _edit_initial(invoice: Invoice) -> dict[str, Any]:
    return {
        "idempotency_key": uuid.uuid4(),
        "nip": invoice.buyer_nip,
        "name": invoice.buyer_name,
        "foreign_id": invoice.buyer_foreign_id,
        "address_line1": invoice.buyer_address_line1,
        "address_line2": invoice.buyer_address_line2,
        "country_code": invoice.buyer_country_code,
        "email": invoice.buyer_email,
        "delivery_email": invoice.delivery_email,
        "delivery_language": invoice.delivery_language,
        "issue_date": invoice.issue_date,
        "sale_date": invoice.sale_date,
        "period_from": invoice.period_from,
        "period_to": invoice.period_to,
        "place_of_issue": invoice.place_of_issue,
        "currency": invoice.currency,
        "exchange_rate": invoice.exchange_rate,
        "payment_method": invoice.payment_method,
        "due_date": invoice.due_date,
        "paid_on": invoice.paid_on,
        "bank_account": invoice.bank_account,
        "split_payment": invoice.split_payment,
        "cash_accounting": invoice.cash_accounting,
        "self_billing": invoice.self_billing,
        "related_parties": invoice.related_parties,
        **_third_party_initial(invoice),
        "partial_amount": invoice.partial_payments[0]["amount"] if invoice.partial_payments else None,
        "partial_paid_on": invoice.partial_payments[0]["paid_on"] if invoice.partial_payments else None,
        "notes": invoice.notes,
        "exemption_basis": invoice.exemption_basis,
        "exemption_text": invoice.exemption_text,
        "prices_gross": invoice.prices_gross,
        "margin_scheme": invoice.margin_scheme,
        "discount_percent": invoice.discount_percent,
        "discount_amount": invoice.discount_amount,
    }


@company_required()
def invoice_edit(request: HttpRequest, invoice_uuid: uuid.UUID, *, membership: Membership) -> HttpResponse:
    """Wystaw again for a sales invoice KSeF did not accept: same number, corrected data, sent again."""
    invoice = selectors.invoice_get_for_company_or_404(company=membership.company, invoice_uuid=invoice_uuid)
    if not _can_write(membership):
        raise PermissionDenied
    if not invoice.can_be_edited():
        messages.error(
            request,
            _(
                "Only a sales invoice KSeF did not accept can be changed. "
                "An accepted invoice is changed by a correction."
            ),
        )
        return redirect("invoices:detail", invoice_uuid=invoice.uuid)
    if request.method == "POST":
        form = InvoiceForm(request.POST, direction=Direction.SALES)
        formset = LineFormSet(request.POST, prefix="lines")
        if form.is_valid() and formset.is_valid():
            try:
                services.invoice_edit(
                    invoice=invoice,
                    user=request.user,  # type: ignore[arg-type]
                    data=form.invoice_data(formset.lines()),
                )
            except InvoiceError as exc:
                _service_error(form, formset, exc)
            else:
                messages.success(
                    request,
                    _("Invoice %(number)s corrected and sent to KSeF again.") % {"number": invoice.number},
                )
                invoice.refresh_from_db(fields=["split_payment"])
                _split_payment_added(request, form, invoice)
                return redirect("invoices:detail", invoice_uuid=invoice.uuid)
        messages.error(request, _("Nothing was saved. Correct the marked fields and try again."))
    else:
        form = InvoiceForm(initial=_edit_initial(invoice), direction=Direction.SALES)
        formset = LineFormSet(
            prefix="lines", initial=_line_initial(invoice.lines.filter(before_correction=False))
        )
    return render(
        request,
        "invoices/invoice_form.html",
        _invoice_form_context(
            membership,
            form=form,
            formset=formset,
            sales=True,
            editing=invoice,
            nav_active="documents",
            title=_("Fix invoice %(number)s") % {"number": invoice.number},
        ),
    )


def _nets_by_rate(lines: Iterable[InvoiceLine], *, gross: bool = False) -> dict[str, str]:
    """The lines' values per rate for Korekta's live difference: net, or gross on an invoice priced gross
    or in a margin scheme (the form's lines are typed that way then)."""
    nets: dict[str, Decimal] = {}
    for line in lines:
        value = line.gross_value if gross else line.net_value
        nets[line.vat_rate] = nets.get(line.vat_rate, Decimal(0)) + value
    return {rate: str(net) for rate, net in nets.items()}


@company_required()
def invoice_correct(request: HttpRequest, invoice_uuid: uuid.UUID, *, membership: Membership) -> HttpResponse:
    """Korekta: the lines as they stand (before) and the form's lines (after). An advance invoice's lines are
    its order, and the advance after the correction is asked for; a final invoice's advances stay
    deducted."""
    original = selectors.invoice_get_for_company_or_404(company=membership.company, invoice_uuid=invoice_uuid)
    _require_write(request, membership)
    try:
        services.invoice_correction_check(original=original)
    except InvoiceError as exc:
        messages.error(request, exc.message)
        return redirect("invoices:detail", invoice_uuid=original.uuid)
    current = services.invoice_current_lines(original=original)
    stated_now = services.invoice_stated_now(original=original)
    advance = original.kind == InvoiceKind.ZAL
    if request.method == "POST":
        form = CorrectionForm(request.POST, advance=advance)
        formset = LineFormSet(request.POST, prefix="lines")
        if form.is_valid() and formset.is_valid():
            try:
                invoice = services.invoice_correct(
                    original=original,
                    user=request.user,  # type: ignore[arg-type]
                    data=form.correction_data(formset.lines()),
                )
            except InvoiceError as exc:
                _service_error(form, formset, exc)
            else:
                messages.success(request, _("Correction %(number)s issued.") % {"number": invoice.number})
                return redirect("invoices:detail", invoice_uuid=invoice.uuid)
        messages.error(request, _("Nothing was saved. Correct the marked fields and try again."))
    else:
        initial: dict[str, Any] = {
            "idempotency_key": uuid.uuid4(),
            "exemption_basis": original.exemption_basis,
            "exemption_text": original.exemption_text,
        }
        if advance and stated_now is not None:
            initial["advance_amount"] = stated_now.gross.quantize(Decimal("0.01"))
        form = CorrectionForm(initial=initial, advance=advance)
        formset = LineFormSet(
            prefix="lines",
            initial=_line_initial(current),
        )
    return render(
        request,
        "invoices/invoice_correct.html",
        _invoice_form_context(
            membership,
            form=form,
            formset=formset,
            original=original,
            current_lines=current,
            # An advance or final invoice: what it states now (the advance, or the amount left to pay).
            stated_now=stated_now,
            order_value_now=advances.order_value(
                current, currency=original.currency, exchange_rate=original.exchange_rate
            )
            if advance
            else None,
            settled_advances=original.settled_advances.order_by("issue_date", "id")
            if original.kind == InvoiceKind.ROZ
            else (),
            before_nets=json.dumps(_nets_by_rate(current, gross=original.pricing != "net")),
            nav_active="documents",
            back_url=reverse("invoices:detail", kwargs={"invoice_uuid": original.uuid}),
        ),
    )


# --- Rejestry VAT -----------------------------------------------------------------------------------------

REGISTER_QUARTERS_SHOWN = 8


def _register_request(request: HttpRequest, membership: Membership) -> tuple[registers.Register, str]:
    """The register the query string asks for, and a message when it asked for something that is no period
    (the previous month is shown then)."""
    direction = Direction.PURCHASE if request.GET.get("direction") == Direction.PURCHASE else Direction.SALES
    today = timezone.localdate()
    error = ""
    period = registers.Period.previous_month(today)
    raw = request.GET.get("quarter") or request.GET.get("month") or request.GET.get("period") or ""
    if raw:
        try:
            period = registers.Period.parse(raw[:20])
        except registers.PeriodError:
            error = _(
                "“%(value)s” is not a month or a quarter. Choose a month (e.g. 2026-11) or a quarter "
                "(e.g. 2026-Q4); the previous month is shown."
            ) % {"value": raw[:20]}
    register = registers.register_build(
        company=membership.company, direction=direction, period=period, today=today
    )
    return register, error


@company_required()
def vat_registers(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    register, error = _register_request(request, membership)
    current = timezone.localdate()
    year, quarter = current.year, (current.month - 1) // 3 + 1
    quarters = []
    for _i in range(REGISTER_QUARTERS_SHOWN):
        quarters.append(registers.Period.quarter(year, quarter))
        year, quarter = (year, quarter - 1) if quarter > 1 else (year - 1, 4)
    return render(
        request,
        "invoices/vat_registers.html",
        {
            "membership": membership,
            "nav_active": "documents",
            "register": register,
            "direction": register.direction,
            "error": error,
            "headers": registers.register_headers(register),
            "rows": list(zip(register.rows, registers.register_cells(register), strict=True)),
            "totals": register.totals(),
            "warnings": register.warnings,
            "quarters": quarters,
            "query": f"direction={register.direction}&period={register.period.code}",
        },
    )


@company_required()
def vat_register_download(request: HttpRequest, *, membership: Membership, fmt: str) -> HttpResponse:
    register, error = _register_request(request, membership)
    if error:
        messages.error(request, error)
        return redirect(f"{reverse('invoices:registers')}?direction={register.direction}")
    if fmt == "xlsx":
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        body = registers.register_xlsx(register)
    else:
        content_type = "text/csv; charset=utf-8"
        body = registers.register_csv(register)
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{registers.register_filename(register, fmt)}"'
    return response

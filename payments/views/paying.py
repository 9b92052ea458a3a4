"""Zapłać (the transfer file for accepted invoices), the files made before, and the statement import."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.decorators import company_required
from accounts.models import Membership, Role
from payments import inbox, paying, transfers
from payments.forms import PayForm, StatementForm
from payments.models import PaymentFile, PaymentFileFormat, PurchaseStatus
from payments.transfers.errors import MESSAGES

logger = logging.getLogger("payments.statements")

ACTING = (Role.OWNER, Role.ACCOUNTANT)


@company_required(*ACTING)
def pay(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    """POST from the inbox with the ticked invoices shows the form; POST with ``confirm`` makes the file."""
    if request.method != "POST":
        return redirect("payments:inbox")
    company = membership.company
    invoices = inbox.purchases_by_uuid(company=company, uuids=request.POST.getlist("invoice"))
    plan = paying.pay_plan(invoices=invoices)
    problems: list[tuple[Any, str]] = []
    if "confirm" in request.POST:
        form = PayForm(request.POST)
        if form.is_valid():
            try:
                payment_file = paying.payment_file_create(
                    membership=membership,
                    invoices=invoices,
                    payer_account=form.cleaned_data["payer_account"],
                    execution_date=form.cleaned_data["execution_date"],
                    file_format=form.cleaned_data["file_format"],
                    collective=form.cleaned_data["collective"],
                )
            except paying.PayError as exc:
                problems = exc.problems
            else:
                if payment_file.is_ready:
                    messages.success(
                        request,
                        _("The file %(name)s is ready: download it and import it in your bank.")
                        % {"name": payment_file.filename},
                    )
                return redirect("payments:file", file_uuid=payment_file.uuid)
    else:
        form = PayForm(
            initial={
                "payer_account": paying.payer_account_default(company=company),
                "execution_date": timezone.localdate(),
                "file_format": PaymentFileFormat.ELIXIR,
            }
        )
    return render(
        request,
        "payments/pay.html",
        {
            "form": form,
            "plan": plan,
            "groups": paying.collective_groups(plan.payable),
            "split_payments": [invoice for invoice in plan.payable if invoice.split_payment],
            "problems": problems,
            "nav_active": "documents",
            "membership": membership,
        },
    )


def _file_or_404(membership: Membership, file_uuid: uuid.UUID) -> PaymentFile:
    payment_file = paying.payment_file_get(company=membership.company, file_uuid=file_uuid)
    if payment_file is None:
        raise Http404
    return payment_file


@company_required()
def files(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    return render(
        request,
        "payments/files.html",
        {
            "files": paying.payment_files(company=membership.company),
            "nav_active": "documents",
            "membership": membership,
        },
    )


@company_required()
def file_detail(request: HttpRequest, file_uuid: uuid.UUID, *, membership: Membership) -> HttpResponse:
    payment_file = _file_or_404(membership, file_uuid)
    invoices = paying.payment_file_invoices(payment_file=payment_file)
    return render(
        request,
        "payments/file_detail.html",
        {
            "file": payment_file,
            "invoices": invoices,
            "still_in_file": [i for i in invoices if i.purchase_entry.status == PurchaseStatus.IN_FILE],
            "collective": list(payment_file.collective.all()),
            "can_act": inbox.may_act(membership),
            "nav_active": "documents",
            "membership": membership,
        },
    )


@company_required()
def file_download(request: HttpRequest, file_uuid: uuid.UUID, *, membership: Membership) -> HttpResponse:
    payment_file = _file_or_404(membership, file_uuid)
    if not payment_file.is_ready:
        messages.info(
            request, _("The file is not ready yet: KSeF is being asked for the collective identifiers.")
        )
        return redirect("payments:file", file_uuid=payment_file.uuid)
    response = HttpResponse(
        bytes(payment_file.content), content_type=paying.CONTENT_TYPES[PaymentFileFormat(payment_file.format)]
    )
    response["Content-Disposition"] = f'attachment; filename="{payment_file.filename}"'
    return response


@company_required(*ACTING)
def statement(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    """Upload a statement: the matched invoices are marked paid, the rest listed with the reason."""
    report = None
    if request.method == "POST":
        form = StatementForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data["statement"].read()
            try:
                report = paying.statement_import(membership=membership, data=data)
            except transfers.PaymentFileError as exc:
                for problem in exc.problems[:5]:
                    form.add_error("statement", problem.message)
            except inbox.InboxError as exc:
                form.add_error("statement", str(exc))
            except (ValueError, ArithmeticError, LookupError, TypeError):
                # A file the readers did not foresee: refused like any other non-statement, never a 500.
                logger.info("statement upload not readable", exc_info=True)
                form.add_error("statement", str(MESSAGES["statement_unknown"]))
    else:
        form = StatementForm()
    return render(
        request,
        "payments/statement.html",
        {"form": form, "report": report, "nav_active": "documents", "membership": membership},
    )

"""Dokumenty, Wystaw and Dodaj. Invoices arrive with the sending and import issues; until then these
pages say so plainly instead of pretending."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.decorators import company_required
from accounts.models import Membership


@company_required()
def document_list(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    return render(request, "invoices/document_list.html", {"membership": membership})


@company_required()
def invoice_issue(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    return render(request, "invoices/not_yet.html", {"membership": membership, "page": "issue"})


@company_required()
def document_add(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    return render(request, "invoices/not_yet.html", {"membership": membership, "page": "add"})

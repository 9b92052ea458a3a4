"""The Biuro page: every client company's KSeF state; a click switches the current company (accounts)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import User
from ksef_integration.office.cards import office_cards_html
from ksef_integration.office.forms import OfficeFilterForm
from ksef_integration.office.selectors import office_rows


@login_required
def office(request: HttpRequest) -> HttpResponse:
    form = OfficeFilterForm(request.GET)
    name, problems_only, sort = "", False, "name"
    if form.is_valid():  # anything else (a made-up sort, an overlong name) shows the plain list
        name = form.cleaned_data["name"]
        problems_only = form.cleaned_data["problems"]
        sort = form.cleaned_data["sort"] or "name"
    user: User = request.user  # type: ignore[assignment]
    rows = office_rows(user=user, name=name, problems_only=problems_only, sort=sort)
    filtered = bool(name or problems_only)
    return render(
        request,
        "ksef_integration/office.html",
        {
            "form": form,
            "rows": rows,
            "cards": office_cards_html(rows=rows),
            "filtered": filtered,
            "sort": sort,
        },
    )

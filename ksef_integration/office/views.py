"""The Biuro page: every client company's KSeF state, one page of them at a time; a click switches the current
company (accounts)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import User
from ksef_integration.office.forms import OfficeFilterForm
from ksef_integration.office.selectors import office_page
from ksef_integration.office.table import rows_html


@login_required
def office(request: HttpRequest) -> HttpResponse:
    form = OfficeFilterForm(request.GET)
    form.is_valid()  # a field with a bad value (a made-up order, an overlong name) is left out, no error page
    data = form.cleaned_data
    name, show = data.get("name") or "", data.get("show") or ""
    sort = data.get("sort") or "attention"
    user: User = request.user  # type: ignore[assignment]
    page = office_page(user=user, name=name, show=show, sort=sort, page=data.get("page") or 1)
    return render(
        request,
        "ksef_integration/office.html",
        {
            "form": form,
            "page": page,
            "totals": page.totals,
            "rows": page.rows,
            "rows_html": rows_html(page.rows),
            "filtered": bool(name or show),
            "sort": sort,
        },
    )

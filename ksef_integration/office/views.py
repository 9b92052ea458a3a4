"""The Biuro page: every client company's KSeF state, one page of them at a time; a click switches the current
company (accounts)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import User
from ksef_integration.office.content import office_content


@login_required
def office(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    content = office_content(request=request, user=user)
    return render(request, "ksef_integration/office.html", {"content": content})

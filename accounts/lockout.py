"""Login throttling (django-axes): who an attempt counts against, and the page a locked-out person sees."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.emails import email_lockout_key


def attempt_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """The e-mail an attempt counts against: one key for every spelling that can reach one account
    (``Alice@`` and ``alice@``; a long s or a dotless i for s or i: accounts.emails)."""
    source: Any = credentials if credentials else request.POST
    return email_lockout_key(str(source.get("username") or source.get("email") or ""))


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """A 429 page in the portal's layout saying why and for how long (never which part was wrong)."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(request, "accounts/lockout.html", {"minutes": minutes}, status=429)

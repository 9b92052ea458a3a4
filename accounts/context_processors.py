"""Template context shared by every page: the product name, the current company and the active tab."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from accounts.current import current_membership
from accounts.models import User
from accounts.selectors import memberships_for_user

# Which tab of the bottom bar a page belongs to, by "namespace:url_name" or by namespace alone.
_NAV_TABS = {
    "accounts:start": "start",
    "invoices:list": "documents",
    "invoices:add": "add",
    "invoices:issue": "issue",
    "invoices": "documents",
    "accounts": "more",
    "ksef_integration:office": "more",
}


def _nav_active(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return ""
    return _NAV_TABS.get(match.view_name) or _NAV_TABS.get(match.namespace, "")


def portal(request: HttpRequest) -> dict[str, Any]:
    context: dict[str, Any] = {
        "SITE_NAME": settings.SITE_NAME,
        "SUPPORT_EMAIL": settings.SUPPORT_EMAIL,
        "nav_active": _nav_active(request),
    }
    membership = current_membership(request)
    if membership is not None and isinstance(request.user, User):
        context["current_membership"] = membership
        context["current_company"] = membership.company
        context["all_memberships"] = memberships_for_user(user=request.user)
    return context

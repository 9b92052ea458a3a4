"""The company the user works in now, chosen with the company switcher and kept in the session."""

from __future__ import annotations

from django.http import HttpRequest

from accounts.models import Company, Membership, User
from accounts.selectors import membership_current

SESSION_KEY = "current_company_uuid"
_CACHE_ATTR = "_current_membership"


def current_membership(request: HttpRequest) -> Membership | None:
    """The membership chosen in the session, else the user's first; None for guests and users without one."""
    if hasattr(request, _CACHE_ATTR):
        cached: Membership | None = getattr(request, _CACHE_ATTR)
        return cached
    membership: Membership | None = None
    user = request.user
    if isinstance(user, User) and user.is_authenticated:
        membership = membership_current(user=user, company_uuid=request.session.get(SESSION_KEY))
    setattr(request, _CACHE_ATTR, membership)
    return membership


def current_company_set(request: HttpRequest, company: Company) -> None:
    request.session[SESSION_KEY] = str(company.uuid)
    if hasattr(request, _CACHE_ATTR):
        delattr(request, _CACHE_ATTR)

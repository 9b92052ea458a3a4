"""View decorators: a logged-in user working in a company, optionally with a given role."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from accounts.current import current_membership
from accounts.models import Role

View = Callable[..., HttpResponse]


def company_required(*roles: str) -> Callable[[View], View]:
    """Require a membership in the current company, passed to the view as ``membership``.

    With ``roles``, the membership must have one of them; otherwise 403.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            membership = current_membership(request)
            if membership is None:
                return redirect("accounts:company_create")
            if roles and membership.role not in roles:
                raise PermissionDenied
            return view(request, *args, membership=membership, **kwargs)

        return login_required(wrapper)

    return decorator


owner_required = company_required(Role.OWNER)

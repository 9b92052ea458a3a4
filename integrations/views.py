"""Dane i ustawienia → Integracje (owners only): API keys (made, shown once, revoked), webhook endpoints (made
with a secret shown once, enabled again, removed), each endpoint's delivery log and "Wyślij ponownie"."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_POST

from accounts.decorators import company_required
from accounts.models import Membership, Role
from integrations import selectors
from integrations.api.keys import key_create, key_revoke, keys_for_company
from integrations.forms import ApiKeyForm, EndpointForm
from integrations.webhooks import services as webhooks


def _page(request: HttpRequest, membership: Membership, **extra: Any) -> HttpResponse:
    company = membership.company
    context = {
        "membership": membership,
        "keys": keys_for_company(company=company),
        "endpoints": selectors.endpoints_for_company(company=company),
        "key_form": extra.pop("key_form", None) or ApiKeyForm(),
        "endpoint_form": extra.pop("endpoint_form", None) or EndpointForm(),
        **extra,
    }
    response = render(request, "integrations/settings.html", context)
    response["Cache-Control"] = "no-store"  # a key or secret shown once must not stay in a cache
    return response


@company_required(Role.OWNER)
def integrations_page(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    return _page(request, membership)


@require_POST
@company_required(Role.OWNER)
@sensitive_variables("new_key")
def key_new(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _page(request, membership, key_form=form)
    new_key = key_create(
        company=membership.company,
        user=request.user,  # type: ignore[arg-type]
        name=form.cleaned_data["name"],
        scope=form.cleaned_data["scope"],
    )
    # Shown in this answer only (not after a redirect): nothing keeps the key to show it again.
    return _page(request, membership, new_key=new_key)


@require_POST
@company_required(Role.OWNER)
def key_revoke_view(request: HttpRequest, key_uuid: uuid.UUID, *, membership: Membership) -> HttpResponse:
    key = selectors.key_get_for_company_or_404(company=membership.company, key_uuid=key_uuid)
    key_revoke(key=key, user=request.user)  # type: ignore[arg-type]
    messages.success(request, _("The API key %(name)s was revoked.") % {"name": key.name})
    return redirect("integrations:settings")


@require_POST
@company_required(Role.OWNER)
@sensitive_variables("secret")
def endpoint_new(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    form = EndpointForm(request.POST)
    if not form.is_valid():
        return _page(request, membership, endpoint_form=form)
    try:
        endpoint, secret = webhooks.endpoint_create(
            company=membership.company,
            user=request.user,  # type: ignore[arg-type]
            url=form.cleaned_data["url"],
            events=form.cleaned_data["events"],
        )
    except webhooks.WebhookError as exc:
        form.add_error("url", exc.message)
        return _page(request, membership, endpoint_form=form)
    return _page(request, membership, new_endpoint=endpoint, new_secret=secret)


@company_required(Role.OWNER)
def endpoint_detail(
    request: HttpRequest, endpoint_uuid: uuid.UUID, *, membership: Membership
) -> HttpResponse:
    endpoint = selectors.endpoint_get_for_company_or_404(
        company=membership.company, endpoint_uuid=endpoint_uuid
    )
    context = {
        "membership": membership,
        "endpoint": endpoint,
        "deliveries": selectors.delivery_log(endpoint=endpoint),
    }
    return render(request, "integrations/endpoint.html", context)


@require_POST
@company_required(Role.OWNER)
def endpoint_enable(
    request: HttpRequest, endpoint_uuid: uuid.UUID, *, membership: Membership
) -> HttpResponse:
    endpoint = selectors.endpoint_get_for_company_or_404(
        company=membership.company, endpoint_uuid=endpoint_uuid
    )
    webhooks.endpoint_enable(endpoint=endpoint)
    messages.success(request, _("The endpoint is enabled again."))
    return redirect("integrations:endpoint", endpoint_uuid=endpoint.uuid)


@require_POST
@company_required(Role.OWNER)
def endpoint_delete(
    request: HttpRequest, endpoint_uuid: uuid.UUID, *, membership: Membership
) -> HttpResponse:
    endpoint = selectors.endpoint_get_for_company_or_404(
        company=membership.company, endpoint_uuid=endpoint_uuid
    )
    webhooks.endpoint_delete(endpoint=endpoint)
    messages.success(request, _("The endpoint %(url)s was removed.") % {"url": endpoint.url})
    return redirect("integrations:settings")


@require_POST
@company_required(Role.OWNER)
def delivery_resend(
    request: HttpRequest, delivery_uuid: uuid.UUID, *, membership: Membership
) -> HttpResponse:
    delivery = selectors.delivery_get_for_company_or_404(
        company=membership.company, delivery_uuid=delivery_uuid
    )
    try:
        webhooks.delivery_redeliver(delivery=delivery)
    except webhooks.WebhookError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The event will be sent again in a moment."))
    return redirect("integrations:endpoint", endpoint_uuid=delivery.endpoint.uuid)

"""Reads for the Integracje page, each scoped to one company (404 for another company's objects)."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import Company
from integrations.models import ApiKey, WebhookDelivery, WebhookEndpoint

LOG_SIZE = 50


def key_get_for_company_or_404(*, company: Company, key_uuid: uuid.UUID) -> ApiKey:
    return get_object_or_404(ApiKey, company=company, uuid=key_uuid)


def endpoint_get_for_company_or_404(*, company: Company, endpoint_uuid: uuid.UUID) -> WebhookEndpoint:
    return get_object_or_404(WebhookEndpoint, company=company, uuid=endpoint_uuid)


def delivery_get_for_company_or_404(*, company: Company, delivery_uuid: uuid.UUID) -> WebhookDelivery:
    return get_object_or_404(
        WebhookDelivery.objects.select_related("endpoint", "event"),
        endpoint__company=company,
        uuid=delivery_uuid,
    )


def endpoints_for_company(*, company: Company) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(company=company)


def delivery_log(*, endpoint: WebhookEndpoint) -> list[WebhookDelivery]:
    """The endpoint's latest deliveries, newest first, each with its attempts."""
    return list(
        WebhookDelivery.objects.filter(endpoint=endpoint)
        .select_related("event")
        .prefetch_related("attempt_log")
        .order_by("-created_at", "-id")[:LOG_SIZE]
    )

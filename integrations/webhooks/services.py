"""Webhook endpoints, events and their delivery.

Delivery is at least once and never concurrent: a worker claims a delivery with a conditional UPDATE before
it POSTs (a dead worker's claim runs out after ``CLAIM``), so a delivery is in flight at most once at a time,
and the event id (``webhook-id``) is the same on every attempt, so a receiver drops a repeat. Retries wait in
the database (``next_attempt_at``) and the sweeper queues what is due; they go on for
``WEBHOOK_RETRY_HOURS`` from the event (or from "wyślij ponownie"). An endpoint whose attempts have failed
``WEBHOOK_DISABLE_FAILURES`` times in a row over at least ``WEBHOOK_DISABLE_HOURS`` is disabled, its waiting
deliveries end as not delivered, and the company is told (``ksef_integration.notify``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import time
from typing import Any

import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from accounts.models import Company, User
from integrations import queue
from integrations.api.representation import summary_out
from integrations.api.schemas import InvoiceSummaryOut
from integrations.models import (
    DeliveryStatus,
    EventType,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from integrations.webhooks import signing, targets
from invoices.models import Invoice
from ksef_integration import notify
from ksef_integration.encryption import secret_decrypt, secret_encrypt

logger = logging.getLogger(__name__)

CLAIM = dt.timedelta(seconds=90)
SWEEP_BATCH = 1000
ERROR_MAX = 300


class WebhookError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- endpoints ----------------------------------------------------------------------------------------


@sensitive_variables("secret")
def endpoint_create(
    *, company: Company, user: User, url: str, events: list[str]
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (returned once, stored encrypted)."""
    try:
        targets.url_check(url)
    except targets.TargetRefused as exc:
        raise WebhookError(exc.message) from exc
    wanted = [event for event in EventType.values if event in events]
    if not wanted:
        raise WebhookError(_("Choose at least one event."))
    secret = signing.secret_generate()
    endpoint = WebhookEndpoint.objects.create(
        company=company, url=url, events=wanted, secret_ciphertext=secret_encrypt(secret), created_by=user
    )
    return endpoint, secret


def endpoint_enable(*, endpoint: WebhookEndpoint) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        is_active=True, disabled_at=None, disabled_reason="", consecutive_failures=0, failing_since=None
    )


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()


def company_listens(*, company_id: int, event_type: str) -> bool:
    """Whether any active endpoint of the company wants ``event_type`` (most companies have none)."""
    endpoints = WebhookEndpoint.objects.filter(company_id=company_id, is_active=True)
    return any(event_type in events for events in endpoints.values_list("events", flat=True))


# --- events -------------------------------------------------------------------------------------------


def invoice_data(invoice: Invoice) -> dict[str, Any]:
    """The ``data`` of an invoice event: the invoice as the API summarises it."""
    return {"invoice": InvoiceSummaryOut.model_validate(summary_out(invoice)).model_dump(mode="json")}


def _body(event: WebhookEvent) -> bytes:
    return json.dumps(event.payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def events_record(
    *, company_id: int, event_type: str, items: list[tuple[str, dict[str, Any]]]
) -> list[WebhookEvent]:
    """Record one event per ``(dedup_key, data)`` with a delivery to each active endpoint that wants it,
    and queue the deliveries on commit. An item whose ``dedup_key`` was recorded before is skipped (a
    signal heard twice is one event). Run inside a transaction."""
    endpoints = [
        e
        for e in WebhookEndpoint.objects.filter(company_id=company_id, is_active=True)
        if e.wants(event_type)
    ]
    if not endpoints or not items:
        return []
    keys = [key for key, _data in items if key]
    seen = set(
        WebhookEvent.objects.filter(company_id=company_id, dedup_key__in=keys).values_list(
            "dedup_key", flat=True
        )
    )
    now = timezone.now()
    created = []
    for key, data in items:
        if key and key in seen:
            continue
        event = WebhookEvent(
            company_id=company_id, type=event_type, dedup_key=key, created_at=now, payload={}
        )
        event.payload = {
            "id": str(event.uuid),
            "type": event_type,
            "timestamp": now.isoformat(),
            "data": data,
        }
        try:
            with transaction.atomic():
                event.save()
        except IntegrityError:
            continue  # recorded meanwhile by another worker
        created.append(event)
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(event=event, endpoint=endpoint, window_started_at=now, next_attempt_at=now)
            for event in created
            for endpoint in endpoints
        ]
    )
    queue.webhook_deliver(delivery_ids=[d.pk for d in deliveries])
    return created


# --- delivery -----------------------------------------------------------------------------------------


def _backoff(attempts: int) -> dt.timedelta:
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    seconds = schedule[min(attempts, len(schedule)) - 1]
    return dt.timedelta(seconds=seconds * random.uniform(0.9, 1.1))  # noqa: S311 - jitter, not crypto


def _claim(delivery_id: int, now: dt.datetime) -> bool:
    return bool(
        WebhookDelivery.objects.filter(
            pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
        )
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + CLAIM)
    )


@sensitive_variables("secret")
def _post(endpoint: WebhookEndpoint, event: WebhookEvent) -> tuple[int | None, str]:
    """POST the event; (status code, error text). Only the status is read: the body is not the portal's."""
    try:
        targets.host_check(endpoint.url)
    except targets.TargetRefused as exc:
        return None, exc.message
    secret = secret_decrypt(endpoint.secret_ciphertext).decode()
    body = _body(event)
    headers = signing.headers(secret=secret, msg_id=str(event.uuid), timestamp=int(time.time()), body=body)
    headers["User-Agent"] = f"{settings.SITE_NAME} webhooks"
    try:
        with requests.post(
            endpoint.url,
            data=body,
            headers=headers,
            timeout=(5, settings.WEBHOOK_TIMEOUT_SECONDS),
            allow_redirects=False,
            stream=True,
        ) as response:
            return response.status_code, ""
    except requests.RequestException as exc:
        return None, type(exc).__name__


def delivery_attempt(*, delivery_id: int) -> str:
    """One attempt of one delivery (the ``integrations.webhook_deliver`` task): "busy" when it is not due
    or another worker has it, else the delivery's status after the attempt."""
    now = timezone.now()
    if not _claim(delivery_id, now):
        return "busy"
    delivery = WebhookDelivery.objects.select_related("event", "endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            status=DeliveryStatus.FAILED, next_attempt_at=None, claimed_until=None,
            last_error=_("The endpoint is disabled."),
        )  # fmt: skip
        return DeliveryStatus.FAILED
    started = time.monotonic()
    status_code, error = _post(endpoint, delivery.event)
    finished = timezone.now()
    WebhookAttempt.objects.create(
        delivery=delivery,
        attempted_at=now,
        status_code=status_code,
        error=error[:ERROR_MAX],
        duration_ms=int((time.monotonic() - started) * 1000),
    )
    attempts = delivery.attempts + 1
    common = {
        "attempts": attempts,
        "last_status_code": status_code,
        "last_error": error[:ERROR_MAX],
        "claimed_until": None,
    }
    if status_code is not None and 200 <= status_code < 300:
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            status=DeliveryStatus.DELIVERED, delivered_at=finished, next_attempt_at=None, **common
        )
        WebhookEndpoint.objects.filter(pk=endpoint.pk).exclude(
            consecutive_failures=0, failing_since=None
        ).update(consecutive_failures=0, failing_since=None)
        return DeliveryStatus.DELIVERED
    window_end = delivery.window_started_at + dt.timedelta(hours=settings.WEBHOOK_RETRY_HOURS)
    next_at = finished + _backoff(attempts)
    if next_at > window_end:
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            status=DeliveryStatus.FAILED, next_attempt_at=None, **common
        )
        status = DeliveryStatus.FAILED
    else:
        WebhookDelivery.objects.filter(pk=delivery_id).update(next_attempt_at=next_at, **common)
        status = DeliveryStatus.PENDING
    _failure_count(endpoint, finished)
    return status


def _failure_count(endpoint: WebhookEndpoint, now: dt.datetime) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=F("consecutive_failures") + 1)
    WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=now)
    current = WebhookEndpoint.objects.only("consecutive_failures", "failing_since", "is_active").get(
        pk=endpoint.pk
    )
    long_enough = current.failing_since is not None and now - current.failing_since >= dt.timedelta(
        hours=settings.WEBHOOK_DISABLE_HOURS
    )
    if (
        current.is_active
        and current.consecutive_failures >= settings.WEBHOOK_DISABLE_FAILURES
        and long_enough
    ):
        endpoint_disable(endpoint=endpoint, now=now)


def endpoint_disable(*, endpoint: WebhookEndpoint, now: dt.datetime | None = None) -> bool:
    """Disable a failing endpoint once (a conditional UPDATE), end its waiting deliveries, tell the
    company."""
    moment = now or timezone.now()
    reason = _("Every attempt failed for %(hours)s hours (%(count)s in a row).") % {
        "hours": settings.WEBHOOK_DISABLE_HOURS,
        "count": settings.WEBHOOK_DISABLE_FAILURES,
    }
    with transaction.atomic():
        changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).update(
            is_active=False, disabled_at=moment, disabled_reason=reason
        )
        if not changed:
            return False
        WebhookDelivery.objects.filter(endpoint_id=endpoint.pk, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.FAILED, next_attempt_at=None, last_error=_("The endpoint was disabled.")
        )
        notify.company_notify(
            company_id=endpoint.company_id,
            subject=_("A webhook endpoint was disabled"),
            body=_(
                "The webhook endpoint %(url)s did not accept events: %(reason)s It has been disabled and "
                "gets no more events.\n\nWhen it works again, enable it in Data and settings → Integrations "
                "and send the missed events again from its delivery log."
            )
            % {"url": endpoint.url, "reason": reason},
        )
    logger.warning("webhook endpoint disabled: company=%s endpoint=%s", endpoint.company_id, endpoint.uuid)
    return True


def deliveries_due_enqueue(*, now: dt.datetime | None = None) -> int:
    """The sweeper: queue deliveries whose next attempt is due and that no worker holds."""
    moment = now or timezone.now()
    due = list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=moment)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=moment))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    queue.webhook_deliver(delivery_ids=due)
    return len(due)


def delivery_redeliver(*, delivery: WebhookDelivery) -> None:
    """ "Wyślij ponownie": the same event (same id) to the same endpoint, with a fresh retry window."""
    if not delivery.endpoint.is_active:
        raise WebhookError(_("Enable the endpoint first: a disabled endpoint gets no events."))
    now = timezone.now()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.PENDING, next_attempt_at=now, window_started_at=now, claimed_until=None
    )
    queue.webhook_deliver(delivery_ids=[delivery.pk])

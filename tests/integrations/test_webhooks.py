"""Webhooks with a local receiver (a real HTTP server on loopback): signatures, retries while the receiver is
down, no loss and no duplicate, disabling a failing endpoint, "wyślij ponownie", the SSRF guard."""

from __future__ import annotations

import base64
import re
import time
from typing import Any

import pytest
from django.core import mail
from django.urls import reverse
from standardwebhooks.webhooks import Webhook

from accounts.models import Company, User
from integrations.api.docs import DESCRIPTION
from integrations.models import DeliveryStatus, EventType, WebhookDelivery, WebhookEndpoint, WebhookEvent
from integrations.webhooks import services, targets
from invoices.models import Invoice
from invoices.signals import invoice_rejected, invoices_accepted
from tests.integrations.conftest import Receiver
from tests.integrations.webhook_helpers import run_queued, sweep
from tests.invoices.factories import invoice_make
from tests.security import leaks

pytestmark = pytest.mark.django_db(transaction=True)  # deliveries are queued on commit

ALL = list(EventType.values)


def _endpoint(
    company: Company, user: User, url: str, events: list[str] | None = None
) -> tuple[WebhookEndpoint, str]:
    endpoint, secret = services.endpoint_create(company=company, user=user, url=url, events=events or ALL)
    leaks.remember(secret, "a webhook secret")
    return endpoint, secret


def _accept(company: Company, invoices: list[Invoice]) -> None:
    invoices_accepted.send(sender=None, company_id=company.pk, invoice_ids=[i.pk for i in invoices])


def _documented_verify() -> Any:
    """The Python recipe exactly as the API documentation prints it."""
    code = re.search(r"```python\n(.*?)```", DESCRIPTION, re.S)
    assert code is not None
    namespace: dict[str, Any] = {}
    exec(code.group(1), namespace)  # noqa: S102 - our own documentation's code, run to prove it works
    return namespace["verify"]


def test_the_signature_verifies_with_the_documented_recipe_and_the_standard_library(
    company_a: Company, alice: User, receiver: Receiver, queued: Any
) -> None:
    _endpoint_row, secret = _endpoint(company_a, alice, receiver.url)
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret[6:])) == 32
    assert secret not in repr(WebhookEndpoint.objects.values_list())  # stored encrypted only
    invoice = invoice_make(company_a, ksef_status="accepted", ksef_number="KSEF-1")
    _accept(company_a, [invoice])
    assert run_queued(queued, []) == 1
    (got,) = receiver.received
    event = WebhookEvent.objects.get()
    assert got.headers["webhook-id"] == str(event.uuid)
    assert got.json["type"] == "invoice.accepted"
    assert got.json["id"] == str(event.uuid)
    assert got.json["data"]["invoice"]["id"] == str(invoice.uuid)
    assert got.json["data"]["invoice"]["ksef_number"] == "KSEF-1"
    verify = _documented_verify()
    assert verify(secret, got.headers, got.body)
    assert Webhook(secret).verify(got.body, got.headers)["id"] == str(event.uuid)  # independent library
    # anything changed fails: the body, the id, the timestamp, another secret
    assert not verify(secret, got.headers, got.body.replace(b"KSEF-1", b"KSEF-2"))
    assert not verify(secret, {**got.headers, "webhook-id": "x"}, got.body)
    stale = {**got.headers, "webhook-timestamp": str(int(got.headers["webhook-timestamp"]) - 600)}
    assert not verify(secret, stale, got.body)
    other = services.endpoint_create(company=company_a, user=alice, url=receiver.url, events=ALL)[1]
    assert not verify(other, got.headers, got.body)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        DeliveryStatus.DELIVERED,
        1,
        200,
    )


def test_a_receiver_down_for_a_while_gets_every_event_once_when_it_is_back(
    company_a: Company, alice: User, receiver: Receiver, queued: Any, settings: Any
) -> None:
    settings.WEBHOOK_RETRY_SCHEDULE = [0.05]
    _endpoint(company_a, alice, receiver.url)
    invoices = [invoice_make(company_a, ksef_status="accepted") for _ in range(6)]
    done: list[int] = []
    receiver.stop()  # down: connection refused
    _accept(company_a, invoices[:3])
    invoice_rejected.send(sender=None, company_id=company_a.pk, invoice_id=invoices[3].pk, local=False)
    for _ in range(3):
        run_queued(queued, done)
        time.sleep(0.07)
        sweep()
    receiver.start()
    receiver.status = 503  # up, but failing
    _accept(company_a, invoices[4:])
    for _ in range(2):
        run_queued(queued, done)
        time.sleep(0.07)
        sweep()
    assert receiver.seen
    assert not receiver.received
    receiver.status = 200
    for _ in range(5):
        run_queued(queued, done)
        time.sleep(0.07)
        sweep()
    events = set(WebhookEvent.objects.values_list("uuid", flat=True))
    assert len(events) == 6
    assert sorted(receiver.ids()) == sorted(str(e) for e in events)  # every event, each once
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}
    codes = set(WebhookDelivery.objects.values_list("attempt_log__status_code", flat=True))
    assert {None, 503, 200} <= codes  # refused connections, then 503s, then success, all in the log
    # a signal heard again is not a second event
    _accept(company_a, invoices[:1])
    assert WebhookEvent.objects.count() == 6


def test_an_endpoint_that_keeps_failing_is_disabled_and_the_owner_told_then_resent_from_the_log(
    company_a: Company, alice: User, alice_client: Any, receiver: Receiver, queued: Any, settings: Any
) -> None:
    settings.WEBHOOK_RETRY_SCHEDULE = [0.02]
    settings.WEBHOOK_DISABLE_FAILURES = 3
    settings.WEBHOOK_DISABLE_HOURS = 0
    endpoint, secret = _endpoint(company_a, alice, receiver.url)
    receiver.status = 500
    invoices = [invoice_make(company_a, ksef_status="accepted") for _ in range(2)]
    _accept(company_a, invoices)
    mail.outbox.clear()
    done: list[int] = []
    for _ in range(4):
        run_queued(queued, done)
        time.sleep(0.03)
        sweep()
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert endpoint.disabled_reason
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.FAILED}
    told = [m for m in mail.outbox if endpoint.url in m.body]
    assert len(told) == 1
    assert "alice@example.com" in told[0].to
    page = alice_client.get(reverse("integrations:endpoint", kwargs={"endpoint_uuid": endpoint.uuid}))
    assert page.status_code == 200
    assert "500" in page.content.decode()
    assert secret not in page.content.decode()
    # nothing more goes to a disabled endpoint
    _accept(company_a, [invoice_make(company_a, ksef_status="accepted")])
    assert WebhookEvent.objects.count() == 2
    # the receiver works again: enable, then "wyślij ponownie" one delivery from the log
    receiver.status = 200
    url = reverse("integrations:endpoint_enable", kwargs={"endpoint_uuid": endpoint.uuid})
    assert alice_client.post(url).status_code == 302
    delivery = WebhookDelivery.objects.order_by("id").first()
    assert delivery is not None
    url = reverse("integrations:delivery_resend", kwargs={"delivery_uuid": delivery.uuid})
    assert alice_client.post(url).status_code == 302
    run_queued(queued, done)
    assert receiver.ids() == [str(delivery.event.uuid)]  # the same event id as before
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED


def test_the_ssrf_guard_refuses_private_and_loopback_targets_when_not_allowed(
    company_a: Company, alice: User, receiver: Receiver, queued: Any, settings: Any
) -> None:
    endpoint, _secret = _endpoint(company_a, alice, receiver.url)  # allowed in tests
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    refused = (
        "http://example.com/hook", "https://127.0.0.1/x", "https://10.1.2.3/x", "https://[::1]/x",
        "https://169.254.169.254/latest", "https://localhost/x", "https://user:pw@example.com/",
    )  # fmt: skip
    for url in refused:
        with pytest.raises(services.WebhookError):
            services.endpoint_create(company=company_a, user=alice, url=url, events=ALL)
    services.endpoint_create(company=company_a, user=alice, url="https://example.com/hook", events=ALL)
    with pytest.raises(targets.TargetRefused):
        targets.host_check("https://localhost.localdomain.invalid/x")  # does not resolve
    # a saved loopback endpoint is refused at send time too, and nothing reaches it
    WebhookEndpoint.objects.exclude(pk=endpoint.pk).delete()
    _accept(company_a, [invoice_make(company_a, ksef_status="accepted")])
    run_queued(queued, [])
    assert receiver.seen == []
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.last_error


def test_the_integrations_page_is_for_owners_and_shows_a_key_once(
    alice_client: Any, company_a: Company
) -> None:
    from django.test import Client

    from accounts.models import Role
    from integrations.models import ApiKey
    from tests.conftest import add_member

    response = alice_client.post(reverse("integrations:key_new"), {"name": "Sklep", "scope": "write"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    key = ApiKey.objects.get(company=company_a)
    html = response.content.decode()
    plain = re.search(r'id="new-key-value">([^<]+)<', html)
    assert plain is not None
    assert plain.group(1).startswith(key.prefix)
    leaks.remember(plain.group(1), "an API key")  # from now on no page may show it
    again = alice_client.get(reverse("integrations:settings")).content.decode()
    assert key.prefix in again
    assert plain.group(1) not in again
    accountant = add_member(company_a, Role.ACCOUNTANT, "acc@example.com")
    client = Client()
    client.force_login(accountant.user)
    assert client.get(reverse("integrations:settings")).status_code == 403
    hub = client.get(reverse("accounts:settings")).content.decode()
    assert reverse("integrations:settings") not in hub
    assert reverse("integrations:settings") in alice_client.get(reverse("accounts:settings")).content.decode()
    url = reverse("integrations:key_revoke", kwargs={"key_uuid": key.uuid})
    assert alice_client.post(url).status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_the_tasks_are_registered_and_the_sweep_runs_every_30_seconds() -> None:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from integrations import queue
    from ksef_integration.schedule import schedule_register
    from ksefportal.celery import app

    assert {queue.WEBHOOK_DELIVER, "integrations.webhook_sweep"} <= set(app.tasks)
    schedule_register()
    task = PeriodicTask.objects.get(task="integrations.webhook_sweep")
    assert task.enabled
    assert (task.interval.every, task.interval.period) == (30, IntervalSchedule.SECONDS)


def test_an_offline_deadline_reminder_is_an_event_once_per_invoice_and_day(
    company_a: Company, alice: User, receiver: Receiver, queued: Any
) -> None:
    import datetime as dt

    from invoices.signals import invoice_offline_deadline

    _endpoint(company_a, alice, receiver.url, events=["invoice.offline_deadline"])
    invoice = invoice_make(company_a, ksef_status="offline", ksef_offline_mode="offline24")
    day = dt.date(2026, 12, 7)
    for _ in range(2):  # the reminder's run repeated: one event
        invoice_offline_deadline.send(
            sender=None, company_id=company_a.pk, deadlines=[(invoice.pk, day, False)]
        )
    _accept(company_a, [invoice])  # not subscribed: no event
    run_queued(queued, [])
    (got,) = receiver.received
    assert got.json["type"] == "invoice.offline_deadline"
    assert got.json["data"]["deadline"] == "2026-12-07"
    assert got.json["data"]["overdue"] is False
    assert got.json["data"]["invoice"]["id"] == str(invoice.uuid)

"""The admin's "verify now" queues the check; the worker logs in and records the outcome (nothing talks to
KSeF inside the admin's request)."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Company
from ksef_integration import queue, tasks
from ksef_integration.models import AuditEvent, KsefConnection
from tests.enrollment.conftest import on_token, simulator

pytestmark = pytest.mark.django_db(transaction=True)
__all__ = ["on_token", "simulator"]  # fixtures: a company connected by a token to the simulator


def test_verify_now_only_queues_and_the_worker_checks(
    on_token: Company, admin_client: Any, queued: Any
) -> None:
    connection = KsefConnection.objects.get(company=on_token)
    queued.messages.clear()
    before = AuditEvent.objects.filter(company=on_token, kind=AuditEvent.Kind.VERIFIED).count()
    response = admin_client.post(
        "/admin/ksef_integration/ksefconnection/",
        {"action": "verify_now", "_selected_action": [connection.pk]},
    )
    assert response.status_code == 302
    assert queued.messages == [(queue.CONNECTION_VERIFY, (on_token.pk,), {})]
    assert AuditEvent.objects.filter(company=on_token, kind=AuditEvent.Kind.VERIFIED).count() == before
    assert tasks.connection_verify(on_token.pk) == "ok"
    assert AuditEvent.objects.filter(company=on_token, kind=AuditEvent.Kind.VERIFIED).count() == before + 1

"""The "Wyślij do KSeF" button (automatic sending off) and the admin actions on submissions."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Company, Role, User
from invoices.models import KsefStatus
from ksef_integration.models import KsefConnection, Submission
from tests.conftest import add_member
from tests.factories import active_connection
from tests.invoices.factories import invoice_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def connection(company_a: Company) -> KsefConnection:
    return active_connection(company_a, auto_send=False)


def test_send_button_confirms_then_queues_once(
    alice_client: Any, company_a: Company, connection: KsefConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    invoice = invoice_make(company_a)
    page = alice_client.get(f"/dokumenty/{invoice.uuid}/").content.decode()
    assert "Wyślij do KSeF" in page
    url = f"/dokumenty/{invoice.uuid}/wyslij-do-ksef/"
    assert "zostanie wysłana do KSeF" in alice_client.get(url).content.decode()
    assert not Submission.objects.exists()
    alice_client.post(url)
    alice_client.post(url)  # a second click queues nothing more
    submission = Submission.objects.get()
    invoice.refresh_from_db()
    assert invoice.ksef_status == KsefStatus.QUEUED
    assert submission.invoice_id == invoice.pk
    timeline = alice_client.get(f"/dokumenty/{invoice.uuid}/").content.decode()
    assert "Wyślij do KSeF" not in timeline


def test_viewer_cannot_send(client: Any, company_a: Company, connection: KsefConnection) -> None:
    viewer = add_member(company_a, Role.VIEWER, "viewer@example.com")
    client.force_login(viewer.user)
    invoice = invoice_make(company_a)
    assert client.post(f"/dokumenty/{invoice.uuid}/wyslij-do-ksef/").status_code == 403
    assert not Submission.objects.exists()


def test_without_a_connection_nothing_is_sent(alice_client: Any, company_a: Company) -> None:
    invoice = invoice_make(company_a)
    assert "Wyślij do KSeF" not in alice_client.get(f"/dokumenty/{invoice.uuid}/").content.decode()
    response = alice_client.post(f"/dokumenty/{invoice.uuid}/wyslij-do-ksef/", follow=True)
    assert "nie jest połączona z KSeF do wysyłki" in response.content.decode()
    assert not Submission.objects.exists()


def test_admin_lists_submissions_and_retries(
    client: Any, company_a: Company, connection: KsefConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ksef_integration.sending.drain import submission_enqueue

    submission = submission_enqueue(invoice=invoice_make(company_a))
    client.force_login(User.objects.create_superuser(email="staff@example.com", password="x"))
    assert client.get("/admin/ksef_integration/submission/", {"status": "pending"}).status_code == 200
    assert client.get(f"/admin/ksef_integration/submission/{submission.pk}/change/").status_code == 200
    response = client.post(
        "/admin/ksef_integration/submission/",
        {"action": "retry", "_selected_action": [submission.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert submission.events.filter(message__icontains="ręcznie").exists() or submission.events.count() >= 2

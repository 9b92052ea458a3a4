"""The opt-in e-mail digest of new purchase invoices: the checkbox in Dane i ustawienia → KSeF, and one e-mail
per import run that brought new purchase invoices (the import runs against the simulator over HTTP)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from accounts.models import Company, Membership, Role
from ksef_integration import queue
from ksef_integration.importing.services import company_import
from ksef_integration.models import ImportDigestSubscription, ImportRun, KsefConnection
from ksef_integration.tasks import ksef_import_digest
from ksef_simulator import services_invoices
from tests.conftest import Queued, add_member
from tests.importing.test_purchase_views import SELLER_NIP, purchase_xml

pytestmark = pytest.mark.django_db(transaction=True)

CHECKBOX = "Wysyłaj mi e-mail o nowych fakturach kosztowych"


def subscribe(membership: Membership, enabled: bool = True) -> None:
    ImportDigestSubscription.objects.update_or_create(membership=membership, defaults={"enabled": enabled})


def test_each_member_opts_in_on_the_settings_page(alice_client: Any, connected: KsefConnection) -> None:
    alice = Membership.objects.get(company=connected.company, role=Role.OWNER)
    page = alice_client.get("/ustawienia/ksef/", HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    assert CHECKBOX in page
    assert 'name="enabled" id="id_enabled" checked' not in page

    assert alice_client.post("/ustawienia/ksef/powiadomienia/", {"enabled": "on"}).status_code == 302
    assert ImportDigestSubscription.objects.get(membership=alice).enabled
    page = alice_client.get("/ustawienia/ksef/", HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    assert 'name="enabled" id="id_enabled" checked' in page

    viewer = add_member(connected.company, Role.VIEWER, "viewer@example.com")
    client = Client()
    client.force_login(viewer.user)
    assert client.post("/ustawienia/ksef/powiadomienia/", {"enabled": "on"}).status_code == 302
    assert ImportDigestSubscription.objects.get(membership=viewer).enabled

    assert alice_client.post("/ustawienia/ksef/powiadomienia/", {}).status_code == 302
    assert not ImportDigestSubscription.objects.get(membership=alice).enabled
    assert ImportDigestSubscription.objects.get(membership=viewer).enabled  # only one's own choice


def test_one_email_per_import_run_with_new_purchases(
    connected: KsefConnection,
    company_b: Company,
    django_capture_on_commit_callbacks: Any,
    queued: Queued,
) -> None:
    company = connected.company
    subscribe(Membership.objects.get(company=company, role=Role.OWNER))
    subscribe(add_member(company, Role.VIEWER, "viewer@example.com"))
    subscribe(add_member(company, Role.ACCOUNTANT, "accountant@example.com"), enabled=False)
    subscribe(Membership.objects.get(company=company_b))  # another company's member
    for number, net, due in (("FZ/11", "100.00", dt.date(2026, 10, 14)), ("FZ/12", "1000.00", None)):
        services_invoices.invoice_store_incoming(
            xml_bytes=purchase_xml(company.nip, number, net=net, due=due)
        )

    assert company_import(company_id=company.pk).status == "succeeded"
    run = ImportRun.objects.get(company=company)
    assert queued.args(queue.IMPORT_DIGEST) == [(run.pk,)]  # IDs only
    queued.messages.clear()

    assert ksef_import_digest(run.pk) == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "viewer@example.com"]
    message = mail.outbox[0]
    assert "2 nowe faktury kosztowe" in message.subject
    assert company.name in message.subject
    seller = f"Dostawca {SELLER_NIP} sp. z o.o. (NIP {SELLER_NIP})"
    assert f"{seller}, faktura FZ/11, 123,00 PLN, termin płatności 14.10.2026" in message.body
    assert f"{seller}, faktura FZ/12, 1 230,00 PLN, termin płatności —" in message.body
    assert "/dokumenty/?direction=purchase" in message.body

    # Nothing new: no digest.
    assert company_import(company_id=company.pk).status == "succeeded"
    assert queued.args(queue.IMPORT_DIGEST) == []


def test_no_digest_without_subscribers_or_without_new_purchases(
    connected: KsefConnection, queued: Queued
) -> None:
    company = connected.company
    services_invoices.invoice_store_incoming(xml_bytes=purchase_xml(company.nip, "FZ/21"))
    assert company_import(company_id=company.pk).status == "succeeded"
    assert queued.args(queue.IMPORT_DIGEST) == []  # nobody asked for it

    # A run that brought nothing sends nothing even when called.
    subscribe(Membership.objects.get(company=company, role=Role.OWNER))
    assert company_import(company_id=company.pk).status == "succeeded"
    assert queued.args(queue.IMPORT_DIGEST) == []
    latest = ImportRun.objects.filter(company=company).first()
    assert latest is not None
    assert ksef_import_digest(latest.pk) == 0
    assert mail.outbox == []

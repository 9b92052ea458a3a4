"""A poison invoice never blocks the rest: it is kept aside ("nie udało się zaimportować"), the cursor moves
on, the next invoice arrives, and it is tried again after a fix (the next run, the admin, the owner)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from invoices.models import Invoice
from ksef_integration.fa3.schema import validate
from ksef_integration.importing import mapping as fa3_import
from ksef_integration.importing.services import company_import
from ksef_integration.models import ImportFailure, ImportRun, KsefConnection, SubjectType, SyncCursor
from ksef_simulator import services_invoices
from tests.importing.fa3_docs import faktura

pytestmark = pytest.mark.django_db(transaction=True)


def _eur_invoice(buyer_nip: str, *, number: str, rate: str) -> bytes:
    """A schema-valid EUR invoice whose line states ``KursWaluty`` = ``rate``."""
    return faktura(
        f"""<KodWaluty>EUR</KodWaluty><P_1>{timezone.localdate():%Y-%m-%d}</P_1><P_2>{number}</P_2>
    <P_13_1>100.00</P_13_1><P_14_1>23.00</P_14_1><P_14_1W>97.75</P_14_1W><P_15>123.00</P_15>
    {{adnotacje}}<RodzajFaktury>VAT</RodzajFaktury>
    <FaWiersz><NrWierszaFa>1</NrWierszaFa><P_7>Usługa</P_7><P_8B>1</P_8B><P_9A>100.00</P_9A>
      <P_11>100.00</P_11><P_12>23</P_12><KursWaluty>{rate}</KursWaluty></FaWiersz>""",
        buyer_nip=buyer_nip,
    )


def _store(xml: bytes, *, after: dt.datetime | None = None) -> str:
    assert validate(xml) == []
    return services_invoices.invoice_store_incoming(xml_bytes=xml, acquisition=after)


def test_an_exchange_rate_beyond_the_column_is_stored_as_written_and_the_import_goes_on(
    connected: KsefConnection, alice_client: Any
) -> None:
    company = connected.company
    now = timezone.now() - dt.timedelta(seconds=10)
    huge = _store(_eur_invoice(company.nip, number="HUGE/1", rate="99999999.123456"), after=now)
    later = _store(
        _eur_invoice(company.nip, number="NEXT/1", rate="4.25"), after=now + dt.timedelta(seconds=1)
    )
    assert company_import(company_id=company.pk).status == ImportRun.Status.SUCCEEDED
    invoice = Invoice.objects.get(company=company, ksef_number=huge)
    assert invoice.exchange_rate is None  # the column holds 6 digits before the point
    assert invoice.stated is not None
    assert invoice.stated.exchange_rate == "99999999.123456"  # shown as written
    page = alice_client.get(reverse("invoices:detail", args=[invoice.uuid])).content.decode()
    assert "99999999.123456" in page
    assert alice_client.get(reverse("invoices:pdf", args=[invoice.uuid])).status_code == 200
    # the invoice after it arrived in the same run, and the cursor moved past both
    assert Invoice.objects.filter(company=company, ksef_number=later).exists()
    assert SyncCursor.objects.get(company=company, subject_type=SubjectType.SUBJECT2).checkpoint > now
    assert not ImportFailure.objects.exists()


def test_a_poison_invoice_is_kept_aside_the_cursor_moves_and_it_is_retried_after_a_fix(
    connected: KsefConnection, alice_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    company = connected.company
    now = timezone.now() - dt.timedelta(seconds=10)
    poison = _store(_eur_invoice(company.nip, number="POISON/1", rate="4.25"), after=now)
    good = _store(
        _eur_invoice(company.nip, number="GOOD/1", rate="4.25"), after=now + dt.timedelta(seconds=1)
    )
    create = fa3_import._create

    def broken(company: Any, **kwargs: Any) -> Invoice:  # a bug that hits one document only
        if kwargs["parsed"].number == "POISON/1":
            raise RuntimeError("boom: something nobody foresaw")
        return create(company, **kwargs)

    monkeypatch.setattr(fa3_import, "_create", broken)
    result = company_import(company_id=company.pk)
    assert result.status == ImportRun.Status.SUCCEEDED
    assert Invoice.objects.filter(company=company, ksef_number=good).exists()
    assert not Invoice.objects.filter(company=company, ksef_number=poison).exists()
    failure = ImportFailure.objects.get(company=company)
    assert failure.ksef_number == poison
    assert "boom" in failure.reason
    assert b"POISON/1" in bytes(failure.xml)
    checkpoint = SyncCursor.objects.get(company=company, subject_type=SubjectType.SUBJECT2).checkpoint
    assert checkpoint > now  # past both invoices: never stuck on the poison

    # the owner sees it under Importing invoices, with its XML
    settings_page = alice_client.get(reverse("ksef_integration:settings")).content.decode()
    assert 'id="ksef-import-failures"' in settings_page
    assert poison in settings_page
    xml = alice_client.get(reverse("ksef_integration:import_failure_xml", args=[failure.uuid]))
    assert xml.status_code == 200
    assert xml.content == bytes(failure.xml)

    # a run that still has the bug keeps it aside (one more attempt), and nothing else changes
    assert company_import(company_id=company.pk).status == ImportRun.Status.SUCCEEDED
    assert ImportFailure.objects.get(company=company).attempts == 2

    # after the fix, the next run imports it first, and the row is gone
    monkeypatch.setattr(fa3_import, "_create", create)
    again = company_import(company_id=company.pk)
    assert again.status == ImportRun.Status.SUCCEEDED
    assert again.invoices_new == 1
    assert Invoice.objects.filter(company=company, ksef_number=poison).exists()
    assert not ImportFailure.objects.exists()
    assert (
        "ksef-import-failures" not in alice_client.get(reverse("ksef_integration:settings")).content.decode()
    )


def test_the_owner_and_staff_can_try_again(
    connected: KsefConnection, alice_client: Any, admin_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    company = connected.company
    now = timezone.now() - dt.timedelta(seconds=10)
    first = _store(_eur_invoice(company.nip, number="POISON/1", rate="4.25"), after=now)
    second = _store(
        _eur_invoice(company.nip, number="POISON/2", rate="4.25"), after=now + dt.timedelta(seconds=1)
    )
    create = fa3_import._create

    def broken(company: Any, **kwargs: Any) -> Invoice:
        raise RuntimeError("boom")

    monkeypatch.setattr(fa3_import, "_create", broken)
    company_import(company_id=company.pk)
    assert ImportFailure.objects.count() == 2
    monkeypatch.setattr(fa3_import, "_create", create)

    failure = ImportFailure.objects.get(ksef_number=first)
    response = alice_client.post(reverse("ksef_integration:import_failure_retry", args=[failure.uuid]))
    invoice = Invoice.objects.get(company=company, ksef_number=first)
    assert response.status_code == 302
    assert response["Location"] == reverse("invoices:detail", args=[invoice.uuid])

    changelist = reverse("admin:ksef_integration_importfailure_changelist")
    remaining = ImportFailure.objects.get(ksef_number=second)
    assert second in admin_client.get(changelist).content.decode()
    change = admin_client.get(reverse("admin:ksef_integration_importfailure_change", args=[remaining.pk]))
    assert change.status_code == 200
    assert "POISON/2" in change.content.decode()  # the XML, readable by staff
    response = admin_client.post(changelist, {"action": "retry", "_selected_action": [remaining.pk]})
    assert response.status_code == 302
    assert Invoice.objects.filter(company=company, ksef_number=second).exists()
    assert not ImportFailure.objects.exists()


def test_another_company_cannot_see_or_retry_a_failure(
    connected: KsefConnection, bob: Any, company_b: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.test import Client

    bob_client = Client()
    bob_client.force_login(bob)
    company = connected.company
    number = _store(_eur_invoice(company.nip, number="POISON/1", rate="4.25"))

    def broken(company: Any, **kwargs: Any) -> Invoice:
        raise RuntimeError("boom")

    monkeypatch.setattr(fa3_import, "_create", broken)
    company_import(company_id=company.pk)
    assert ImportFailure.objects.filter(ksef_number=number).exists()
    failure = ImportFailure.objects.get(ksef_number=number)
    assert (
        bob_client.get(reverse("ksef_integration:import_failure_xml", args=[failure.uuid])).status_code == 404
    )
    retry = reverse("ksef_integration:import_failure_retry", args=[failure.uuid])
    assert bob_client.post(retry).status_code == 404
    assert Decimal(ImportFailure.objects.get(ksef_number=number).attempts) == 1


def test_invoices_imported_before_are_restated_from_their_xml(company_a: Any) -> None:
    """The command gives an invoice imported by the old code its kind and stated totals; ours stay."""
    from io import StringIO

    from django.core.management import call_command

    from ksef_integration.importing.mapping import window_import

    xml = faktura(
        """<KodWaluty>PLN</KodWaluty><P_1>2026-09-04</P_1><P_2>PAR/1</P_2><P_15>123.00</P_15>
    {adnotacje}<RodzajFaktury>UPR</RodzajFaktury>""",
        buyer_nip=company_a.nip,
    )
    window_import(company=company_a, subject_type=SubjectType.SUBJECT2, invoices={"K-1": xml}, metadata=())
    # as the old import left it: no kind as written, gross recomputed as 0.00
    Invoice.objects.filter(ksef_number="K-1").update(
        stated_kind="", stated_totals=None, total_net=0, total_vat=0, total_gross=0
    )
    out = StringIO()
    call_command("ksef_restate_imported", stdout=out)
    assert "restated 1 " in out.getvalue()
    invoice = Invoice.objects.get(ksef_number="K-1")
    assert (invoice.stated_kind, invoice.total_gross) == ("UPR", Decimal("123.00"))
    call_command("ksef_restate_imported", stdout=out)  # again: nothing to do
    assert "restated 0 " in out.getvalue()

"""Nothing stays behind: an invoice issued while the company could not send goes out when it can again
(reconnect, a repaired connection), "Wyślij wszystkie niewysłane (N)" sends the rest, disconnecting asks
first and keeps the switches, the invoice page says truthfully why an invoice waits, and the UPO can be
downloaded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Company, Role
from invoices.models import Invoice, KsefStatus
from ksef_integration.connect import gateway
from ksef_integration.ksef.errors import KsefTransientError
from ksef_integration.models import ConnectionStatus, KsefConnection, Submission
from ksef_integration.models import SubmissionStatus as S
from ksef_integration.sending import drain
from ksef_integration.sending.display import ksef_qr_codes
from ksef_simulator import services_core
from ksef_simulator.conf import config_update
from tests.conftest import add_member
from tests.sending.test_send_simulator import issue, run

pytestmark = pytest.mark.django_db(transaction=True)


def _connect(client: Any, company: Company) -> None:
    _, token = services_core.token_generate(
        nip=company.nip, permissions=["InvoiceRead", "InvoiceWrite"], description="portal"
    )
    assert client.post("/uslugi-dodatkowe/ksef/token/", {"token": token}).status_code == 302


@pytest.fixture
def simulator(live_server: Any) -> Iterator[None]:
    config_update(token_activation_delay=0, auth_delay=0, invoice_processing_delay=0)
    with override_settings(KSEF_API_URL=f"{live_server.url}/ksef-sim/v2"):
        yield


def test_disconnect_asks_first_and_reconnecting_keeps_the_switches_and_sends_what_waited(
    simulator: None, alice_client: Any, company_a: Company
) -> None:
    _connect(alice_client, company_a)
    connection = KsefConnection.objects.get(company=company_a)
    assert (connection.auto_send, connection.auto_import) == (True, True)

    page = alice_client.get(reverse("ksef_integration:disconnect"))  # the settings page links here
    assert page.status_code == 200
    assert 'id="disconnect-confirm"' in page.content.decode()
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.ACTIVE  # a GET changes nothing
    alice_client.post(reverse("ksef_integration:disconnect"))
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.DISCONNECTED
    assert (connection.auto_send, connection.auto_import) == (True, True)  # kept for the next connection

    waiting = issue(company_a)
    waiting.refresh_from_db()
    assert waiting.ksef_status == KsefStatus.NOT_SENT
    assert not Submission.objects.filter(invoice=waiting).exists()
    body = alice_client.get(reverse("invoices:detail", args=[waiting.uuid])).content.decode()
    assert 'id="ksef-unsent"' in body
    assert "automatyczna wysyłka jest wyłączona" not in body

    _connect(alice_client, company_a)
    connection.refresh_from_db()
    assert (connection.status, connection.auto_send, connection.auto_import) == ("active", True, True)
    done = alice_client.get(reverse("ksef_integration:done")).content.decode()
    assert "Teraz Twoje faktury będą trafiały od razu do KSeF" in done
    submission = run(waiting)  # queued on reconnecting: the worker's drain sends it
    assert submission.status == S.ACCEPTED


def test_an_invoice_issued_while_the_connection_needs_attention_goes_out_once_it_is_repaired(
    simulator: None, alice_client: Any, company_a: Company
) -> None:
    _connect(alice_client, company_a)
    KsefConnection.objects.filter(company=company_a).update(
        status=ConnectionStatus.ATTENTION, attention_reason="KSeF odrzucił token."
    )
    invoice = issue(company_a)
    body = alice_client.get(reverse("invoices:detail", args=[invoice.uuid])).content.decode()
    assert "połączenie z KSeF wymaga uwagi" in body
    assert "automatyczna wysyłka jest wyłączona" not in body

    alice_client.post(reverse("ksef_integration:verify"))  # "Sprawdź połączenie": the token works again
    assert KsefConnection.objects.get(company=company_a).status == ConnectionStatus.ACTIVE
    assert run(invoice).status == S.ACCEPTED


def test_send_all_unsent_from_dokumenty_and_start(
    simulator: None, alice_client: Any, company_a: Company
) -> None:
    _connect(alice_client, company_a)
    KsefConnection.objects.filter(company=company_a).update(auto_send=False)
    invoices = [issue(company_a) for _ in range(3)]
    assert not Submission.objects.filter(invoice__in=invoices).exists()

    start = alice_client.get(reverse("accounts:start")).content.decode()
    assert "Wyślij wszystkie niewysłane (3)" in start
    banner = alice_client.get(reverse("ksef_integration:unsent_banner")).content.decode()
    assert "Wyślij wszystkie niewysłane (3)" in banner
    listing = alice_client.get(reverse("invoices:list")).content.decode()
    assert reverse("ksef_integration:unsent_banner") in listing  # fetched by the page's script

    confirm = alice_client.get(reverse("ksef_integration:unsent"))
    assert all(invoice.number in confirm.content.decode() for invoice in invoices)
    alice_client.post(reverse("ksef_integration:unsent"))
    assert Submission.objects.filter(invoice__in=invoices, status=S.PENDING).count() == 3
    assert drain.unsent_invoices(company_id=company_a.pk).count() == 0
    assert "niewysłane" not in alice_client.get(reverse("ksef_integration:unsent_banner")).content.decode()

    viewer = add_member(company_a, Role.VIEWER, "viewer@example.com")
    alice_client.force_login(viewer.user)
    assert alice_client.post(reverse("ksef_integration:unsent")).status_code == 403


def test_the_upo_is_offered_with_when_it_arrived_and_kod_i_waits_for_the_ksef_number(
    simulator: None, alice_client: Any, company_a: Company
) -> None:
    _connect(alice_client, company_a)
    invoice = issue(company_a)
    submission = Submission.objects.get(invoice=invoice)
    assert submission.status == S.PENDING
    assert ksef_qr_codes(Invoice.objects.get(pk=invoice.pk)) == []  # no "OFFLINE" on an online invoice

    assert run(invoice).status == S.ACCEPTED
    invoice.refresh_from_db()
    (kod1,) = ksef_qr_codes(invoice)
    assert kod1.label == invoice.ksef_number
    with CaptureQueriesContext(connection) as queries:
        page = alice_client.get(reverse("invoices:detail", args=[invoice.uuid])).content.decode()
    assert 'id="ksef-upo"' in page
    assert 'id="ksef-xml"' in page
    # The page says both files exist without reading them (kilobytes each, on every view).
    read = [q["sql"] for q in queries.captured_queries if '"ksef_integration_submission"' in q["sql"]]
    assert read, "the timeline reads the submission"
    for sql in read:
        columns = sql.split(" FROM ")[0]
        for name in ("xml", "upo"):
            # only as a test of presence (IS NOT NULL / = ''), never the value itself
            assert f'"ksef_integration_submission"."{name}",' not in columns + ",", sql
            assert f'"ksef_integration_submission"."{name}" FROM' not in sql, sql
    assert "UPO (urzędowe poświadczenie odbioru) otrzymano" in page
    upo = alice_client.get(reverse("ksef_integration:invoice_upo", args=[invoice.uuid]))
    assert upo.status_code == 200
    assert upo["Content-Type"] == "application/xml"
    assert invoice.ksef_number.encode() in upo.content
    assert upo.content == Submission.objects.get(invoice=invoice).upo.encode()

    other = issue(company_a)
    assert alice_client.get(reverse("ksef_integration:invoice_upo", args=[other.uuid])).status_code == 404


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (KsefTransientError("KSeF server error (HTTP 503)", status=503), "KSeF jest chwilowo niedostępny"),
        (KsefTransientError("KSeF server error (HTTP 500)", status=500), "Błąd serwera KSeF (HTTP 500)"),
    ],
)
def test_the_timeline_speaks_polish(error: Exception, text: str) -> None:
    assert gateway.error_text(error).startswith(text)


@pytest.mark.django_db
def test_dokumenty_zakupy_says_when_invoices_could_not_be_imported(
    alice_client: Any, company_a: Company
) -> None:
    from ksef_integration.models import ImportFailure, SubjectType

    url = reverse("ksef_integration:unsent_banner") + "?direction=purchase"
    assert "import-failures-banner" not in alice_client.get(url).content.decode()
    ImportFailure.objects.create(
        company=company_a,
        ksef_number="5265877635-20261125-0100A0000000-AB",
        subject_type=SubjectType.SUBJECT2,
        xml=b"<Faktura/>",
        reason="test",
    )
    banner = alice_client.get(url).content.decode()
    assert "1 faktury z KSeF nie udało się zaimportować" in banner
    assert "#ksef-import-failures" in banner
    listing = alice_client.get(reverse("invoices:list") + "?direction=purchase").content.decode()
    assert url.replace("&", "&amp;") in listing or url in listing


def test_more_unsent_invoices_than_the_banner_counts(
    simulator: None, alice_client: Any, company_a: Company, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Start and Dokumenty count unsent invoices only up to the cap (counting thousands on every page is not
    worth it) and then say "more than"; sending all still sends every one."""
    monkeypatch.setattr(drain, "UNSENT_COUNT_CAP", 2)
    _connect(alice_client, company_a)
    KsefConnection.objects.filter(company=company_a).update(auto_send=False)
    invoices = [issue(company_a) for _ in range(2)]
    assert drain.unsent_count(company_id=company_a.pk) == 2
    assert "Wyślij wszystkie niewysłane (2)" in alice_client.get(reverse("accounts:start")).content.decode()
    invoices += [issue(company_a) for _ in range(2)]
    assert drain.unsent_count(company_id=company_a.pk) == 3  # the cap and one more: "more than 2"
    for page in (reverse("accounts:start"), reverse("ksef_integration:unsent_banner")):
        html = alice_client.get(page).content.decode()
        assert "Ponad 2 wystawionych faktur" in html
        assert "(3)" not in html
    alice_client.post(reverse("ksef_integration:unsent"))
    assert Submission.objects.filter(invoice__in=invoices, status=S.PENDING).count() == 4

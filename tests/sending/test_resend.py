"""A sales invoice KSeF did not accept stays editable (same number) and is sent again with its corrected data;
an accepted one is not. Who may do it, what the invoice page offers, and the whole round trip with the
simulator over real HTTP."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import Company, Role
from invoices import services as invoice_services
from invoices.errors import InvoiceError
from invoices.models import Invoice, InvoiceKind, KsefStatus
from ksef_integration import queue
from ksef_integration.models import (
    KsefConnection,
    Submission,
    SubmissionEvent,
    SubmissionStatus,
)
from ksef_integration.sending import drain
from ksef_simulator.models import SimInvoice
from tests.conftest import Queued, add_member
from tests.factories import active_connection
from tests.invoices.factories import invoice_make, issue_data, ksef_number_for
from tests.sending import test_send_simulator

S = SubmissionStatus


def edit_url(invoice: Invoice) -> str:
    return f"/dokumenty/{invoice.uuid}/popraw/"


def resend_url(invoice: Invoice) -> str:
    return f"/dokumenty/{invoice.uuid}/wyslij-ponownie/"


def edit_post(
    *, issue_date: dt.date, line_name: str = "Usługa poprawiona", price: str = "1200"
) -> dict[str, str]:
    return {
        "idempotency_key": str(uuid.uuid4()),
        "nip": "5260250274",
        "name": "Zakład Usług Różnych Łęcki",
        "address_line1": "ul. Źródlana 5",
        "address_line2": "00-950 Warszawa",
        "country_code": "PL",
        "email": "",
        "issue_date": issue_date.isoformat(),
        "sale_date": issue_date.isoformat(),
        "place_of_issue": "Kraków",
        "currency": "PLN",
        "exchange_rate": "",
        "payment_method": "6",
        "due_date": (issue_date + dt.timedelta(days=14)).isoformat(),
        "bank_account": "61109010140000071219812874",
        "notes": "",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "1",
        "lines-MAX_NUM_FORMS": "500",
        "lines-0-name": line_name,
        "lines-0-quantity": "1",
        "lines-0-unit": "usł.",
        "lines-0-unit_price": price,
        "lines-0-vat_rate": "23",
    }


# --- who may edit what (no KSeF needed) ------------------------------------------------------------------


@pytest.fixture
def queue_nothing(queued: Queued) -> Queued:
    return queued


@pytest.fixture
def connection(company_a: Company) -> KsefConnection:
    return active_connection(company_a)


def rejected_invoice(company: Company, *, status: str = S.REJECTED) -> Invoice:
    """A sales invoice issued the normal way, whose submission ended ``status``."""
    today = timezone.localdate()
    invoice = invoice_services.invoice_issue(
        company=company, user=None, data=issue_data(issue_date=today, sale_date=today, due_date=today)
    )
    submission = drain.submission_enqueue(invoice=invoice)
    message = "KSeF odrzucił fakturę (kod 450): Błąd weryfikacji semantyki dokumentu faktury"
    Submission.objects.filter(pk=submission.pk).update(
        status=status, last_error_code="450", last_error_message=message, finished_at=timezone.now()
    )
    Invoice.objects.filter(pk=invoice.pk).update(ksef_status=KsefStatus.REJECTED, ksef_status_message=message)
    invoice.refresh_from_db()
    return invoice


@pytest.mark.django_db
@pytest.mark.parametrize("status", [S.REJECTED, S.FAILED_LOCAL])
def test_owner_corrects_a_rejected_invoice_and_it_is_queued_again(
    alice_client: Any,
    connection: KsefConnection,
    queue_nothing: Queued,
    status: str,
    django_capture_on_commit_callbacks: Any,
) -> None:
    invoice = rejected_invoice(connection.company, status=status)
    page = alice_client.get(edit_url(invoice)).content.decode()
    assert "Popraw fakturę" in page
    assert invoice.number in page
    assert 'value="Zakład Usług Różnych Łęcki"' in page  # the form starts from the invoice's data
    assert "Usługa księgowa" in page
    assert "Błąd weryfikacji semantyki" in page  # the reason, next to the form
    assert "Zapisz i wyślij ponownie do KSeF" in page
    queue_nothing.messages.clear()
    number = invoice.number

    today = timezone.localdate()
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(edit_url(invoice), edit_post(issue_date=today, price="1200"))
    assert response.status_code == 302
    assert response["Location"] == f"/dokumenty/{invoice.uuid}/"

    invoice.refresh_from_db()
    assert invoice.number == number  # same number
    assert [line.name for line in invoice.lines.all()] == ["Usługa poprawiona"]
    assert invoice.total_net == Decimal("1200.00")
    assert invoice.total_gross == Decimal("1476.00")
    assert invoice.ksef_status == KsefStatus.QUEUED
    assert invoice.ksef_status_message == ""
    submission = Submission.objects.get(invoice=invoice)
    assert submission.status == S.PENDING
    assert submission.xml is None  # rebuilt from the corrected data when sent
    assert queue_nothing.args(queue.SEND) == [(submission.pk,)]
    assert submission.events.filter(kind=SubmissionEvent.Kind.QUEUED).count() == 2
    assert Invoice.objects.filter(company=connection.company).count() == 1  # no copy was made

    # Queued again: no longer editable (a second submit of the same page changes nothing).
    again = alice_client.post(edit_url(invoice), edit_post(issue_date=today, line_name="Trzecia wersja"))
    assert again.status_code == 302
    assert [line.name for line in invoice.lines.all()] == ["Usługa poprawiona"]


@pytest.mark.django_db
def test_accountant_may_edit_viewer_may_not_other_company_gets_404(
    client: Any,
    bob: Any,
    company_b: Company,
    connection: KsefConnection,
    queue_nothing: Queued,
    django_capture_on_commit_callbacks: Any,
) -> None:
    invoice = rejected_invoice(connection.company)
    accountant = add_member(connection.company, Role.ACCOUNTANT, "ksiegowa@example.com")
    viewer = add_member(connection.company, Role.VIEWER, "viewer@example.com")
    today = timezone.localdate()

    client.force_login(viewer.user)
    assert client.get(edit_url(invoice)).status_code == 403
    assert client.post(edit_url(invoice), edit_post(issue_date=today)).status_code == 403
    assert client.post(resend_url(invoice)).status_code == 403
    page = client.get(f"/dokumenty/{invoice.uuid}/").content.decode()
    assert "Co dalej?" in page
    assert "Popraw i wyślij ponownie" not in page

    client.force_login(bob)  # owner of another company
    assert client.get(edit_url(invoice)).status_code == 404
    assert client.post(edit_url(invoice), edit_post(issue_date=today)).status_code == 404
    assert client.get(resend_url(invoice)).status_code == 404
    assert client.post(resend_url(invoice)).status_code == 404
    invoice.refresh_from_db()
    assert invoice.ksef_status == KsefStatus.REJECTED
    assert [line.name for line in invoice.lines.all()] == ["Usługa księgowa"]

    client.force_login(accountant.user)
    assert client.get(edit_url(invoice)).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(edit_url(invoice), edit_post(issue_date=today)).status_code == 302
    invoice.refresh_from_db()
    assert invoice.ksef_status == KsefStatus.QUEUED


@pytest.mark.django_db
@pytest.mark.parametrize(
    "ksef_status",
    [KsefStatus.ACCEPTED, KsefStatus.NOT_SENT, KsefStatus.QUEUED, KsefStatus.SENT, KsefStatus.OFFLINE],
)
def test_only_a_rejected_invoice_is_editable(alice_client: Any, company_a: Company, ksef_status: str) -> None:
    fields: dict[str, Any] = {"ksef_status": ksef_status}
    if ksef_status == KsefStatus.ACCEPTED:
        fields["ksef_number"] = f"{company_a.nip}-20261125-0100A0B0C0D0-E1"
    invoice = invoice_make(company_a, **fields)
    assert not invoice.can_be_edited()
    response = alice_client.get(edit_url(invoice), follow=True)
    assert response.redirect_chain == [(f"/dokumenty/{invoice.uuid}/", 302)]
    assert "fakturą korygującą" in response.content.decode()
    before = invoice.updated_at
    assert alice_client.post(edit_url(invoice), edit_post(issue_date=invoice.issue_date)).status_code == 302
    invoice.refresh_from_db()
    assert invoice.updated_at == before
    assert "Co dalej?" not in alice_client.get(f"/dokumenty/{invoice.uuid}/").content.decode()


@pytest.mark.django_db
def test_purchase_and_correction_invoices_are_not_edited_in_wystaw(company_a: Company) -> None:
    purchase = invoice_make(company_a, direction="purchase", ksef_status=KsefStatus.REJECTED)
    correction = invoice_make(
        company_a, kind=InvoiceKind.KOR, corrected_number="FV/1/11/2026", ksef_status=KsefStatus.REJECTED
    )
    assert not purchase.can_be_edited()
    assert not correction.can_be_edited()
    from invoices.errors import InvoiceError

    with pytest.raises(InvoiceError):
        invoice_services.invoice_edit(invoice=correction, user=None, data=issue_data())


@pytest.mark.django_db
def test_rejected_invoice_page_gives_the_reason_and_the_choices(
    alice_client: Any, connection: KsefConnection, queue_nothing: Queued
) -> None:
    invoice = rejected_invoice(connection.company)
    page = alice_client.get(f"/dokumenty/{invoice.uuid}/").content.decode()
    assert "KSeF odrzucił fakturę (kod 450): Błąd weryfikacji semantyki" in page
    assert "Co dalej?" in page
    assert f'href="{edit_url(invoice)}"' in page
    assert "Popraw i wyślij ponownie" in page
    assert "prawnie jeszcze nie istnieje w KSeF" in page
    assert "Wystaw korektę" not in page  # a VAT invoice KSeF never accepted needs no correction
    assert f'href="{resend_url(invoice)}"' in page  # "Wyślij ponownie do KSeF" without changes


@pytest.mark.django_db
def test_a_rejected_correction_offers_a_new_correction_of_the_original(
    alice_client: Any, connection: KsefConnection, queue_nothing: Queued
) -> None:
    company = connection.company
    original = invoice_make(
        company, ksef_status=KsefStatus.ACCEPTED, ksef_number=ksef_number_for(company.nip)
    )
    original.lines.create(
        ordinal=1,
        name="Usługa",
        quantity=Decimal(1),
        unit_price=Decimal(100),
        vat_rate="23",
        net_value=Decimal("100.00"),
        vat_amount=Decimal("23.00"),
        gross_value=Decimal("123.00"),
    )
    correction = invoice_services.invoice_correct(
        original=original,
        user=None,
        data=invoice_services.CorrectionData(
            reason="Rabat",
            lines=[invoice_services.LineData("Usługa", Decimal(1), Decimal(80), "23")],
            issue_date=timezone.localdate(),
        ),
    )
    Invoice.objects.filter(pk=correction.pk).update(ksef_status=KsefStatus.REJECTED, ksef_status_message="x")
    page = alice_client.get(f"/dokumenty/{correction.uuid}/").content.decode()
    assert "Wystaw korektę" in page
    assert f'href="/dokumenty/{original.uuid}/korekta/"' in page
    assert "Popraw i wyślij ponownie" not in page
    # The rejected correction never took effect: a new one starts from the original's lines.
    current = invoice_services.invoice_current_lines(original=original)
    assert [line.unit_price for line in current] == [Decimal(100)]


@pytest.mark.django_db
def test_resend_without_changes_confirms_then_queues(
    alice_client: Any,
    connection: KsefConnection,
    queue_nothing: Queued,
    django_capture_on_commit_callbacks: Any,
) -> None:
    invoice = rejected_invoice(connection.company)
    confirm = alice_client.get(resend_url(invoice)).content.decode()
    assert "Wyślij ponownie do KSeF" in confirm
    assert "pod tym samym numerem" in confirm
    assert Submission.objects.get(invoice=invoice).status == S.REJECTED  # GET changes nothing
    queue_nothing.messages.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_client.post(resend_url(invoice)).status_code == 302
        assert alice_client.post(resend_url(invoice)).status_code == 302  # a second click queues nothing more
    submission = Submission.objects.get(invoice=invoice)
    assert submission.status == S.PENDING
    assert queue_nothing.args(queue.SEND) == [(submission.pk,)]
    invoice.refresh_from_db()
    assert invoice.ksef_status == KsefStatus.QUEUED


# --- the round trip with the simulator -----------------------------------------------------------------


# A company connected to the simulator (served by live_server) with a KSeF token, sending automatically.
connected = test_send_simulator.connected


def deliver(invoice: Invoice) -> Submission:
    submission = Submission.objects.get(invoice=invoice)
    drain.submission_send(submission_id=submission.pk)
    submission.refresh_from_db()
    return submission


@pytest.mark.django_db(transaction=True)
def test_stopped_by_our_checks_then_corrected_and_accepted(
    connected: KsefConnection, alice_client: Any
) -> None:
    company = connected.company
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    # Wystaw refuses a future date now; an invoice changed behind its back is still stopped locally.
    with pytest.raises(InvoiceError):
        invoice_services.invoice_issue(
            company=company,
            user=None,
            data=issue_data(issue_date=tomorrow, sale_date=tomorrow, due_date=tomorrow),
        )
    invoice = invoice_services.invoice_issue(
        company=company,
        user=None,
        data=issue_data(issue_date=timezone.localdate(), sale_date=tomorrow, due_date=tomorrow),
    )
    Invoice.objects.filter(pk=invoice.pk).update(issue_date=tomorrow)
    mail.outbox.clear()
    assert deliver(invoice).status == S.FAILED_LOCAL  # dated in the future: never left the building
    invoice.refresh_from_db()
    assert invoice.can_be_edited()
    # Never "rejected by KSeF": KSeF never saw it.
    assert invoice.ksef_status == KsefStatus.FAILED_LOCAL
    assert invoice.get_ksef_status_display() != KsefStatus.REJECTED.label
    page = alice_client.get(f"/dokumenty/{invoice.uuid}/").content.decode()
    assert "ksef-status--failed_local" in page
    assert 'id="ksef-fix-resend"' in page
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert "FA(3)" in mail.outbox[0].body
    assert not SimInvoice.objects.filter(invoice_number=invoice.number).exists()

    today = timezone.localdate()
    assert alice_client.post(edit_url(invoice), edit_post(issue_date=today)).status_code == 302
    submission = deliver(invoice)

    assert submission.status == S.ACCEPTED
    invoice.refresh_from_db()
    assert invoice.ksef_status == KsefStatus.ACCEPTED
    assert invoice.ksef_number == submission.ksef_number
    assert not invoice.can_be_edited()
    sim = SimInvoice.objects.get(ksef_number=submission.ksef_number)
    assert sim.invoice_number == invoice.number
    xml = bytes(sim.xml or b"")
    assert "Usługa poprawiona".encode() in xml
    assert f"<P_1>{today.isoformat()}</P_1>".encode() in xml
    # Accepted now: the edit page refuses, only a correction remains.
    assert alice_client.get(edit_url(invoice)).status_code == 302


@pytest.mark.django_db(transaction=True)
def test_rejected_by_ksef_then_corrected_and_accepted_once(
    connected: KsefConnection, alice_client: Any
) -> None:
    company = connected.company
    today = timezone.localdate()
    invoice = invoice_services.invoice_issue(
        company=company, user=None, data=issue_data(issue_date=today, sale_date=today, due_date=today)
    )
    submission = Submission.objects.get(invoice=invoice)
    # Our checks stop a broken file, so break the stored one: KSeF must refuse it (schema, code 450).
    from ksef_integration.fa3.digest import invoice_hash
    from ksef_integration.sending.mapping import invoice_xml_build

    broken = invoice_xml_build(invoice).xml.replace(
        b"<KodWaluty>PLN</KodWaluty>", b"<KodWaluty>PLNX</KodWaluty>"
    )
    Submission.objects.filter(pk=submission.pk).update(xml=broken, xml_sha256_b64=invoice_hash(broken))
    assert deliver(invoice).status == S.REJECTED
    page = alice_client.get(f"/dokumenty/{invoice.uuid}/").content.decode()
    assert "KSeF odrzucił fakturę (kod 4" in page
    assert "Popraw i wyślij ponownie" in page

    assert (
        alice_client.post(
            edit_url(invoice), edit_post(issue_date=today, line_name="Audyt", price="500")
        ).status_code
        == 302
    )
    submission = deliver(invoice)

    assert submission.status == S.ACCEPTED
    assert not submission.duplicate
    accepted = SimInvoice.objects.filter(invoice_number=invoice.number, status_code=200)
    assert accepted.count() == 1  # KSeF holds the corrected invoice once
    sim = accepted.get()
    assert b"Audyt" in bytes(sim.xml or b"")
    assert b"PLNX" not in bytes(sim.xml or b"")
    assert sim.ksef_number == submission.ksef_number
    invoice.refresh_from_db()
    assert invoice.total_net == Decimal("500.00")
    kinds = list(submission.events.values_list("kind", flat=True))
    assert kinds[:3] == ["queued", "sent", "rejected"]
    assert kinds[-2:] == ["accepted", "upo"]

"""Sending issued invoices to the simulator over real HTTP: accepted, 440 adopted, rejected, transient errors,
429, dropped responses, auth failure, the sweeper and the invoice page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from accounts.models import Company
from invoices import services as invoice_services
from invoices.models import Invoice, KsefStatus
from ksef_integration import queue
from ksef_integration.models import ConnectionStatus, KsefConnection, KsefOnlineSession, Submission
from ksef_integration.models import SubmissionStatus as S
from ksef_integration.sending import drain, state
from ksef_simulator import services_core
from ksef_simulator.conf import config_update
from ksef_simulator.faults import fault_arm
from ksef_simulator.models import SimInvoice
from tests.conftest import Queued
from tests.invoices.factories import issue_data

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def connected(live_server: Any, alice_client: Any, company_a: Company) -> Iterator[KsefConnection]:
    config_update(token_activation_delay=0, auth_delay=0, invoice_processing_delay=0)
    with override_settings(
        KSEF_API_URL=f"{live_server.url}/ksef-sim/v2",
        KSEF_SEND_BACKOFF_SECONDS=60,
        KSEF_SEND_LEASE_SECONDS=30,
    ):
        _, token = services_core.token_generate(
            nip=company_a.nip, permissions=["InvoiceRead", "InvoiceWrite"], description="portal"
        )
        assert alice_client.post("/uslugi-dodatkowe/ksef/token/", {"token": token}).status_code == 302
        connection = KsefConnection.objects.get(company=company_a)
        connection.auto_send = True
        connection.save(update_fields=["auto_send"])
        yield connection


def issue(company: Company, **overrides: Any) -> Invoice:
    today = timezone.localdate()
    values: dict[str, Any] = {"issue_date": today, "sale_date": today, "due_date": today}
    values.update(overrides)
    return invoice_services.invoice_issue(company=company, user=None, data=issue_data(**values))


def run(invoice: Invoice) -> Submission:
    submission = Submission.objects.get(invoice=invoice)
    drain.submission_send(submission_id=submission.pk)
    submission.refresh_from_db()
    return submission


def make_due(submission: Submission) -> None:
    Submission.objects.filter(pk=submission.pk).update(next_attempt_at=timezone.now())


def accepted_in_simulator(nip: str) -> int:
    return SimInvoice.objects.filter(seller_nip=nip, status_code=200).count()


def test_issue_is_accepted_with_ksef_number_upo_and_timeline(connected: KsefConnection) -> None:
    invoice = issue(connected.company)  # auto_send: issuing queued it
    submission = run(invoice)
    assert submission.status == S.ACCEPTED
    assert submission.ksef_number
    assert submission.invoice_reference
    assert submission.acquisition_date
    assert "Potwierdzenie" in submission.upo
    assert submission.ksef_number in submission.upo
    invoice.refresh_from_db()
    assert invoice.ksef_status == KsefStatus.ACCEPTED
    assert invoice.ksef_number == submission.ksef_number
    assert invoice.xml_sha256_b64 == submission.xml_sha256_b64
    sim = SimInvoice.objects.get(ksef_number=submission.ksef_number)
    assert sim.invoice_number == invoice.number
    assert bytes(sim.xml or b"") == bytes(submission.xml or b"")
    assert list(submission.events.values_list("kind", flat=True)) == ["queued", "sent", "accepted", "upo"]

    from ksef_integration.sending.display import ksef_qr_codes, ksef_timeline

    (code,) = ksef_qr_codes(invoice)
    assert code.label == submission.ksef_number
    assert code.url.endswith(
        f"/{connected.company.nip}/{invoice.issue_date:%d-%m-%Y}/" + code.url.rsplit("/", 1)[1]
    )
    assert submission.ksef_number in ksef_timeline(invoice)


def test_second_invoice_reuses_the_online_session(connected: KsefConnection) -> None:
    first = run(issue(connected.company))
    second = run(issue(connected.company))
    assert first.status == second.status == S.ACCEPTED
    assert first.session_reference == second.session_reference
    assert KsefOnlineSession.objects.filter(company=connected.company).count() == 1


def test_duplicate_440_is_success_with_the_original_number(connected: KsefConnection) -> None:
    invoice = issue(connected.company)
    first = run(invoice)
    original = first.ksef_number
    # Pretend we lost everything after the send: the same bytes go out again.
    Submission.objects.filter(pk=first.pk).update(
        status=S.PENDING,
        invoice_reference="",
        session_reference="",
        ksef_number="",
        upo="",
        next_attempt_at=timezone.now(),
    )
    KsefOnlineSession.objects.all().delete()  # a new session, so the look-up by hash finds nothing
    Invoice.objects.filter(pk=invoice.pk).update(ksef_number=None)
    again = run(invoice)
    assert again.status == S.ACCEPTED
    assert again.duplicate
    assert again.ksef_number == original
    assert original in again.upo
    assert accepted_in_simulator(connected.company.nip) == 1


def test_rejection_is_readable_and_the_owner_is_told(connected: KsefConnection) -> None:
    invoice = issue(connected.company)
    submission = Submission.objects.get(invoice=invoice)
    # Our checks stop a broken file, so break the stored one: KSeF must refuse it (schema, code 450).
    from ksef_integration.sending.mapping import invoice_xml_build

    xml = invoice_xml_build(invoice).xml.replace(
        b"<KodWaluty>PLN</KodWaluty>", b"<KodWaluty>PLNX</KodWaluty>"
    )
    from ksef_integration.fa3.digest import invoice_hash

    Submission.objects.filter(pk=submission.pk).update(xml=xml, xml_sha256_b64=invoice_hash(xml))
    mail.outbox.clear()
    submission = run(invoice)
    assert submission.status == S.REJECTED
    assert submission.last_error_message.startswith("KSeF odrzucił fakturę (kod 4")
    invoice.refresh_from_db()
    assert invoice.ksef_status == KsefStatus.REJECTED
    assert invoice.ksef_status_message
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert invoice.number in mail.outbox[0].subject


def test_local_failure_never_leaves_the_building(connected: KsefConnection) -> None:
    invoice = issue(connected.company)
    Invoice.objects.filter(pk=invoice.pk).update(seller_nip="1234567890")
    before = SimInvoice.objects.count()
    mail.outbox.clear()
    submission = run(invoice)
    assert submission.status == S.FAILED_LOCAL
    assert "NIP" in submission.last_error_message
    assert SimInvoice.objects.count() == before
    invoice.refresh_from_db()
    assert invoice.ksef_status == KsefStatus.FAILED_LOCAL  # not "rejected by KSeF": KSeF never saw it
    assert "NIP" in invoice.ksef_status_message
    (email,) = mail.outbox
    assert "FA(3)" in email.body
    assert "NIP" in email.body


def test_transient_503_then_success(connected: KsefConnection) -> None:
    invoice = issue(connected.company)
    fault_arm(pattern="sessions.online.send", action="503", count=1)
    submission = run(invoice)
    assert submission.status == S.PENDING
    assert submission.attempts == 1
    assert submission.last_error_message
    make_due(submission)
    submission = run(invoice)
    assert submission.status == S.ACCEPTED
    assert submission.attempts == 2
    assert accepted_in_simulator(connected.company.nip) == 1


def test_429_honours_retry_after(connected: KsefConnection) -> None:
    invoice = issue(connected.company)
    fault_arm(pattern="sessions.online.send", action="429", count=1, seconds=7)
    started = timezone.now()
    submission = run(invoice)
    assert submission.status == S.PENDING
    assert submission.next_attempt_at >= started + dt.timedelta(seconds=6)
    drain.submission_send(submission_id=submission.pk)  # not due yet: nothing happens
    submission.refresh_from_db()
    assert submission.status == S.PENDING
    assert submission.attempts == 1
    make_due(submission)
    assert run(invoice).status == S.ACCEPTED


@pytest.mark.parametrize("fault", ["drop", "500"])
def test_dropped_send_response_gives_exactly_one_invoice(connected: KsefConnection, fault: str) -> None:
    invoice = issue(connected.company)
    fault_arm(pattern="sessions.online.send", action=fault, count=1)
    submission = run(invoice)
    if submission.status != S.ACCEPTED:  # 500 before the work: nothing in KSeF, try again
        make_due(submission)
        submission = run(invoice)
    assert submission.status == S.ACCEPTED
    assert SimInvoice.objects.filter(seller_nip=connected.company.nip).count() == 1
    assert accepted_in_simulator(connected.company.nip) == 1


def test_dropped_status_response_is_polled_again(connected: KsefConnection) -> None:
    invoice = issue(connected.company)
    fault_arm(pattern="sessions.invoices.status", action="drop", count=1)
    submission = run(invoice)
    assert submission.status == S.SENT
    assert submission.invoice_reference
    make_due(submission)
    submission = run(invoice)
    assert submission.status == S.ACCEPTED
    assert SimInvoice.objects.filter(seller_nip=connected.company.nip).count() == 1


def test_auth_failure_pauses_the_company_and_tells_the_owner(connected: KsefConnection) -> None:
    invoice = issue(connected.company)
    KsefConnection.objects.filter(pk=connected.pk).update(
        access_token_ciphertext="",
        refresh_token_ciphertext="",
        access_valid_until=None,
        refresh_valid_until=None,
    )
    services_core.token_revoke(nip=connected.company.nip, reference=connected.token_reference)
    mail.outbox.clear()
    submission = run(invoice)
    assert submission.status == S.PENDING
    connected.refresh_from_db()
    assert connected.status == ConnectionStatus.ATTENTION
    assert connected.attention_reason
    assert len(mail.outbox) == 1
    assert "KSeF" in mail.outbox[0].subject
    assert SimInvoice.objects.count() == 0


def test_sweeper_hands_back_stale_claims_and_queues_due_work(
    connected: KsefConnection, queued: Queued
) -> None:
    invoice = issue(connected.company)
    submission = Submission.objects.get(invoice=invoice)
    Submission.objects.filter(pk=submission.pk).update(
        status=S.INFLIGHT, claim_token="dead", claimed_at=timezone.now() - dt.timedelta(minutes=5)
    )
    queue.started(queue.SEND, connected.company_id)  # the task queued on issue ran (and its worker died)
    queued.messages.clear()
    assert drain.submissions_sweep() == 1
    assert queued.args(queue.SEND) == [(submission.pk,)]
    submission.refresh_from_db()
    assert submission.status == S.PENDING
    assert submission.claim_token == ""
    assert run(invoice).status == S.ACCEPTED


def test_claim_is_exclusive(connected: KsefConnection) -> None:
    submission = Submission.objects.get(invoice=issue(connected.company))
    assert [row.pk for row in state.claim([submission.pk], "first")] == [submission.pk]
    assert state.claim([submission.pk], "second") == []
    submission.refresh_from_db()
    assert (submission.status, submission.claim_token, submission.attempts) == (S.INFLIGHT, "first", 1)


def test_a_sent_row_is_claimed_to_poll_only_when_asked(connected: KsefConnection) -> None:
    submission = Submission.objects.get(invoice=issue(connected.company))
    Submission.objects.filter(pk=submission.pk).update(status=S.SENT, invoice_reference="ref")
    assert state.claim([submission.pk], "batch", to_poll=False) == []
    assert [row.pk for row in state.claim([submission.pk], "round")] == [submission.pk]
    submission.refresh_from_db()
    assert (submission.status, submission.claim_token, submission.attempts) == (S.SENT, "round", 0)


def test_a_long_note_with_line_breaks_reaches_ksef_whole(connected: KsefConnection) -> None:
    """Notes above 256 characters were cut when the XML was built; they go whole as the invoice footer."""
    notes = "Gwarancja 24 miesiące.\n" + "Warunki dostawy i montażu opisane w umowie nr 7/2026. " * 20
    submission = run(issue(connected.company, notes=notes.strip()))
    assert submission.status == S.ACCEPTED
    sent = SimInvoice.objects.get(ksef_number=submission.ksef_number)
    assert sent.xml is not None
    assert notes.strip().encode() in bytes(sent.xml).replace(b"\r\n", b"\n")


def test_acceptance_and_rejection_are_announced_after_commit(connected: KsefConnection) -> None:
    from invoices import signals

    heard: list[tuple[str, int, list[int]]] = []

    def accepted(sender: object, *, company_id: int, invoice_ids: list[int], **kwargs: object) -> None:
        heard.append(("accepted", company_id, invoice_ids))

    def rejected(sender: object, *, company_id: int, invoice_id: int, local: bool, **kwargs: object) -> None:
        heard.append(("rejected-local" if local else "rejected", company_id, [invoice_id]))

    signals.invoices_accepted.connect(accepted)
    signals.invoice_rejected.connect(rejected)
    try:
        good = issue(connected.company)
        assert run(good).status == S.ACCEPTED
        bad = issue(connected.company)
        Invoice.objects.filter(pk=bad.pk).update(seller_nip="1234567890")
        assert run(bad).status == S.FAILED_LOCAL
    finally:
        signals.invoices_accepted.disconnect(accepted)
        signals.invoice_rejected.disconnect(rejected)
    company = connected.company.pk
    assert heard == [("accepted", company, [good.pk]), ("rejected-local", company, [bad.pk])]

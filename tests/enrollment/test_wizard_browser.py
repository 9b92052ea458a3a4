"""Przejdź na certyfikat KSeF, walked in Chromium as an owner does it: Start shows the token's days and the
one button; the wizard prepares the request; the browser downloads it; the test signs it with the owner's
self-signed certificate (as KSeF TEST accepts, standing in for podpis.gov.pl); the browser uploads it; the
page follows the worker's progress to "Gotowe!". Then an invoice goes to KSeF by a certificate login, and an
invoice issued offline carries KOD II signed by the new Offline certificate.

Screenshots go to test-artifacts/ (certyfikat-*.png)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Company, User
from invoices import services as invoice_services
from invoices.models import KsefStatus
from invoices.visualisation import qr_codes
from ksef_integration.enrollment import services
from ksef_integration.ksef.qr import LABEL_CERTIFICATE
from ksef_integration.models import AuthMethod, CertificateEnrollment, KsefConnection, Submission
from ksef_integration.models import SubmissionStatus as S
from ksef_integration.sending import drain
from ksef_simulator.models import SimInvoice
from ksef_simulator.pages.qr import qr_link_verify
from tests.conftest import PASSWORD, screenshot
from tests.enrollment.conftest import Signer
from tests.invoices.factories import issue_data

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page: Any, user: User) -> None:
    page.goto("/logowanie/")
    page.get_by_label("Adres e-mail").fill(user.email)
    page.get_by_label("Hasło").fill(PASSWORD)
    page.get_by_role("button", name="Zaloguj się").click()
    page.wait_for_url("**/")


def _issue(company: Company, **overrides: Any) -> Any:
    today = timezone.localdate()
    data = issue_data(issue_date=today, sale_date=today, due_date=today, **overrides)
    return invoice_services.invoice_issue(company=company, user=None, data=data)


def test_the_wizard_end_to_end(page: Any, on_token: Company, alice: User, owner: Signer) -> None:
    _log_in(page, alice)
    page.locator("#certificate-switch").click()
    page.wait_for_url("**/ustawienia/ksef/przejdz-na-certyfikat/")
    screenshot(page, "certyfikat-01-wstep")
    page.get_by_role("button", name="Przygotuj wniosek do podpisu").click()
    page.locator("#switch-steps").wait_for()
    assert re.search(r"do godz\. \d\d:\d\d", page.locator("#switch-valid-until").inner_text())
    screenshot(page, "certyfikat-02-kroki")

    with page.expect_download() as downloading:
        page.locator("#switch-download").click()
    download = downloading.value
    assert download.suggested_filename == f"wniosek-KSeF-{on_token.nip}.xml"
    with open(download.path(), "rb") as file:
        request_xml = file.read()
    signed = owner.sign(request_xml)  # what podpis.gov.pl does for the owner

    page.get_by_label("Podpisany wniosek (.xml)").set_input_files(
        files=[{"name": "wniosek-KSeF-podpisany.xml", "mimeType": "application/xml", "buffer": signed}]
    )
    page.get_by_role("button", name="Uzyskaj certyfikaty").click()
    page.locator("#switch-working").wait_for()
    screenshot(page, "certyfikat-03-w-toku")

    row = CertificateEnrollment.objects.get(company=on_token)
    assert services.enrollment_run(row.pk) == "done"  # the worker's part
    page.locator("#switch-done").wait_for(timeout=20_000)  # the page refreshes itself
    row.refresh_from_db()
    assert "Gotowe!" in page.locator("#certificate-switch-page").inner_text()
    assert row.authentication_serial in page.content()
    screenshot(page, "certyfikat-04-gotowe")

    page.goto("/")
    assert page.locator("#token-sunset").count() == 0  # Start no longer counts the token's days
    connection = KsefConnection.objects.get(company=on_token)
    assert connection.method == AuthMethod.CERTIFICATE

    # An invoice issued afterwards goes to KSeF in a session opened by the new certificate.
    KsefConnection.objects.filter(pk=connection.pk).update(auto_send=True)
    invoice = _issue(on_token)
    submission = Submission.objects.get(invoice=invoice)
    drain.submission_send(submission_id=submission.pk)
    submission.refresh_from_db()
    assert submission.status == S.ACCEPTED
    sent = SimInvoice.objects.get(ksef_number=submission.ksef_number)
    assert sent.session is not None
    assert sent.session.ksef_token_reference == ""

    # An invoice issued offline carries KOD II signed by the new Offline certificate.
    offline = _issue(on_token, ksef_offline_mode="offline24")
    offline.refresh_from_db()  # the offline mode is applied when the issue commits
    assert offline.ksef_status == KsefStatus.OFFLINE
    codes = qr_codes(offline)
    assert codes[1].label == LABEL_CERTIFICATE
    assert f"/{row.offline_serial}/" in codes[1].url
    assert qr_link_verify(codes[1].url).ok, codes[1].url

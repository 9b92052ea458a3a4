"""The PDF visualisation: a real PDF, with the number, Polish letters and the provider's QR codes."""

import zlib
from typing import Any
from unittest import mock

import pytest
from django.test import override_settings
from django.urls import reverse

from accounts.models import Company
from invoices import services
from invoices.models import Invoice, KsefStatus
from invoices.pdf import invoice_pdf_render
from invoices.visualisation import QrCode, set_qr_provider
from tests.invoices.factories import issue_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoice(company_a: Company) -> Invoice:
    return services.invoice_issue(company=company_a, user=None, data=issue_data())


def test_pdf_download(alice_client: Any, invoice: Invoice) -> None:
    response = alice_client.get(reverse("invoices:pdf", kwargs={"invoice_uuid": invoice.uuid}))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert 'filename="faktura_FV_1_11_2026.pdf"' in response["Content-Disposition"]
    pdf = response.content
    assert pdf.startswith(b"%PDF")
    assert b"FV/1/11/2026" in pdf  # document information: subject
    assert b"DejaVuSans" in pdf  # the font with Polish letters is embedded


def test_pdf_contains_the_kod_i_link_from_the_provider(alice_client: Any, invoice: Invoice) -> None:
    url = f"https://qr-test.ksef.mf.gov.pl/invoice/{invoice.seller_nip}/20-11-2026/abcDEF_123"
    previous = set_qr_provider(lambda inv: [QrCode(url, "OFFLINE")])
    try:
        pdf = alice_client.get(reverse("invoices:pdf", kwargs={"invoice_uuid": invoice.uuid})).content
    finally:
        set_qr_provider(previous)
    assert url.encode() in pdf  # the QR code is a link annotation with the URL
    assert b"/Subtype /Image" in pdf or b"/Subtype/Image" in pdf


def test_pdf_without_provider_has_no_links(invoice: Invoice) -> None:
    assert b"/URI" not in invoice_pdf_render(invoice)


def test_polish_letters_are_drawn_with_glyphs_from_the_embedded_font(invoice: Invoice) -> None:
    pdf = invoice_pdf_render(invoice)
    # the embedded subset maps our characters; its ToUnicode CMap lists ł (U+0142) and Ź (U+0179)
    streams = []
    for chunk in pdf.split(b"stream")[1:]:
        body = chunk.split(b"endstream")[0].strip(b"\r\n")
        try:
            streams.append(zlib.decompress(body))
        except zlib.error:
            streams.append(body)
    cmaps = b"".join(s for s in streams if b"beginbfchar" in s or b"beginbfrange" in s)
    assert b"<0142>" in cmaps
    assert b"<0179>" in cmaps


def test_a_pdf_is_rendered_once_per_version_of_what_it_shows(alice_client: Any, invoice: Invoice) -> None:
    """Kept in the cache under everything it shows: the same version is not rendered again, and any change
    (a value updated without a signal, the KSeF state in the QR codes, a new release) renders it anew."""
    url = reverse("invoices:pdf", kwargs={"invoice_uuid": invoice.uuid})
    rendered: list[bytes] = []

    def counted(*args: Any, **kwargs: Any) -> bytes:
        rendered.append(invoice_pdf_render(*args, **kwargs))
        return rendered[-1]

    with mock.patch("invoices.pdf.invoice_pdf_render", side_effect=counted):
        first = alice_client.get(url).content
        assert alice_client.get(url).content == first
        assert len(rendered) == 1
        Invoice.objects.filter(pk=invoice.pk).update(ksef_status=KsefStatus.ACCEPTED, ksef_number="K-1")
        alice_client.get(url)
        assert len(rendered) == 2
        previous = set_qr_provider(lambda inv: [QrCode("https://qr-test.ksef.mf.gov.pl/x", "K-1")])
        try:
            assert b"https://qr-test.ksef.mf.gov.pl/x" in alice_client.get(url).content
        finally:
            set_qr_provider(previous)
        assert len(rendered) == 3
        with override_settings(RELEASE_KEY="the-next-release"):
            alice_client.get(url)
        assert len(rendered) == 4
        alice_client.get(url)  # the current release's version is still kept
        assert len(rendered) == 4

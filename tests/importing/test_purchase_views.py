"""Imported purchase invoices in Dokumenty → Zakupy: the invoice page, its visualisation and PDF with KOD I
from the original XML, the XML download, and the "nowa" marker (the import runs against the simulator)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Company
from invoices import views as invoice_views
from invoices.models import Direction, Invoice
from invoices.visualisation import QrCode, qr_codes
from ksef_integration.connect import gateway
from ksef_integration.importing.services import company_import
from ksef_integration.ksef.crypto import sha256_b64
from ksef_integration.ksef.qr import kod1_url
from ksef_integration.models import ImportedDocument, KsefConnection, Submission
from ksef_simulator import services_invoices
from tests.invoices.factories import invoice_make
from tests.statements import page_statements

pytestmark = pytest.mark.django_db(transaction=True)

SELLER_NIP = "5265877635"
ISSUE = dt.date(2026, 9, 14)


def purchase_xml(buyer_nip: str, number: str, *, net: str = "100.00", due: dt.date | None = None) -> bytes:
    """A purchase invoice as its seller would store it in KSeF (optionally with a payment due date)."""
    xml = services_invoices.fa3_build(
        seller_nip=SELLER_NIP, buyer_nip=buyer_nip, number=number, issue_date=ISSUE, net=Decimal(net)
    )
    if due is not None:
        payment = (
            f"<Platnosc><TerminPlatnosci><Termin>{due.isoformat()}</Termin></TerminPlatnosci>"
            "<FormaPlatnosci>6</FormaPlatnosci></Platnosc>"
        ).encode()
        xml = xml.replace(b"</FaWiersz>", b"</FaWiersz>" + payment, 1)
    return xml


def import_purchases(company: Company, *xmls: bytes) -> list[str]:
    """Store the invoices in the simulator and import them over HTTP; their KSeF numbers."""
    numbers = [services_invoices.invoice_store_incoming(xml_bytes=xml) for xml in xmls]
    assert company_import(company_id=company.pk).status == "succeeded"
    return numbers


@pytest.fixture
def imported(connected: KsefConnection) -> tuple[Invoice, bytes]:
    xml = purchase_xml(connected.company.nip, "FZ/2026/09/7")
    [ksef_number] = import_purchases(connected.company, xml)
    invoice = Invoice.objects.get(company=connected.company, ksef_number=ksef_number)
    assert invoice.direction == Direction.PURCHASE
    return invoice, xml


def test_kod1_of_an_imported_invoice_uses_the_original_xml_and_the_seller_nip(
    alice_client: Any, imported: tuple[Invoice, bytes]
) -> None:
    invoice, xml = imported
    # Our own column must not matter: the hash is of the file KSeF holds.
    Invoice.objects.filter(pk=invoice.pk).update(xml_sha256_b64="A" * 43 + "=")
    invoice.refresh_from_db()
    expected = kod1_url(qr_host=gateway.environment(), seller_nip=SELLER_NIP, issue_date=ISSUE, xml=xml)
    assert qr_codes(invoice) == [QrCode(url=expected, label=invoice.ksef_number or "")]

    detail = alice_client.get(
        reverse("invoices:detail", kwargs={"invoice_uuid": invoice.uuid})
    ).content.decode()
    preview = alice_client.get(
        reverse("invoices:preview", kwargs={"invoice_uuid": invoice.uuid})
    ).content.decode()
    for html in (detail, preview):
        assert expected in html
        assert f"<strong>{invoice.ksef_number}</strong>" in html

    with mock.patch.object(invoice_views, "invoice_pdf_bytes", return_value=b"%PDF-1.7") as render:
        response = alice_client.get(reverse("invoices:pdf", kwargs={"invoice_uuid": invoice.uuid}))
    assert response.status_code == 200
    assert render.call_args.kwargs["qr_codes"] == [QrCode(url=expected, label=invoice.ksef_number or "")]


def test_the_real_pdf_of_an_imported_invoice_renders(
    alice_client: Any, imported: tuple[Invoice, bytes]
) -> None:
    invoice, _xml = imported
    response = alice_client.get(reverse("invoices:pdf", kwargs={"invoice_uuid": invoice.uuid}))
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")


def test_xml_download_gives_the_original_file(alice_client: Any, imported: tuple[Invoice, bytes]) -> None:
    invoice, xml = imported
    url = reverse("ksef_integration:invoice_xml", kwargs={"invoice_uuid": invoice.uuid})
    assert url == f"/dokumenty/{invoice.uuid}/xml/"
    detail = alice_client.get(
        reverse("invoices:detail", kwargs={"invoice_uuid": invoice.uuid})
    ).content.decode()
    assert f'href="{url}"' in detail

    response = alice_client.get(url)
    assert response.status_code == 200
    assert response.content == xml
    assert response["Content-Type"] == "application/xml"
    assert response["Content-Disposition"] == f'attachment; filename="{invoice.ksef_number}.xml"'
    assert ImportedDocument.objects.get(invoice=invoice).ksef_number == invoice.ksef_number


def test_xml_download_of_a_sent_sales_invoice_and_404s(
    alice_client: Any, company_a: Company, company_b: Company
) -> None:
    sent = invoice_make(company_a, number="FV/1/2026")
    Submission.objects.create(invoice=sent, company=company_a, xml=b"<Faktura>sent</Faktura>")
    url = reverse("ksef_integration:invoice_xml", kwargs={"invoice_uuid": sent.uuid})
    response = alice_client.get(url)
    assert response.status_code == 200
    assert response.content == b"<Faktura>sent</Faktura>"
    assert response["Content-Disposition"] == 'attachment; filename="FV_1_2026.xml"'
    assert (
        f'href="{url}"'
        in alice_client.get(reverse("invoices:detail", kwargs={"invoice_uuid": sent.uuid})).content.decode()
    )

    by_hand = invoice_make(company_a, direction=Direction.PURCHASE)
    no_xml = reverse("ksef_integration:invoice_xml", kwargs={"invoice_uuid": by_hand.uuid})
    assert alice_client.get(no_xml).status_code == 404
    assert (
        "/xml/"
        not in alice_client.get(
            reverse("invoices:detail", kwargs={"invoice_uuid": by_hand.uuid})
        ).content.decode()
    )

    foreign = invoice_make(company_b)
    Submission.objects.create(invoice=foreign, company=company_b, xml=b"<Faktura>b</Faktura>")
    foreign_url = reverse("ksef_integration:invoice_xml", kwargs={"invoice_uuid": foreign.uuid})
    assert alice_client.get(foreign_url).status_code == 404


def test_zakupy_lists_imported_invoices_and_the_new_marker_goes_when_opened(
    alice_client: Any, connected: KsefConnection
) -> None:
    company = connected.company
    numbers = import_purchases(
        company,
        purchase_xml(company.nip, "FZ/1", net="10.00"),
        purchase_xml(company.nip, "FZ/2", net="20.00"),
    )
    listing = reverse("invoices:list") + "?direction=purchase"
    html = alice_client.get(listing, HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    assert f"Dostawca {SELLER_NIP} sp. z o.o." in html
    assert f"NIP {SELLER_NIP}" in html
    assert "FZ/1" in html
    assert "FZ/2" in html
    assert html.count('badge--new">nowa<') == 2  # once per invoice: a table row, shown as a card on phones

    opened = Invoice.objects.get(company=company, ksef_number=numbers[0])
    alice_client.get(reverse("invoices:detail", kwargs={"invoice_uuid": opened.uuid}))
    html = alice_client.get(listing, HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    assert html.count('badge--new">nowa<') == 1
    assert list(Invoice.objects.filter(company=company, is_new=True).values_list("number", flat=True)) == [
        "FZ/2"
    ]


def test_zakupy_filters_contractor_dates_amount_status_and_only_new(
    alice_client: Any, connected: KsefConnection
) -> None:
    company = connected.company
    import_purchases(
        company,
        purchase_xml(company.nip, "FZ/10", net="10.00"),
        purchase_xml(company.nip, "FZ/20", net="200.00"),
    )
    other = invoice_make(
        company, direction=Direction.PURCHASE, number="R/7", seller_name="Hurtownia Beta",
        seller_nip="7740001454", issue_date=dt.date(2026, 3, 2),
    )  # fmt: skip
    Invoice.objects.filter(pk=other.pk).update(is_new=False)
    listing = reverse("invoices:list")

    def numbers(**params: str) -> set[str]:
        response = alice_client.get(listing, {"direction": "purchase", **params})
        assert response.status_code == 200
        return {invoice.number for invoice in response.context["page"].invoices}

    assert numbers() == {"FZ/10", "FZ/20", "R/7"}
    assert numbers(contractor=SELLER_NIP[:6]) == {"FZ/10", "FZ/20"}
    assert numbers(contractor="beta") == {"R/7"}
    assert numbers(date_from="2026-09-01", date_to="2026-09-30") == {"FZ/10", "FZ/20"}
    assert numbers(amount_from="150") == {"FZ/20"}  # gross 246.00; R/7 is 123.00
    assert numbers(amount_to="100") == {"FZ/10"}  # gross 12.30; R/7 is 123.00
    assert numbers(status="accepted") == {"FZ/10", "FZ/20"}  # imported: KSeF has them
    assert numbers(status="not_sent") == {"R/7"}  # added by hand
    assert numbers(only_new="on") == {"FZ/10", "FZ/20"}
    opened = Invoice.objects.get(company=company, number="FZ/10")
    alice_client.get(reverse("invoices:detail", kwargs={"invoice_uuid": opened.uuid}))
    assert numbers(only_new="on") == {"FZ/20"}
    assert numbers(only_new="on", amount_to="100") == set()

    html = alice_client.get(listing, {"direction": "purchase"}, HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    assert "Tylko nowe" in html
    assert 'name="only_new"' in html
    html = alice_client.get(listing, {"direction": "sales"}, HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    assert 'name="only_new"' not in html  # sales have no "nowe" marker
    # an unchecked box is not a filter: the panel stays closed
    response = alice_client.get(listing, {"direction": "purchase", "contractor": ""})
    assert response.context["filtered"] is False


def test_kod_i_comes_from_the_hash_kept_at_import_without_reading_the_xml(
    imported: tuple[Invoice, bytes],
) -> None:
    invoice, xml = imported
    document = ImportedDocument.objects.get(invoice=invoice)
    assert document.xml_sha256_b64 == sha256_b64(xml)
    expected = [
        QrCode(
            url=kod1_url(qr_host=gateway.environment(), seller_nip=SELLER_NIP, issue_date=ISSUE, xml=xml),
            label=invoice.ksef_number or "",
        )
    ]
    xml_column = '"ksef_integration_importeddocument"."xml"'
    with CaptureQueriesContext(connection) as captured:
        assert qr_codes(invoice) == expected
    assert not [q for q in captured.captured_queries if xml_column in q["sql"]]
    # A document stored without the hash (before it was kept) gets it on its first view, once.
    ImportedDocument.objects.filter(pk=document.pk).update(xml_sha256_b64="")
    invoice = Invoice.objects.get(pk=invoice.pk)  # the next view's (the document is read once per view)
    assert qr_codes(invoice) == expected
    assert ImportedDocument.objects.get(pk=document.pk).xml_sha256_b64 == sha256_b64(xml)


def test_the_purchase_invoice_page_takes_few_statements(
    alice_client: Any, imported: tuple[Invoice, bytes]
) -> None:
    invoice, _xml = imported
    url = reverse("invoices:detail", kwargs={"invoice_uuid": invoice.uuid})
    alice_client.get(url)  # opened once: no longer new, seen by Alice, the document kept
    with CaptureQueriesContext(connection) as captured:
        assert alice_client.get(url).status_code == 200
    statements = [sql[:160] for sql in page_statements(captured)]
    # user, membership; the invoice (with whether anything corrects it), its lines; the imported document
    # (KOD I and the timeline share it), the submission; seen by this member; the inbox entry, its settings
    # and history; the white-list checks.
    assert len(statements) <= 11, "\n".join(statements)
    assert sum('"ksef_integration_importeddocument"' in sql for sql in statements) == 1

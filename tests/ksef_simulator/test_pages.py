"""The simulator's "Aplikacja Podatnika" pages: log in as a NIP, tokens, certificates, invoices, test data."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ksef_simulator.models import KsefToken, SimInvoice

pytestmark = pytest.mark.django_db
NIP = "1234563218"
SELLER = "5265877635"


@pytest.fixture
def ksef(client: Any) -> Any:
    response = client.post("/ksef-sim/", {"nip": "123-456-32-18"})
    assert response.status_code == 302
    return client


def test_login_needs_a_valid_nip(client: Any) -> None:
    page = client.post("/ksef-sim/", {"nip": "1234563219"}).content.decode()
    assert "Nieprawidłowy NIP" in page
    assert client.get("/ksef-sim/tokeny/").status_code == 302


def test_generate_a_token_shown_once_then_revoke(ksef: Any) -> None:
    form = ksef.get("/ksef-sim/tokeny/generuj/").content.decode()
    assert "Nazwa tokena" in form
    assert "Opis tokena (max 256 znaków)" in form
    response = ksef.post(
        "/ksef-sim/tokeny/generuj/",
        {"name": "Portal", "description": "do testów", "permissions": ["InvoiceWrite", "InvoiceRead"]},
        follow=True,
    )
    page = response.content.decode()
    assert "Zakończono pomyślnie" in page
    assert "Token wyświetlany jest tylko raz" in page
    token = re.search(r"(\d{8}-EC-[0-9A-F]{10}-[0-9A-F]{10}-[0-9A-F]{2}\|nip-1234563218\|[0-9a-f]{64})", page)
    assert token is not None
    # Shown once: reloading does not show it again, and it is not stored in the clear.
    assert token.group(1) not in ksef.get("/ksef-sim/tokeny/wygenerowany/", follow=True).content.decode()
    stored = KsefToken.objects.get()
    assert token.group(1).split("|")[2] not in str(KsefToken.objects.values().get())
    listing = ksef.get("/ksef-sim/tokeny/").content.decode()
    assert stored.reference_number in listing
    assert "Portal — do testów" in listing

    ksef.post(f"/ksef-sim/tokeny/{stored.reference_number}/uniewaznij/")
    assert ksef.post("/ksef-sim/tokeny/20260101-EC-0000000000-0000000000-00/uniewaznij/").status_code == 404


def test_token_form_requires_a_permission(ksef: Any) -> None:
    page = ksef.post("/ksef-sim/tokeny/generuj/", {"name": "Portal"}).content.decode()
    assert "To pole jest wymagane" in page
    assert not KsefToken.objects.exists()


@pytest.mark.parametrize(("kind", "key_type"), [("Authentication", "EC"), ("Offline", "RSA")])
def test_issue_a_certificate_and_download_it(ksef: Any, kind: str, key_type: str) -> None:
    response = ksef.post(
        "/ksef-sim/certyfikaty/",
        {"kind": kind, "key_type": key_type, "password": "tajne-haslo-1"},
        follow=True,
    )
    assert "został wystawiony" in response.content.decode()
    certificate = x509.load_pem_x509_certificate(
        ksef.get("/ksef-sim/certyfikaty/pobierz/certificate/").content
    )
    assert f"VATPL-{NIP}" in certificate.subject.rfc4514_string()
    key_pem = ksef.get("/ksef-sim/certyfikaty/pobierz/key/").content
    assert b"ENCRYPTED" in key_pem
    key = serialization.load_pem_private_key(key_pem, password=b"tajne-haslo-1")
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    assert key.public_key().public_bytes(der, spki) == certificate.public_key().public_bytes(der, spki)
    assert ksef.get("/ksef-sim/certyfikaty/pobierz/other/").status_code == 404


def test_test_data_single_invoice_then_many(ksef: Any) -> None:
    response = ksef.post(
        "/ksef-sim/dane-testowe/",
        {
            "single": "1",
            "single-seller_nip": SELLER,
            "single-seller_name": "Dostawca",
            "single-net_amount": "100.00",
        },
        follow=True,
    )
    assert "KSeF przyjął fakturę od 5265877635" in response.content.decode()
    assert SimInvoice.objects.filter(buyer_id_value=NIP, seller_nip=SELLER, status_code=200).count() == 1

    today = dt.datetime.now(dt.UTC).date()
    response = ksef.post(
        "/ksef-sim/dane-testowe/",
        {
            "many": "1",
            "many-count": "25",
            "many-sellers": "5",
            "many-date_from": (today - dt.timedelta(days=40)).isoformat(),
            "many-date_to": today.isoformat(),
        },
        follow=True,
    )
    assert "Wygenerowano 25 faktur" in response.content.decode()
    assert SimInvoice.objects.filter(buyer_id_value=NIP, status_code=200).count() == 26
    listing = ksef.get("/ksef-sim/faktury/").content.decode()
    assert listing.count("<tr>") == 27  # header + 26 invoices


def test_test_data_refuses_bad_input(ksef: Any) -> None:
    page = ksef.post(
        "/ksef-sim/dane-testowe/",
        {"single": "1", "single-seller_nip": "123", "single-seller_name": "X", "single-net_amount": "-5"},
    ).content.decode()
    assert "NIP musi składać się z 10 cyfr" in page
    assert not SimInvoice.objects.exists()


def test_guide_page(client: Any) -> None:
    assert "Symulator KSeF — jak z niego korzystać" in client.get("/ksef-sim/pomoc/").content.decode()


def test_test_data_keeps_the_seller_name_and_the_pages_say_what_they_hold(ksef: Any) -> None:
    ksef.post(
        "/ksef-sim/dane-testowe/",
        {
            "single": "1",
            "single-seller_nip": SELLER,
            "single-seller_name": "Hurtownia Łączność S.A.",
            "single-net_amount": "100.00",
        },
    )
    invoice = SimInvoice.objects.get(seller_nip=SELLER)
    assert "<Nazwa>Hurtownia Łączność S.A.</Nazwa>".encode() in bytes(invoice.xml or b"")
    listing = ksef.get("/ksef-sim/faktury/").content.decode()
    assert f"<td>{NIP}</td>" in listing  # the buyer, not "—"

    form = ksef.get("/ksef-sim/dane-testowe/").content.decode()
    today = dt.datetime.now(dt.UTC).date()
    assert f'value="{today.isoformat()}"' in form  # what <input type="date"> can show


def test_token_statuses_are_polish_and_current(ksef: Any, settings: Any) -> None:
    from ksef_simulator.conf import config_update

    config_update(token_activation_delay=0)
    ksef.post("/ksef-sim/tokeny/generuj/", {"name": "Portal", "permissions": ["InvoiceRead"]}, follow=True)
    listing = ksef.get("/ksef-sim/tokeny/").content.decode()
    assert "aktywny" in listing  # its activation delay has passed: KSeF reports it Active
    assert ">Pending<" not in listing
    assert ">Active<" not in listing

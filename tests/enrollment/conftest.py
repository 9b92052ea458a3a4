"""A company connected by a KSeF token to the simulator over real HTTP, and an owner's certificate to sign
with (self-signed, as the KSeF TEST environment accepts)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.test import override_settings
from lxml import etree

from accounts.models import Company, User
from ksef_integration.connect import services as connect_services
from ksef_integration.enrollment import services
from ksef_integration.ksef.xades import xades_sign
from ksef_integration.models import CertificateEnrollment
from ksef_simulator import services_core
from ksef_simulator.conf import config_update

PERMISSIONS = ["InvoiceWrite", "InvoiceRead", "CredentialsManage", "CredentialsRead"]


@dataclass(frozen=True)
class Signer:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def sign(self, request_xml: bytes) -> bytes:
        return xades_sign(
            document=etree.fromstring(request_xml), certificate=self.certificate, private_key=self.key
        )


def person(*, nip: str | None = None, pesel: str | None = None, name: str = "Alicja Nowak") -> Signer:
    """A person's self-signed certificate: ``TINPL-<NIP>`` or ``PNOPL-<PESEL>`` (as KSeF's test tools)."""
    key = ec.generate_private_key(ec.SECP256R1())
    given, surname = name.split(" ", 1)
    serial = f"TINPL-{nip}" if nip else f"PNOPL-{pesel}"
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.GIVEN_NAME, given),
            x509.NameAttribute(NameOID.SURNAME, surname),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, serial),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return Signer(certificate=certificate, key=key)


@pytest.fixture
def simulator(live_server: Any) -> Iterator[Any]:
    config_update(token_activation_delay=0, auth_delay=0, certificate_enrollment_delay=0)
    with override_settings(KSEF_API_URL=f"{live_server.url}/ksef-sim/v2"):
        yield live_server


@pytest.fixture
def on_token(simulator: Any, company_a: Company, alice: User) -> Company:
    _, token = services_core.token_generate(
        nip=company_a.nip, permissions=PERMISSIONS, description="KSeF Portal"
    )
    connect_services.connection_connect_token(company=company_a, user=alice, raw_token=token)
    return company_a


@pytest.fixture
def owner(company_a: Company) -> Signer:
    return person(nip=company_a.nip)


def switch(company: Company, user: User, signer: Signer) -> CertificateEnrollment:
    """The switch from the token to certificates, through the services (the pages are tested elsewhere)."""
    row = services.switch_prepare(company=company, user=user)
    row = services.switch_submit(enrollment=row, user=user, data=signer.sign(row.request_xml.encode()))
    assert services.enrollment_run(row.pk) == "done"
    row.refresh_from_db()
    return row


@pytest.fixture
def on_certificate(on_token: Company, alice: User, owner: Signer) -> Company:
    switch(on_token, alice, owner)
    return on_token

"""The one certificate loader (``connect.credentials``) serves the login certificate and the Offline one:
each KSeF certificate type is taken only for what it signs, oversized files are refused before anything is
read, and a stored pair reads back as the credential that was saved."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization

from accounts.models import Company
from ksef_integration.connect import credentials
from ksef_integration.errors import ConnectError
from tests.offline.conftest import PASSWORD, issue_certificate

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("kind", "fits", "refused_as"),
    [("Authentication", "login", "not_offline"), ("Offline", "offline", "certificate_offline")],
)
def test_each_certificate_type_loads_only_for_what_it_signs(
    company_a: Company, kind: str, fits: credentials.Purpose, refused_as: str
) -> None:
    certificate, key = issue_certificate(company_a.nip, kind=kind, key_type="EC")
    loaded = credentials.certificate_load(
        certificate_bytes=certificate, private_key_bytes=key, password=PASSWORD, purpose=fits
    )
    assert loaded.nip == company_a.nip
    assert serialization.load_der_private_key(loaded.private_key_pkcs8, password=None)
    other: credentials.Purpose = "offline" if fits == "login" else "login"
    with pytest.raises(ConnectError) as refused:
        credentials.certificate_load(
            certificate_bytes=certificate, private_key_bytes=key, password=PASSWORD, purpose=other
        )
    assert refused.value.code == refused_as


@pytest.mark.parametrize("purpose", ["login", "offline"])
def test_an_oversized_file_is_refused_before_it_is_read(
    company_a: Company, purpose: credentials.Purpose
) -> None:
    certificate, key = issue_certificate(company_a.nip)
    for certificate_bytes, key_bytes in [
        (certificate + b"\n" * credentials.MAX_FILE_BYTES, key),
        (certificate, key + b"\n" * credentials.MAX_FILE_BYTES),
    ]:
        with pytest.raises(ConnectError) as refused:
            credentials.certificate_load(
                certificate_bytes=certificate_bytes,
                private_key_bytes=key_bytes,
                password=PASSWORD,
                purpose=purpose,
            )
        assert refused.value.code == "too_large"


def test_a_stored_pair_reads_back_as_the_credential_saved(company_a: Company) -> None:
    certificate, key = issue_certificate(company_a.nip, kind="Authentication")
    loaded = credentials.certificate_load(
        certificate_bytes=certificate, private_key_bytes=key, password=PASSWORD
    )
    stored = credentials.certificate_from_storage(
        certificate_pem=loaded.certificate_pem, private_key_pkcs8=loaded.private_key_pkcs8
    )
    assert stored == loaded
    x509_certificate, private_key = credentials.stored_certificate(
        certificate_pem=stored.certificate_pem, private_key_pkcs8=stored.private_key_pkcs8
    )
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    assert x509_certificate.public_key().public_bytes(
        serialization.Encoding.DER, spki
    ) == private_key.public_key().public_bytes(serialization.Encoding.DER, spki)

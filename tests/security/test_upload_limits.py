"""Certificate and key uploads over 64 KB are refused with a Polish message, nothing stored, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Company
from ksef_integration.connect.credentials import MAX_FILE_BYTES
from ksef_integration.models import KsefConnection, OfflineCertificate

pytestmark = pytest.mark.django_db
TOO_LARGE = "Plik jest za duży, by był certyfikatem lub kluczem (maks. 64 KB)."
FORMS = ["/uslugi-dodatkowe/ksef/certyfikat/", "/ustawienia/ksef/certyfikat-offline/"]
PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def _post(client: Any, url: str, *, certificate: bytes, key: bytes) -> Any:
    return client.post(
        url,
        {
            "certificate": SimpleUploadedFile("ksef.crt", certificate),
            "private_key": SimpleUploadedFile("ksef.key", key),
            "password": "haslo-do-klucza",
        },
    )


def _nothing_stored(company: Company) -> bool:
    return not KsefConnection.objects.filter(company=company).exists() and not (
        OfflineCertificate.objects.filter(company=company).exists()
    )


@pytest.mark.parametrize("url", FORMS)
@pytest.mark.parametrize("which", ["certificate", "key"])
@pytest.mark.parametrize(
    "size",
    [MAX_FILE_BYTES + 1, settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1],  # to memory, and to a temp file
    ids=["64KB+1", "over-the-request-memory-limit"],
)
def test_an_oversized_file_is_refused_in_polish(
    alice_client: Any, company_a: Company, url: str, which: str, size: int
) -> None:
    big = b"-----BEGIN PRIVATE KEY-----\n" + b"A" * size
    files = {"certificate": big, "key": PEM} if which == "certificate" else {"certificate": PEM, "key": big}
    response = _post(alice_client, url, **files)
    assert response.status_code == 200
    html = response.content.decode()
    assert TOO_LARGE in html
    assert "AAAAAAAA" not in html  # the upload is not echoed back
    assert _nothing_stored(company_a)


@pytest.mark.parametrize("url", FORMS)
def test_a_file_of_exactly_64_kb_passes_the_size_check(
    alice_client: Any, company_a: Company, url: str
) -> None:
    # The limit is the boundary, not below it: this file is refused for what it is, not for its size.
    response = _post(alice_client, url, certificate=b"A" * MAX_FILE_BYTES, key=PEM)
    assert response.status_code == 200
    assert TOO_LARGE not in response.content.decode()
    assert _nothing_stored(company_a)


def test_an_oversized_form_field_is_a_400_not_a_500(alice_client: Any) -> None:
    # Django's own guard for non-file fields (DATA_UPLOAD_MAX_MEMORY_SIZE), e.g. a pasted "token".
    response = alice_client.post(
        "/uslugi-dodatkowe/ksef/token/", {"token": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)}
    )
    assert response.status_code == 400

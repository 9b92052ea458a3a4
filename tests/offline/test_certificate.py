"""The Offline certificate in Dane i ustawienia → KSeF: checked (type, validity, NIP, key), stored encrypted,
shown; without it the app says what the user can and cannot do."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.models import Company
from ksef_integration.encryption import secret_decrypt
from ksef_integration.models import OfflineCertificate
from tests.offline.conftest import PASSWORD, issue_certificate

pytestmark = pytest.mark.django_db

URL = "/ustawienia/ksef/certyfikat-offline/"


def _post(client: Any, certificate: bytes, key: bytes, password: str = PASSWORD) -> Any:
    return client.post(
        URL,
        {
            "certificate": SimpleUploadedFile("offline.crt", certificate),
            "private_key": SimpleUploadedFile("offline.key", key),
            "password": password,
        },
    )


@pytest.mark.parametrize("key_type", ["RSA", "EC"])
def test_an_offline_certificate_is_checked_stored_encrypted_and_shown(
    alice_client: Any, company_a: Company, key_type: str
) -> None:
    certificate, key = issue_certificate(company_a.nip, key_type=key_type)
    response = _post(alice_client, certificate, key)
    assert response.status_code == 302, response.content.decode()[:2000]
    row = OfflineCertificate.objects.get(company=company_a)
    assert row.key_type == key_type
    assert row.subject_nip == company_a.nip
    assert b"PRIVATE KEY" not in row.private_key_ciphertext.encode()
    assert len(secret_decrypt(row.private_key_ciphertext)) > 100  # the PKCS#8 key, only behind Fernet
    page = alice_client.get(reverse("ksef_integration:settings")).content.decode()
    assert row.serial in page
    assert "offline-without-certificate" not in page
    assert "PRIVATE KEY" not in page


def test_wrong_certificates_are_refused_with_the_reason(
    alice_client: Any, company_a: Company, company_b: Company
) -> None:
    auth_certificate, auth_key = issue_certificate(company_a.nip, kind="Authentication")
    page = _post(alice_client, auth_certificate, auth_key).content.decode()
    assert "To nie jest certyfikat typu Offline" in page
    foreign_certificate, foreign_key = issue_certificate(company_b.nip)
    page = _post(alice_client, foreign_certificate, foreign_key).content.decode()
    assert f"wystawiony dla NIP {company_b.nip}" in page
    certificate, _key = issue_certificate(company_a.nip)
    page = _post(alice_client, certificate, foreign_key).content.decode()
    assert "Klucz prywatny nie pasuje do tego certyfikatu." in page
    certificate, key = issue_certificate(company_a.nip)
    assert (
        "Hasło do klucza prywatnego jest nieprawidłowe."
        in _post(alice_client, certificate, key, "zle").content.decode()
    )
    page = _post(alice_client, certificate + b"\n" * 70_000, key).content.decode()
    assert "za duży" in page
    assert not OfflineCertificate.objects.exists()


def test_without_a_certificate_the_settings_and_the_offline_tab_say_what_works(
    alice_client: Any, company_a: Company
) -> None:
    page = alice_client.get(reverse("ksef_integration:settings")).content.decode()
    assert 'id="offline-without-certificate"' in page
    assert "nie możesz przekazać faktury offline nabywcy" in page
    tab = alice_client.get(reverse("ksef_integration:landing"), {"zakladka": "offline"}).content.decode()
    assert "offline24" in tab
    assert "7 dni roboczych" in tab
    assert URL in tab


def test_only_the_owner_uploads_and_the_key_can_be_removed(alice_client: Any, company_a: Company) -> None:
    certificate, key = issue_certificate(company_a.nip)
    assert _post(alice_client, certificate, key).status_code == 302
    from tests.conftest import add_member

    accountant = add_member(company_a, "accountant", "ksiegowa@example.com")
    other = Client()
    other.force_login(accountant.user)
    assert other.get(URL).status_code == 403
    assert alice_client.post(reverse("ksef_integration:offline_certificate_delete")).status_code == 302
    assert not OfflineCertificate.objects.exists()


def test_key_rotation_re_encrypts_the_offline_key(company_a: Company, settings: Any) -> None:
    from io import StringIO

    from cryptography.fernet import Fernet
    from django.core.management import call_command

    from tests.offline.conftest import upload_certificate

    row = upload_certificate(company_a)
    plain = secret_decrypt(row.private_key_ciphertext)
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    out = StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    assert "rotated 1 secret(s); 0 unreadable" in out.getvalue()
    settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old key is gone; the offline key still reads
    row.refresh_from_db()
    assert secret_decrypt(row.private_key_ciphertext) == plain

"""Hostile certificate and key files on both certificate uploads (the connecting certificate and the Offline
one): a key whose password protection asks for billions of iterations is refused before anything is
decrypted, a certificate ``cryptography`` cannot parse fully is a form error (never a 500), and a
certificate without a NIP gets a message about the certificate."""

from __future__ import annotations

import base64
import datetime as dt
from html import unescape
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.models import Company
from ksef_integration.connect import keyfile
from ksef_integration.ksef.qr import certificate_serial_hex
from ksef_integration.models import KsefConnection, OfflineCertificate
from tests.offline.conftest import PASSWORD, issue_certificate

pytestmark = pytest.mark.django_db

UPLOADS = {
    "connect": reverse("ksef_integration:certificate"),
    "offline": reverse("ksef_integration:offline_certificate"),
}


# --- DER by hand: the files no honest tool writes -----------------------------------------------------


def _der(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


def _seq(*parts: bytes) -> bytes:
    return _der(0x30, b"".join(parts))


def _oid(dotted: str) -> bytes:
    return _der(0x06, _oid_body(dotted))


def _oid_body(dotted: str) -> bytes:
    first, second, *rest = (int(part) for part in dotted.split("."))
    body = bytearray([40 * first + second])
    for arc in rest:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return bytes(body)


def _int(value: int) -> bytes:
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def _octets(value: bytes) -> bytes:
    return _der(0x04, value)


def _pem(label: str, der: bytes) -> bytes:
    return (
        f"-----BEGIN {label}-----\n".encode() + base64.encodebytes(der) + f"-----END {label}-----\n".encode()
    )


AES256_CBC = _seq(_oid("2.16.840.1.101.3.4.1.42"), _octets(b"i" * 16))


def pbkdf2_key(iterations: int) -> bytes:
    """A PKCS#8 EncryptedPrivateKeyInfo (PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC) with this iteration count."""
    prf = _seq(_oid("1.2.840.113549.2.9"), _der(0x05, b""))
    kdf = _seq(_oid("1.2.840.113549.1.5.12"), _seq(_octets(b"s" * 16), _int(iterations), prf))
    algorithm = _seq(_oid("1.2.840.113549.1.5.13"), _seq(kdf, AES256_CBC))
    return _pem("ENCRYPTED PRIVATE KEY", _seq(algorithm, _octets(b"x" * 144)))


def scrypt_key(n: int, r: int, p: int) -> bytes:
    kdf = _seq(_oid("1.3.6.1.4.1.11591.4.11"), _seq(_octets(b"s" * 16), _int(n), _int(r), _int(p)))
    algorithm = _seq(_oid("1.2.840.113549.1.5.13"), _seq(kdf, AES256_CBC))
    return _pem("ENCRYPTED PRIVATE KEY", _seq(algorithm, _octets(b"x" * 144)))


def pkcs12_pbe_key(iterations: int) -> bytes:
    algorithm = _seq(_oid("1.2.840.113549.1.12.1.3"), _seq(_octets(b"s" * 8), _int(iterations)))
    return _pem("ENCRYPTED PRIVATE KEY", _seq(algorithm, _octets(b"x" * 144)))


def _self_signed(nip: str | None, *, duplicate_extension: bool = False) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, "Jan Kowalski")]
    if nip:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"VATPL-{nip}"))
    name = x509.Name(attributes)
    now = dt.datetime.now(dt.UTC)
    usage = x509.KeyUsage(
        digital_signature=True, content_commitment=True, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
    )  # fmt: skip
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(usage, critical=True)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    der = certificate.public_bytes(serialization.Encoding.DER)
    if duplicate_extension:
        # BasicConstraints appended a second time to the TBS's extension list (the signature no longer
        # matches, which no upload checks before reading the extensions).
        der = _duplicate_basic_constraints(der)
    plain = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSWORD.encode()),
    )
    return _pem("CERTIFICATE", der), plain


def _parse(der: bytes, at: int = 0) -> tuple[int, int, int]:
    """(tag, content start, content end) of the DER element at ``at``."""
    tag, first = der[at], der[at + 1]
    if first < 0x80:
        return tag, at + 2, at + 2 + first
    count = first & 0x7F
    size = int.from_bytes(der[at + 2 : at + 2 + count], "big")
    return tag, at + 2 + count, at + 2 + count + size


def _children(der: bytes, start: int, end: int) -> list[bytes]:
    parts, at = [], start
    while at < end:
        _tag, _content, stop = _parse(der, at)
        parts.append(der[at:stop])
        at = stop
    return parts


def _duplicate_basic_constraints(der: bytes) -> bytes:
    _tag, start, end = _parse(der)
    tbs, algorithm, signature = _children(der, start, end)
    _tag, tbs_start, tbs_end = _parse(tbs)
    fields = _children(tbs, tbs_start, tbs_end)
    extensions_wrapper = fields[-1]  # [3] EXPLICIT Extensions
    _tag, wrapper_start, _wrapper_end = _parse(extensions_wrapper)
    _tag, list_start, list_end = _parse(extensions_wrapper, wrapper_start)
    extensions = _children(extensions_wrapper, list_start, list_end)
    basic = next(extension for extension in extensions if _oid_body("2.5.29.19") in extension)
    rebuilt = _der(0xA3, _seq(*extensions, basic))
    tbs = _seq(*fields[:-1], rebuilt)
    return _seq(tbs, algorithm, signature)


def _post(client: Any, upload: str, certificate: bytes, key: bytes, password: str = PASSWORD) -> Any:
    return client.post(
        UPLOADS[upload],
        {
            "certificate": SimpleUploadedFile("ksef.crt", certificate),
            "private_key": SimpleUploadedFile("ksef.key", key),
            "password": password,
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )


def _nothing_stored(company: Company) -> bool:
    connection = KsefConnection.objects.filter(company=company).first()
    return not OfflineCertificate.objects.exists() and (connection is None or not connection.certificate_pem)


# --- 1. key derivation cost ----------------------------------------------------------------------------

COSTLY = "would take far too long to open"


@pytest.mark.parametrize("upload", UPLOADS)
@pytest.mark.parametrize(
    "key",
    [
        pytest.param(pbkdf2_key(2**31 - 1), id="pbkdf2-2^31-1"),
        # 20 million: above the bound; before the fix this took seconds, then said "wrong password".
        pytest.param(pbkdf2_key(20_000_000), id="pbkdf2-20M"),
        pytest.param(scrypt_key(2**20, 8, 1), id="scrypt-1GiB"),
        pytest.param(scrypt_key(2**14, 8, 1024), id="scrypt-p1024"),
        pytest.param(pkcs12_pbe_key(2**31 - 1), id="pkcs12-pbe-2^31-1"),
    ],
)
def test_a_key_asking_for_an_absurd_derivation_cost_is_refused_before_decrypting(
    alice_client: Any, company_a: Company, upload: str, key: bytes
) -> None:
    certificate, _key = issue_certificate(company_a.nip)
    response = _post(alice_client, upload, certificate, key)
    assert response.status_code == 200
    assert COSTLY in unescape(response.content.decode())
    assert _nothing_stored(company_a)


@settings(deadline=None, max_examples=40)
@given(iterations=st.integers(min_value=keyfile.PBKDF2_MAX_ITERATIONS + 1, max_value=2**64))
def test_every_iteration_count_above_the_bound_is_refused(iterations: int) -> None:
    with pytest.raises(keyfile.KeyFileRefused) as refused:
        keyfile.encryption_check(data=pbkdf2_key(iterations))
    assert refused.value.reason == "kdf_too_costly"


@pytest.mark.parametrize(
    ("key_format", "password"),
    [
        (serialization.PrivateFormat.PKCS8, b"haslo"),
        (serialization.PrivateFormat.TraditionalOpenSSL, b"haslo"),
        (serialization.PrivateFormat.PKCS8, None),
    ],
)
def test_keys_real_tools_write_pass_the_check_and_load(
    key_format: serialization.PrivateFormat, password: bytes | None
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    pem = key.private_bytes(serialization.Encoding.PEM, key_format, encryption)
    keyfile.encryption_check(data=pem)
    outcome, loaded = keyfile.private_key_load(data=pem, password=password)
    assert outcome == "ok"
    assert isinstance(loaded, ec.EllipticCurvePrivateKey)
    assert loaded.private_numbers() == key.private_numbers()


def test_a_slow_key_within_the_bound_is_stopped_by_the_time_limit(
    alice_client: Any, company_a: Company, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The second line of defence: decryption runs in a child process that is killed at the time limit.
    monkeypatch.setattr(keyfile, "PBKDF2_MAX_ITERATIONS", 2**40)
    monkeypatch.setattr(keyfile, "LOAD_SECONDS", 0.5)
    monkeypatch.setattr(keyfile.private_key_load, "__kwdefaults__", {"seconds": 0.5})
    certificate, _key = issue_certificate(company_a.nip)
    response = _post(alice_client, "offline", certificate, pbkdf2_key(2**31 - 1))
    assert response.status_code == 200
    assert "took too long, so it was stopped" in unescape(response.content.decode())
    assert _nothing_stored(company_a)


# --- 2. certificates cryptography cannot read ----------------------------------------------------------


def _csr() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
        .sign(key, hashes.SHA256())
    )
    return request.public_bytes(serialization.Encoding.PEM)


@pytest.mark.parametrize("upload", UPLOADS)
@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda nip: _self_signed(nip, duplicate_extension=True)[0], id="duplicated-extension"),
        pytest.param(lambda nip: b"\x00\xff garbage " * 40, id="garbage"),
        pytest.param(
            lambda nip: b"-----BEGIN CERTIFICATE-----\n!!!not*base64!!!\n-----END CERTIFICATE-----\n",
            id="bad-base64",
        ),
        pytest.param(lambda nip: _csr(), id="csr"),
        pytest.param(lambda nip: b"", id="empty"),
    ],
)
def test_a_certificate_that_cannot_be_read_fully_is_a_form_error(
    alice_client: Any, company_a: Company, upload: str, make: Any
) -> None:
    _certificate, key = _self_signed(company_a.nip)
    certificate = make(company_a.nip)
    response = _post(alice_client, upload, certificate, key)
    assert response.status_code == 200
    page = unescape(response.content.decode())
    assert "cannot be read" in page or "The submitted file is empty" in page
    assert _nothing_stored(company_a)


def test_the_duplicated_extension_is_really_there(company_a: Company) -> None:
    certificate = x509.load_pem_x509_certificate(_self_signed(company_a.nip, duplicate_extension=True)[0])
    with pytest.raises(x509.DuplicateExtension):
        certificate.extensions  # noqa: B018


def test_a_chain_is_read_as_its_first_certificate(alice_client: Any, company_a: Company) -> None:
    first, key = issue_certificate(company_a.nip)
    second, _key = issue_certificate(company_a.nip)
    response = _post(alice_client, "offline", first + second, key)
    assert response.status_code == 302
    stored = OfflineCertificate.objects.get(company=company_a)
    assert stored.serial == certificate_serial_hex(x509.load_pem_x509_certificate(first))


@pytest.mark.parametrize("upload", UPLOADS)
@pytest.mark.parametrize(
    "key",
    [
        pytest.param(
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nA\n-----END ENCRYPTED PRIVATE KEY-----\n", id="bad-b64"
        ),
        pytest.param(pbkdf2_key(2048)[:-40], id="truncated"),
        pytest.param(b"\x30\x82\xff\xff" + b"\x00" * 64, id="der-garbage"),
        pytest.param(b"\x00\xff garbage " * 40, id="garbage"),
    ],
)
def test_a_key_that_cannot_be_read_is_a_form_error(
    alice_client: Any, company_a: Company, upload: str, key: bytes
) -> None:
    certificate, _key = issue_certificate(company_a.nip)
    response = _post(alice_client, upload, certificate, key)
    assert response.status_code == 200
    assert "The private key file cannot be read" in unescape(response.content.decode()) or (
        "The private key password is wrong" in unescape(response.content.decode())
    )
    assert _nothing_stored(company_a)


# --- 3. a certificate without the company's NIP --------------------------------------------------------


def test_a_certificate_without_a_nip_gets_a_message_about_the_certificate(
    alice_client: Any, company_a: Company
) -> None:
    certificate, key = _self_signed(None)
    page = unescape(_post(alice_client, "connect", certificate, key).content.decode())
    assert "This certificate does not name any NIP" in page
    assert "This token was generated" not in page
    assert "NIP ?" not in page
    assert _nothing_stored(company_a)


def test_a_certificate_for_another_nip_says_certificate_not_token(
    alice_client: Any, company_a: Company, company_b: Company
) -> None:
    certificate, key = _self_signed(company_b.nip)
    page = unescape(_post(alice_client, "connect", certificate, key).content.decode())
    assert f"The certificate was issued for NIP {company_b.nip}, not for this company." in page
    assert "This token was generated" not in page
    assert _nothing_stored(company_a)

"""Reading a KSeF certificate and its private key: the one loader for the certificate that logs in
(``connect``) and the Offline certificate that signs KOD II (``offline``), for uploaded files and for the
stored pair. Every refusal is a ``ConnectError`` with words an owner understands; a private key never
appears in a repr, a log line or an error report."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Literal

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from ksef_integration.connect import keyfile
from ksef_integration.errors import ConnectError
from ksef_integration.ksef.qr import certificate_serial_hex

MAX_FILE_BYTES = 64 * 1024  # certificates and keys are a few kilobytes; anything bigger is not one
Purpose = Literal["login", "offline"]

_NIP_IN_SUBJECT = re.compile(r"(?:TINPL|NIP|VATPL)\D*?(\d{10})")


@dataclass(frozen=True)
class CertificateCredential:
    certificate_pem: str
    private_key_pkcs8: bytes = field(repr=False)  # the private key: never in a repr
    serial: str
    valid_from: dt.datetime
    valid_to: dt.datetime
    nip: str | None

    def __repr__(self) -> str:
        return f"CertificateCredential(serial={self.serial!r}, nip={self.nip!r})"


def certificate_read(data: bytes) -> x509.Certificate:
    """The uploaded certificate (PEM or DER), read in full: ``cryptography`` parses extensions, names and the
    public key lazily, so a certificate it cannot parse completely (a duplicated extension, an unknown key
    type) would otherwise fail later, outside any error handling."""
    certificate = None
    for loader in (x509.load_pem_x509_certificate, x509.load_der_x509_certificate):
        try:
            certificate = loader(data)
        except ValueError:
            continue
        break
    try:
        if certificate is None:
            raise ValueError("neither PEM nor DER")
        certificate.extensions  # noqa: B018 (parsed here, on purpose: see the docstring)
        certificate.subject.rfc4514_string()
        certificate.issuer.rfc4514_string()
        certificate.public_key()
        certificate.not_valid_before_utc  # noqa: B018
        certificate.not_valid_after_utc  # noqa: B018
        subject_nip(certificate)
    except (ValueError, TypeError, UnicodeError, UnsupportedAlgorithm, x509.DuplicateExtension) as exc:
        raise ConnectError(
            "certificate_unreadable",
            _("The certificate file cannot be read. Choose the .crt file downloaded from KSeF."),
        ) from exc
    return certificate


@sensitive_variables()
def private_key_read(data: bytes, password: str | None) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    """The uploaded private key; its key-derivation cost is checked before anything is decrypted, and the
    decryption runs in a child process with a time limit (``ksef_integration.connect.keyfile``)."""
    try:
        outcome, key = keyfile.private_key_load(data=data, password=password.encode() if password else None)
    except keyfile.KeyFileRefused as exc:
        if exc.reason == "kdf_too_costly":
            raise ConnectError(
                "key_too_costly",
                _(
                    "The private key is protected in an unusual way (its password protection would take far "
                    "too long to open). Export the key again with standard settings or use the .key file "
                    "downloaded from KSeF."
                ),
            ) from None
        raise ConnectError(
            "key_unreadable",
            _("The private key file cannot be read. Choose the .key file downloaded from KSeF."),
        ) from None
    if outcome == "ok" and key is not None:
        return key
    if outcome == "password_needed":
        raise ConnectError("key_password_needed", _("The private key is protected by a password: enter it."))
    if outcome == "password_wrong":
        raise ConnectError("key_password_wrong", _("The private key password is wrong."))
    if outcome == "unsupported":
        raise ConnectError(
            "key_unsupported", _("KSeF certificates use RSA or EC keys; this key is of another kind.")
        )
    if outcome == "too_slow":
        raise ConnectError(
            "key_too_costly",
            _(
                "Reading the private key took too long, so it was stopped. Export the key again with "
                "standard settings or use the .key file downloaded from KSeF."
            ),
        )
    raise ConnectError(
        "key_unreadable",
        _("The private key file cannot be read. Choose the .key file downloaded from KSeF."),
    )


def subject_nip(certificate: x509.Certificate) -> str | None:
    """The NIP the certificate was issued for (its subject's serialNumber or organizationIdentifier, as in
    ``TINPL-5265877635``); None for a certificate of a person without one."""
    for oid in (NameOID.SERIAL_NUMBER, NameOID.ORGANIZATION_IDENTIFIER):
        for attribute in certificate.subject.get_attributes_for_oid(oid):
            value = attribute.value if isinstance(attribute.value, str) else attribute.value.decode()
            match = _NIP_IN_SUBJECT.search(value)
            if match:
                return match.group(1)
    return None


def _credential(
    certificate: x509.Certificate, private_key_pkcs8: bytes, certificate_pem: str | None = None
) -> CertificateCredential:
    return CertificateCredential(
        certificate_pem=certificate_pem or certificate.public_bytes(serialization.Encoding.PEM).decode(),
        private_key_pkcs8=private_key_pkcs8,
        serial=certificate_serial_hex(certificate),  # 16 digits at least, as KSeF prints it
        valid_from=certificate.not_valid_before_utc,
        valid_to=certificate.not_valid_after_utc,
        nip=subject_nip(certificate),
    )


def _fit_for(certificate: x509.Certificate, purpose: Purpose) -> None:
    """Refuse a certificate of the wrong KSeF type. A login needs one that signs logins (digitalSignature);
    KOD II needs an Offline certificate, which signs content (nonRepudiation) but not logins."""
    try:
        usage: x509.KeyUsage | None = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if purpose == "login":
        if usage is not None and not usage.digital_signature:
            raise ConnectError(
                "certificate_offline",
                _(
                    "This is an Offline certificate: it only signs QR codes. "
                    "To log in, use a certificate of the Authentication type."
                ),
            )
    elif usage is None or not usage.content_commitment or usage.digital_signature:
        raise ConnectError(
            "not_offline",
            _(
                "This is not a certificate of the Offline type. In the KSeF Taxpayer Application choose "
                "Certyfikaty → a new certificate of the Offline type."
            ),
        )


@sensitive_variables()
def certificate_load(
    *, certificate_bytes: bytes, private_key_bytes: bytes, password: str | None, purpose: Purpose = "login"
) -> CertificateCredential:
    """Read an uploaded certificate and its key; check their size, that they belong together, that the
    certificate is valid now and of the KSeF type ``purpose`` needs (``_fit_for``)."""
    if len(certificate_bytes) > MAX_FILE_BYTES or len(private_key_bytes) > MAX_FILE_BYTES:
        raise ConnectError("too_large", _("The file is too large for a KSeF certificate or key."))
    certificate = certificate_read(certificate_bytes)
    key = private_key_read(private_key_bytes, password)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if certificate.public_key().public_bytes(
        serialization.Encoding.DER, spki
    ) != key.public_key().public_bytes(serialization.Encoding.DER, spki):
        raise ConnectError("key_mismatch", _("The private key does not belong to this certificate."))
    now = timezone.now()
    if not certificate.not_valid_before_utc <= now < certificate.not_valid_after_utc:
        raise ConnectError(
            "certificate_expired",
            _("The certificate is not valid now (valid from %(start)s to %(end)s).")
            % {
                "start": f"{certificate.not_valid_before_utc:%d.%m.%Y}",
                "end": f"{certificate.not_valid_after_utc:%d.%m.%Y}",
            },
        )
    _fit_for(certificate, purpose)
    return _credential(
        certificate,
        key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )


def certificate_from_storage(*, certificate_pem: str, private_key_pkcs8: bytes) -> CertificateCredential:
    """The stored certificate and key (PKCS#8, decrypted by the caller) as a credential, as saved."""
    return _credential(
        x509.load_pem_x509_certificate(certificate_pem.encode()), private_key_pkcs8, certificate_pem
    )


@sensitive_variables()
def stored_certificate(
    *, certificate_pem: str, private_key_pkcs8: bytes
) -> tuple[x509.Certificate, keyfile.PrivateKey]:
    """A stored certificate and its key (PKCS#8, decrypted by the caller), ready to sign a login or KOD II."""
    key = serialization.load_der_private_key(private_key_pkcs8, password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ConnectError(
            "key_unsupported", _("KSeF certificates use RSA or EC keys; this key is of another kind.")
        )
    return x509.load_pem_x509_certificate(certificate_pem.encode()), key

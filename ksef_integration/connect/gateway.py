"""The portal's side of a KSeF conversation: builds the client for the configured environment, runs a
login, and turns the client's errors into ``ConnectError`` with words an owner understands."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import requests
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from ksef_integration.connect import keyfile
from ksef_integration.errors import ConnectError
from ksef_integration.ksef.auth import AuthTokens, PollPolicy
from ksef_integration.ksef.client import KsefClient
from ksef_integration.ksef.environments import PUBLIC, Environment, environment_get
from ksef_integration.ksef.errors import (
    KsefAuthError,
    KsefError,
    KsefRateLimited,
    KsefRejected,
    KsefTokenFormatError,
    KsefTransientError,
)
from ksef_integration.ksef.identifiers import ContextIdentifier, KsefToken

# Failures that mean the stored credential itself is no good (the owner must act), as opposed to
# KSeF being down or slow (we just try again later).
CREDENTIAL_PROBLEMS = {
    "invalid_token", "token_revoked", "token_inactive", "no_permissions", "blocked", "certificate_invalid",
    "auth_failed", "certificate_expired",
}  # fmt: skip

_NIP_IN_SUBJECT = re.compile(r"(?:TINPL|NIP|VATPL)\D*?(\d{10})")

# A certificate whose subject NIP is the context's NIP acts as the Owner, who holds every permission except
# VatUeManage (ksef-api.md §16); KSeF has no cheap call to list them for a certificate login.
OWNER_PERMISSIONS = [
    "CredentialsManage", "CredentialsRead", "Introspection", "InvoiceRead", "InvoiceWrite", "SubunitManage",
]  # fmt: skip
# Connecting is interactive: poll briefly and give up with a clear message rather than keep a page waiting.
CONNECT_POLL = PollPolicy(initial=0.2, factor=1.5, maximum=2.0, timeout=25.0)
CONNECT_TIMEOUT = (5.0, 15.0)


@dataclass(frozen=True)
class Login:
    """What a KSeF login gives the portal. The tokens are secrets: never in a repr (a traceback's locals,
    a log line), only ever written encrypted."""

    permissions: list[str]
    tokens: AuthTokens  # ``Secret``s from the client to the cipher (connect.session.tokens_columns)


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
    for oid in (NameOID.SERIAL_NUMBER, NameOID.ORGANIZATION_IDENTIFIER):
        for attribute in certificate.subject.get_attributes_for_oid(oid):
            value = attribute.value if isinstance(attribute.value, str) else attribute.value.decode()
            match = _NIP_IN_SUBJECT.search(value)
            if match:
                return match.group(1)
    return None


@sensitive_variables()
def certificate_load(
    *, certificate_bytes: bytes, private_key_bytes: bytes, password: str | None
) -> CertificateCredential:
    """Read an uploaded certificate and key, check they belong together, are valid now and fit for login."""
    certificate = certificate_read(certificate_bytes)
    key = private_key_read(private_key_bytes, password)
    public_numbers = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key_numbers = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if public_numbers != key_numbers:
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
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not usage.digital_signature:
        raise ConnectError(
            "certificate_offline",
            _(
                "This is an Offline certificate: it only signs QR codes. "
                "To log in, use a certificate of the Authentication type."
            ),
        )
    return CertificateCredential(
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode(),
        private_key_pkcs8=key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        serial=f"{certificate.serial_number:X}",
        valid_from=certificate.not_valid_before_utc,
        valid_to=certificate.not_valid_after_utc,
        nip=subject_nip(certificate),
    )


def certificate_from_storage(*, certificate_pem: str, private_key_pkcs8: bytes) -> CertificateCredential:
    certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
    return CertificateCredential(
        certificate_pem=certificate_pem,
        private_key_pkcs8=private_key_pkcs8,
        serial=f"{certificate.serial_number:X}",
        valid_from=certificate.not_valid_before_utc,
        valid_to=certificate.not_valid_after_utc,
        nip=subject_nip(certificate),
    )


# --- talking to KSeF ---------------------------------------------------------------------------------


def environment() -> Environment:
    """The configured KSeF environment; ``KSEF_API_URL`` overrides the API base of any of them."""
    name = settings.KSEF_ENVIRONMENT
    if name == "simulator":
        return environment_get(
            name=name, simulator_url=settings.KSEF_API_URL or settings.KSEF_SIMULATOR_API_URL
        )
    base = PUBLIC[name]
    return (
        Environment(name=name, api_url=settings.KSEF_API_URL, qr_host=base.qr_host)
        if settings.KSEF_API_URL
        else base
    )


def client(*, tokens: AuthTokens | None = None) -> KsefClient:
    return KsefClient(environment=environment(), tokens=tokens, poll=CONNECT_POLL, timeout=CONNECT_TIMEOUT)


def _in_language(message_pl: str, message_en: str) -> str:
    return message_en if (translation.get_language() or "pl").startswith("en") else message_pl


def error_text(exc: Exception) -> str:
    """A KSeF failure as the invoice's timeline shows it to an owner (in the active language, Polish in the
    worker): the client's own messages are English and technical (``KSeF server error (HTTP 503)``)."""
    if isinstance(exc, KsefRateLimited):
        return _("KSeF limited the number of requests; the next attempt in %(seconds)s s.") % {
            "seconds": exc.retry_after
        }
    if isinstance(exc, KsefRejected):
        return _("KSeF answered with error %(code)s: %(description)s") % {
            "code": exc.code,
            "description": exc.description or "—",
        }
    if isinstance(exc, KsefTransientError):
        if exc.status == 503:
            return _("KSeF is temporarily unavailable (HTTP 503); we will try again.")
        if exc.status:
            return _("KSeF server error (HTTP %(status)s); we will try again.") % {"status": exc.status}
        if isinstance(exc.__cause__, requests.Timeout):
            return _("KSeF did not answer in time; we will try again.")
        if exc.__cause__ is not None:
            return _("Cannot connect to KSeF; we will try again.")
        return _("KSeF gave an answer we could not use; we will try again.")
    return _("Communication with KSeF failed; we will try again.")


def translate_error(exc: KsefError) -> ConnectError:
    """A client error as an owner should read it; never with a secret (the client keeps them out)."""
    if isinstance(exc, KsefTokenFormatError):
        return ConnectError("malformed", _in_language(exc.message_pl, exc.message_en))
    if isinstance(exc, KsefAuthError):
        return ConnectError(exc.reason or "auth_failed", _in_language(exc.message_pl, exc.message_en))
    if isinstance(exc, KsefRateLimited):
        return ConnectError(
            "rate_limited",
            _("KSeF is limiting the number of requests right now. Try again in %(seconds)s seconds.")
            % {"seconds": exc.retry_after},
        )
    if isinstance(exc, KsefTransientError):
        return ConnectError(
            "unavailable",
            _(
                "KSeF is not answering right now (it may be down or overloaded). Nothing was saved. "
                "Try again in a few minutes."
            ),
        )
    if isinstance(exc, KsefRejected):
        return ConnectError(
            "rejected", _("KSeF refused the request (code %(code)s). Nothing was saved.") % {"code": exc.code}
        )
    return ConnectError("ksef_error", _("Connecting to KSeF failed. Nothing was saved. Try again later."))


@sensitive_variables()
def _login(tokens: AuthTokens, permissions: list[str]) -> Login:
    return Login(permissions=sorted(permissions), tokens=tokens)


@sensitive_variables()
def token_parse(raw: str) -> KsefToken:
    try:
        return KsefToken.parse(raw)
    except KsefTokenFormatError as exc:
        raise translate_error(exc) from None


@sensitive_variables()
def token_login(*, token: KsefToken, nip: str) -> Login:
    """Log in with a KSeF token in the company's context and read the permissions the token carries."""
    ksef = client()
    try:
        tokens = ksef.login_with_token(token=token, context=ContextIdentifier.nip(nip))
        status = ksef.token_get(reference_number=token.reference_number)
    except KsefError as exc:
        raise translate_error(exc) from None
    return _login(tokens, list(status.permissions))


@sensitive_variables()
def stored_certificate(
    *, certificate_pem: str, private_key_pkcs8: bytes
) -> tuple[x509.Certificate, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey]:
    """The stored login certificate and its key, ready for ``KsefClient.login_with_certificate``."""
    key = serialization.load_der_private_key(private_key_pkcs8, password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ConnectError(
            "key_unsupported", _("KSeF certificates use RSA or EC keys; this key is of another kind.")
        )
    return x509.load_pem_x509_certificate(certificate_pem.encode()), key


@sensitive_variables()
def certificate_login(*, credential: CertificateCredential, nip: str) -> Login:
    certificate, key = stored_certificate(
        certificate_pem=credential.certificate_pem, private_key_pkcs8=credential.private_key_pkcs8
    )
    try:
        tokens = client().login_with_certificate(
            certificate=certificate, private_key=key, context=ContextIdentifier.nip(nip)
        )
    except KsefError as exc:
        raise translate_error(exc) from None
    permissions = OWNER_PERMISSIONS if credential.nip == nip else []
    return _login(tokens, permissions)


@sensitive_variables()
def session_end(*, tokens: AuthTokens) -> None:
    """End the KSeF authentication (its refresh token stops working)."""
    try:
        client(tokens=tokens).logout()
    except KsefError as exc:
        raise translate_error(exc) from None

"""Services of the simulator's core: KSeF tokens and the Certyfikaty page's KSeF certificates (issued
through ``services_certificates``). Who holds which permissions is ``services_permissions``.

Plain keyword-only functions: the API views and the simulator's web pages both call them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.db import transaction

from ksef_simulator import ids, services_certificates
from ksef_simulator.conf import get_config
from ksef_simulator.models import IssuedCertificate, KsefToken
from ksef_simulator.responses import ApiError, now_utc

TOKEN_CONTEXT_TYPES = {"Nip": "nip", "InternalId": "internalId"}


class CoreError(Exception):
    """A service refused: ``code`` is the KSeF exception code to report."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


# --- KSeF tokens ---------------------------------------------------------------------------------


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_effective_status(token: KsefToken, *, now: dt.datetime | None = None) -> str:
    """Pending turns Active, and Revoking turns Revoked, once the activation delay has passed."""
    now = now or now_utc()
    if token.status == KsefToken.Status.PENDING and now >= token.active_from:
        return KsefToken.Status.ACTIVE
    revoking = token.status == KsefToken.Status.REVOKING and token.revoked_at is not None
    if revoking and now >= token.revoked_at + get_config().token_activation_delay:  # type: ignore[operator]
        return KsefToken.Status.REVOKED
    return str(token.status)


def token_create(
    *,
    context_type: str,
    context_value: str,
    author_type: str,
    author_value: str,
    permissions: Iterable[str],
    description: str,
) -> tuple[KsefToken, str]:
    """Mint a token ``<EC ref>|<nip|internalId>-<value>|<64 hex>``; the string is returned only here."""
    if context_type not in TOKEN_CONTEXT_TYPES:
        raise CoreError(26002, "Nie można wygenerować tokena dla bieżącego typu kontekstu.")
    now = now_utc()
    reference = ids.reference_number("EC", now)
    secret = f"{reference}|{TOKEN_CONTEXT_TYPES[context_type]}-{context_value}|{secrets.token_hex(32)}"
    token = KsefToken.objects.create(
        reference_number=reference,
        secret_hash=_hash(secret),
        context_type=context_type,
        context_value=context_value,
        author_type=author_type,
        author_value=author_value,
        description=description,
        permissions=sorted(set(permissions)),
        created_at=now,
        active_from=now + get_config().token_activation_delay,
    )
    return token, secret


def token_generate(*, nip: str, permissions: Iterable[str], description: str) -> tuple[str, str]:
    """A token for context ``Nip=nip`` authored by its owner: ``(reference number, token string)``."""
    token, secret = token_create(
        context_type="Nip",
        context_value=nip,
        author_type="Nip",
        author_value=nip,
        permissions=permissions,
        description=description,
    )
    return token.reference_number, secret


def token_find(secret: str) -> KsefToken | None:
    """The token a string stands for, compared by hash (None when unknown or forged)."""
    reference = secret.split("|", 1)[0]
    token = KsefToken.objects.filter(reference_number=reference).first()
    if token is None or not secrets.compare_digest(token.secret_hash, _hash(secret)):
        return None
    return token


def token_list(*, nip: str) -> list[KsefToken]:
    """Every token of context ``Nip=nip``, newest first."""
    return list(KsefToken.objects.filter(context_type="Nip", context_value=nip))


def token_revoke(*, nip: str, reference: str) -> KsefToken:
    """Start revoking a token of context ``Nip=nip`` (Revoking, then Revoked); 404-ish CoreError if absent."""
    with transaction.atomic():
        token = (
            KsefToken.objects.select_for_update()
            .filter(context_type="Nip", context_value=nip, reference_number=reference)
            .first()
        )
        if token is None:
            raise CoreError(21405, "Nie znaleziono tokena o podanym numerze referencyjnym.")
        token_mark_revoked(token)
    return token


def token_mark_revoked(token: KsefToken) -> None:
    if token.status in (KsefToken.Status.REVOKING, KsefToken.Status.REVOKED):
        return
    token.status = KsefToken.Status.REVOKING
    token.revoked_at = now_utc()
    token.save(update_fields=["status", "revoked_at"])


# --- KSeF certificates (the Certyfikaty page) -------------------------------------------------------


def certificate_issue(*, nip: str, kind: str, key_type: str, password: str) -> tuple[str, str, str]:
    """Issue a KSeF certificate for a seal of ``nip``: ``(certificate PEM, encrypted key PEM, serial)``.

    What Aplikacja Podatnika does for its user: generate the key, build the CSR from the seal's data
    (``organizationIdentifier=VATPL-<NIP>``, O, CN, C=PL) and enroll it as ``POST /certificates/enrollments``
    does (same checks, limits and issuing), processed at once. The key is encrypted with ``password``.
    """
    if kind not in services_certificates.KINDS or key_type not in ("RSA", "EC"):
        raise CoreError(21405, "Nieprawidłowy typ certyfikatu lub klucza.")
    if not password:
        raise CoreError(21405, "Hasło do klucza prywatnego jest wymagane.")
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if key_type == "RSA"
        else ec.generate_private_key(ec.SECP256R1())
    )
    data = {
        "organizationIdentifier": f"VATPL-{nip}",
        "organizationName": f"Podmiot {nip}",
        "commonName": f"Podmiot {nip} ({kind})",
        "countryName": "PL",
    }
    subject = x509.Name([x509.NameAttribute(services_certificates.oid_of(k), v) for k, v in data.items()])
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    caller = services_certificates.Caller(subject_type="Nip", subject_value=nip, certificate_subject=data)
    try:
        enrollment = services_certificates.enrollment_submit(
            caller=caller,
            name=f"Aplikacja Podatnika {kind}",
            kind=kind,
            csr_der=csr.public_bytes(serialization.Encoding.DER),
        )
        done = services_certificates.enrollment_process_now(enrollment)
    except ApiError as exc:
        raise CoreError(exc.code or exc.status, exc.description) from exc
    if done.outcome_code != 200:
        raise CoreError(25007, "; ".join(done.outcome_details) or "Wniosek odrzucony.")
    row = IssuedCertificate.objects.get(serial_number=done.certificate_serial)
    certificate = x509.load_der_x509_certificate(bytes(row.certificate_der))
    encrypted_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password.encode()),
    ).decode()
    return certificate.public_bytes(serialization.Encoding.PEM).decode(), encrypted_key, row.serial_number

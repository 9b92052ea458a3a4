"""KSeF certificates of the simulator: its "KSeF CA", the one place that issues a certificate, and what the
``/certificates`` operations do (ksef-api.md §4.6; certyfikaty-KSeF.md of the official docs).

A certificate belongs to the authenticated *subject* (a NIP, a PESEL, or the fingerprint of the certificate
it signed in with), never to a login context. An enrollment is checked when it arrives (the 2500x codes) and
processed lazily once ``certificate_enrollment_delay`` has passed, like everything asynchronous here.
Imports no other service module: ``services_core`` (the Certyfikaty page) builds on this one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, SignatureAlgorithmOID
from django.db import transaction
from django.db.models import F, Q, QuerySet

from ksef_simulator import ids, limits
from ksef_simulator.conf import get_config
from ksef_simulator.keys import self_signed_builder
from ksef_simulator.models import (
    CertificateAuthority,
    CertificateEnrollment,
    IssuedCertificate,
    SimPerson,
)
from ksef_simulator.responses import ApiError, bad_request, now_utc, validation_error

CA_VALIDITY = dt.timedelta(days=10 * 365)
CERTIFICATE_VALIDITY = dt.timedelta(days=2 * 365)
ENROLLMENT_RETENTION = dt.timedelta(days=30)  # then 410 (ksef-api.md §13)
KINDS = ("Authentication", "Offline")
WARSAW = ZoneInfo("Europe/Warsaw")
ACTIVE, REVOKED, EXPIRED = "Active", "Revoked", "Expired"

ENROLLMENT_STATUS = {
    100: "Wniosek przyjęty do realizacji",
    200: "Wniosek obsłużony (certyfikat wygenerowany)",
    400: "Wniosek odrzucony",
    500: "Nieznany błąd",
    550: "Operacja została anulowana przez system",
}
KEY_ALREADY_CERTIFIED = "Klucz publiczny został już certyfikowany przez inny podmiot."
CERTIFICATE_LIMIT_REACHED = "Osiągnięto dopuszczalny limit posiadanych certyfikatów."

# The DN attributes /certificates/enrollments/data may return (certyfikaty-KSeF.md §2), by field name.
SUBJECT_FIELDS: tuple[tuple[str, x509.ObjectIdentifier], ...] = (
    ("commonName", NameOID.COMMON_NAME),
    ("countryName", NameOID.COUNTRY_NAME),
    ("givenName", NameOID.GIVEN_NAME),
    ("surname", NameOID.SURNAME),
    ("serialNumber", NameOID.SERIAL_NUMBER),
    ("uniqueIdentifier", NameOID.X500_UNIQUE_IDENTIFIER),
    ("organizationName", NameOID.ORGANIZATION_NAME),
    ("organizationIdentifier", NameOID.ORGANIZATION_IDENTIFIER),
)
_PERSON_FIELDS = frozenset(
    {"commonName", "countryName", "givenName", "surname", "serialNumber", "uniqueIdentifier"}
)
_SEAL_FIELDS = frozenset(
    {"commonName", "countryName", "organizationName", "organizationIdentifier", "uniqueIdentifier"}
)
_OIDS = dict(SUBJECT_FIELDS)


def oid_of(field_name: str) -> x509.ObjectIdentifier:
    """The OID of an enrollment-data field (``commonName`` → 2.5.4.3)."""
    return _OIDS[field_name]


# RSA PKCS#1 v1.5, RSA-PSS and ECDSA with SHA-1/256/384/512 (the spec's list for the CSR's signature).
_ALLOWED_HASHES = (hashes.SHA1, hashes.SHA256, hashes.SHA384, hashes.SHA512)
_RSA_ALGORITHMS = frozenset(
    {
        SignatureAlgorithmOID.RSA_WITH_SHA1,
        SignatureAlgorithmOID.RSA_WITH_SHA256,
        SignatureAlgorithmOID.RSA_WITH_SHA384,
        SignatureAlgorithmOID.RSA_WITH_SHA512,
        SignatureAlgorithmOID.RSASSA_PSS,
    }
)
_EC_ALGORITHMS = frozenset(
    {
        SignatureAlgorithmOID.ECDSA_WITH_SHA1,
        SignatureAlgorithmOID.ECDSA_WITH_SHA256,
        SignatureAlgorithmOID.ECDSA_WITH_SHA384,
        SignatureAlgorithmOID.ECDSA_WITH_SHA512,
    }
)


@dataclass(frozen=True)
class Caller:
    """Who calls a /certificates operation: the authenticated subject, whether it logged in with a KSeF
    token, and the DN of the certificate it signed in with (empty for a token login)."""

    subject_type: str  # Nip | Pesel | Fingerprint
    subject_value: str
    by_token: bool = False
    certificate_subject: Mapping[str, str] = field(default_factory=dict)


# --- the KSeF CA and the one place that issues a certificate -----------------------------------------


def _ca() -> CertificateAuthority:
    with transaction.atomic():
        authority = CertificateAuthority.objects.select_for_update().order_by("pk").first()
        if authority is not None:
            return authority
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        certificate = (
            self_signed_builder(key=key, common_name="KSeF CA (symulator)", validity=CA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        return CertificateAuthority.objects.create(
            private_key_pem=key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode(),
            certificate_der=certificate.public_bytes(serialization.Encoding.DER),
        )


def ca_certificate() -> x509.Certificate:
    """The simulator's "KSeF CA" certificate (created on first use)."""
    return x509.load_der_x509_certificate(bytes(_ca().certificate_der))


def _key_usage(kind: str) -> x509.KeyUsage:
    """Authentication: Digital Signature; Offline: Non-Repudiation only (certyfikaty-KSeF.md)."""
    return x509.KeyUsage(
        digital_signature=kind == "Authentication",
        content_commitment=kind == "Offline",
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _new_serial() -> int:
    """A free serial of 16 upper hex digits whose first byte is small, like KSeF's (``01F20A5D352AE590``)."""
    while True:
        serial = 2**56 + secrets.randbelow(2**63 - 2**56)
        if not IssuedCertificate.objects.filter(serial_number=f"{serial:016X}").exists():
            return serial


def public_key_sha256(public_key: Any) -> str:
    """Hex SHA-256 of the key's SubjectPublicKeyInfo: one key may be certified for one subject only."""
    spki = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).hexdigest()


def certificate_grant(
    *,
    subject: x509.Name,
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
    kind: str,
    subject_type: str,
    subject_value: str,
    name: str,
    requested_at: dt.datetime,
    valid_from: dt.datetime,
    enrollment_reference: str = "",
) -> IssuedCertificate:
    """Sign a KSeF certificate with the KSeF CA and record it: every certificate the simulator issues, from
    an API enrollment or from the Certyfikaty page, comes from here."""
    authority = _ca()
    ca_key = serialization.load_pem_private_key(authority.private_key_pem.encode(), password=None)
    if not isinstance(ca_key, rsa.RSAPrivateKey):
        raise ApiError(500, detail="KSeF CA key is not RSA")
    issuer = x509.load_der_x509_certificate(bytes(authority.certificate_der))
    start = valid_from.replace(microsecond=0)  # X.509 keeps whole seconds; the row must agree
    serial = _new_serial()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(start + CERTIFICATE_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(kind), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if kind == "Authentication":
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    certificate = builder.sign(ca_key, hashes.SHA256())
    common_names = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return IssuedCertificate.objects.create(
        serial_number=f"{serial:016X}",
        subject_type=subject_type,
        subject_value=subject_value,
        kind=kind,
        name=name,
        common_name=str(common_names[0].value) if common_names else "",
        certificate_der=certificate.public_bytes(serialization.Encoding.DER),
        public_key_sha256=public_key_sha256(public_key),
        enrollment_reference=enrollment_reference,
        requested_at=requested_at,
        valid_from=start,
        valid_to=start + CERTIFICATE_VALIDITY,
    )


# --- certificates in use (login, KOD II) --------------------------------------------------------------


def certificate_status(row: IssuedCertificate, *, now: dt.datetime | None = None) -> str:
    """``Active``, ``Revoked`` or ``Expired`` (``Blocked`` never lasts here: revocation is immediate)."""
    if row.revoked_at is not None:
        return REVOKED
    if (now or now_utc()) >= row.valid_to:
        return EXPIRED
    return ACTIVE


def certificate_problem(row: IssuedCertificate, *, now: dt.datetime | None = None) -> str | None:
    """Why a KSeF certificate cannot be used now, in KSeF's words (auth status 460), or None."""
    now = now or now_utc()
    if row.revoked_at is not None:
        return "Certyfikat odwołany"
    if not row.valid_from <= now < row.valid_to:
        return "Nieważny certyfikat"
    return None


def issued_certificate_find(certificate: x509.Certificate) -> IssuedCertificate | None:
    """The simulator's record of a certificate its KSeF CA signed (revoked or not), else None."""
    try:
        certificate.verify_directly_issued_by(ca_certificate())
    except (ValueError, TypeError, InvalidSignature):
        return None
    serial = certificate.serial_number
    # Rows issued before serials had 16 digits keep their unpadded form.
    row = IssuedCertificate.objects.filter(serial_number__in={f"{serial:016X}", f"{serial:X}"}).first()
    if row is None or bytes(row.certificate_der) != certificate.public_bytes(serialization.Encoding.DER):
        return None
    return row


def issued_certificate_by_serial(serial: str) -> IssuedCertificate | None:
    """The certificate with this hex serial (KOD II carries 16 digits; leading zeros are not significant)."""
    wanted = serial.upper().lstrip("0")
    if not wanted:
        return None
    candidates = IssuedCertificate.objects.filter(serial_number__iendswith=wanted[-8:])
    return next((c for c in candidates if c.serial_number.upper().lstrip("0") == wanted), None)


def certificate_mark_used(row: IssuedCertificate) -> None:
    IssuedCertificate.objects.filter(pk=row.pk).update(last_used_at=now_utc())


# --- enrollment data and limits -----------------------------------------------------------------------


def enrollment_data_of(certificate: x509.Certificate) -> dict[str, str]:
    """The DN attributes a CSR must carry for the subject of ``certificate``: a seal's
    (organizationIdentifier, O, CN, C) when it has an organizationIdentifier, else a person's (serialNumber,
    givenName, surname, CN, C)."""
    values: dict[str, str] = {}
    for name, oid in SUBJECT_FIELDS:
        found = certificate.subject.get_attributes_for_oid(oid)
        if found and isinstance(found[0].value, str):
            values[name] = found[0].value
    wanted = _SEAL_FIELDS if "organizationIdentifier" in values else _PERSON_FIELDS
    return {name: value for name, value in values.items() if name in wanted}


def _may_enroll(caller: Caller) -> bool:
    """Only a login by signature (a certificate, qualified or KSeF's) may see enrollment data or enroll."""
    subject = caller.certificate_subject
    return not caller.by_token and bool(subject.get("commonName")) and bool(subject.get("countryName"))


def enrollment_data(*, caller: Caller) -> dict[str, str]:
    """``GET /certificates/enrollments/data``; 25001 after a KSeF-token login."""
    if not _may_enroll(caller):
        raise bad_request(
            25001, "Brak możliwości pobrania danych do CSR dla wykorzystanego sposobu uwierzytelnienia."
        )
    return {
        name: caller.certificate_subject[name]
        for name, _ in SUBJECT_FIELDS
        if name in caller.certificate_subject
    }


def _limit(configured: Mapping[str, Any], group: str, key: str, default: int) -> int:
    value = (configured.get(group) or {}).get(key)
    return int(value) if value is not None else default


def subject_limits(*, subject_type: str, subject_value: str) -> tuple[int, int]:
    """``(max enrollments, max active certificates)``: NIP 300/100, PESEL and fingerprint 12/6, unless
    ``POST /testdata/limits/subject/certificate`` set others."""
    defaults = limits.DEFAULT_SUBJECT_LIMITS.get(subject_type, limits.DEFAULT_SUBJECT_LIMITS["Fingerprint"])
    configured = limits.subject_limits(subject_type=subject_type, subject_value=subject_value)
    return (
        _limit(configured, "enrollment", "maxEnrollments", defaults["enrollment"]["maxEnrollments"]),
        _limit(configured, "certificate", "maxCertificates", defaults["certificate"]["maxCertificates"]),
    )


def _own(model: type[Any], subject_type: str, subject_value: str) -> QuerySet[Any]:
    """Rows of one subject only (limits count these; the linked NIP-PESEL identity does not share them)."""
    return model.objects.filter(subject_type=subject_type, subject_value=subject_value)


def _active(rows: QuerySet[IssuedCertificate], now: dt.datetime) -> QuerySet[IssuedCertificate]:
    return rows.filter(revoked_at__isnull=True, valid_to__gt=now)


def limits_status(*, caller: Caller) -> dict[str, Any]:
    """``GET /certificates/limits``: used and remaining requests and active certificates of the subject."""
    enrollments_settle(subject_type=caller.subject_type, subject_value=caller.subject_value)
    max_enrollments, max_certificates = subject_limits(
        subject_type=caller.subject_type, subject_value=caller.subject_value
    )
    requested = _own(CertificateEnrollment, caller.subject_type, caller.subject_value).count()
    active = _active(_own(IssuedCertificate, caller.subject_type, caller.subject_value), now_utc()).count()
    enrollment_left = max(0, max_enrollments - requested)
    certificate_left = max(0, max_certificates - active)
    return {
        "canRequest": _may_enroll(caller) and enrollment_left > 0 and certificate_left > 0,
        "enrollment": {"limit": max_enrollments, "remaining": enrollment_left},
        "certificate": {"limit": max_certificates, "remaining": certificate_left},
    }


# --- enrollment -------------------------------------------------------------------------------------


def _csr_load(csr_der: bytes) -> x509.CertificateSigningRequest:
    try:
        return x509.load_der_x509_csr(csr_der)
    except ValueError as exc:
        raise _invalid_csr("Nie można odczytać żądania PKCS#10 (DER).") from exc


def _invalid_csr(detail: str) -> ApiError:
    return bad_request(25004, "Niepoprawny format CSR lub niepoprawny podpis CSR.", detail)


def _csr_key(csr: x509.CertificateSigningRequest) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    """RSA of exactly 2048 bits or EC on NIST P-256 (25010 otherwise)."""
    try:
        key = csr.public_key()
    except (ValueError, UnsupportedAlgorithm):
        key = None
    if isinstance(key, rsa.RSAPublicKey) and key.key_size == 2048:
        return key
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    raise bad_request(
        25010, "Nieprawidłowy typ lub długość klucza.", "Dozwolone są klucze RSA 2048 bitów oraz EC P-256."
    )


def _check_algorithm(csr: x509.CertificateSigningRequest, key: Any) -> None:
    """The CSR's signature algorithm fits the key and uses SHA-1/256/384/512 (25011 otherwise)."""
    allowed = _RSA_ALGORITHMS if isinstance(key, rsa.RSAPublicKey) else _EC_ALGORITHMS
    try:
        digest = csr.signature_hash_algorithm
    except UnsupportedAlgorithm:
        digest = None
    if csr.signature_algorithm_oid not in allowed or not isinstance(digest, _ALLOWED_HASHES):
        raise bad_request(
            25011,
            "Nieprawidłowy algorytm podpisu CSR.",
            "Dozwolone: RSA PKCS#1 v1.5, RSA-PSS, ECDSA z SHA-1, SHA-256, SHA-384 lub SHA-512.",
        )


def _signature_valid(csr: x509.CertificateSigningRequest) -> bool:
    try:
        return bool(csr.is_signature_valid)
    except (ValueError, UnsupportedAlgorithm):  # e.g. RSA-PSS parameters OpenSSL will not use
        return False


def _name_pairs(name: x509.Name) -> list[tuple[str, str]]:
    return sorted((attribute.oid.dotted_string, str(attribute.value)) for attribute in name)


def _data_pairs(data: Mapping[str, str]) -> list[tuple[str, str]]:
    return sorted((_OIDS[key].dotted_string, value) for key, value in data.items() if key in _OIDS)


def _moment(value: str) -> dt.datetime:
    """A date-time of a request; without an offset it is Polish time, as KSeF reads such dates."""
    parsed = dt.datetime.fromisoformat(value)
    return parsed.replace(tzinfo=WARSAW) if parsed.tzinfo is None else parsed


def enrollment_submit(
    *, caller: Caller, name: str, kind: str, csr_der: bytes, valid_from: str | None = None
) -> CertificateEnrollment:
    """``POST /certificates/enrollments`` after schema validation: every synchronous 2500x check, in the
    order KSeF reports them, then the request is stored for processing."""
    if not _may_enroll(caller):
        raise bad_request(
            25002,
            "Brak możliwości złożenia wniosku certyfikacyjnego dla wykorzystanego sposobu uwierzytelnienia.",
        )
    if kind not in KINDS:
        raise validation_error(f"certificateType: dozwolone wartości to {', '.join(KINDS)}.")
    start = _moment(valid_from) if valid_from else None
    csr = _csr_load(csr_der)
    key = _csr_key(csr)
    _check_algorithm(csr, key)
    if not _signature_valid(csr):
        raise _invalid_csr("Podpis żądania nie zgadza się z jego kluczem publicznym.")
    if _name_pairs(csr.subject) != _data_pairs(caller.certificate_subject):
        raise bad_request(
            25003,
            "Dane w CSR nie zgadzają się z danymi w użytym wektorze uwierzytelniającym.",
            "Podmiot CSR musi być dokładnie taki, jak zwraca /certificates/enrollments/data.",
        )
    now = now_utc()
    with transaction.atomic():
        # One subject's requests are counted one at a time (the limits below must hold under races).
        list(_own(CertificateEnrollment, caller.subject_type, caller.subject_value).select_for_update())
        max_enrollments, max_certificates = subject_limits(
            subject_type=caller.subject_type, subject_value=caller.subject_value
        )
        if _own(CertificateEnrollment, caller.subject_type, caller.subject_value).count() >= max_enrollments:
            raise bad_request(25006, "Osiągnięto limit możliwych do złożenia wniosków certyfikacyjnych.")
        active = _active(_own(IssuedCertificate, caller.subject_type, caller.subject_value), now).count()
        if active >= max_certificates:
            raise bad_request(25007, "Osiągnięto limit dopuszczalnej liczby posiadanych certyfikatów.")
        return CertificateEnrollment.objects.create(
            reference_number=ids.reference_number("CE", now),
            subject_type=caller.subject_type,
            subject_value=caller.subject_value,
            name=name,
            kind=kind,
            csr_der=csr_der,
            valid_from=start,
            requested_at=now,
        )


def _process(enrollment: CertificateEnrollment, now: dt.datetime) -> None:
    """Decide one enrollment: reject a key another subject holds, or the limit of active certificates
    reached meanwhile; otherwise issue the certificate."""
    csr = x509.load_der_x509_csr(bytes(enrollment.csr_der))
    key = _csr_key(csr)
    who = {"subject_type": enrollment.subject_type, "subject_value": enrollment.subject_value}
    taken = IssuedCertificate.objects.filter(public_key_sha256=public_key_sha256(key)).exclude(**who)
    _, max_certificates = subject_limits(**who)
    if taken.exists():
        enrollment.outcome_code, enrollment.outcome_details = 400, [KEY_ALREADY_CERTIFIED]
    elif _active(_own(IssuedCertificate, **who), now).count() >= max_certificates:
        enrollment.outcome_code, enrollment.outcome_details = 400, [CERTIFICATE_LIMIT_REACHED]
    else:
        row = certificate_grant(
            subject=csr.subject,
            public_key=key,
            kind=enrollment.kind,
            name=enrollment.name,
            requested_at=enrollment.requested_at,
            valid_from=max(enrollment.valid_from or now, now),
            enrollment_reference=enrollment.reference_number,
            **who,
        )
        enrollment.outcome_code, enrollment.certificate_serial = 200, row.serial_number
    enrollment.save(update_fields=["outcome_code", "outcome_details", "certificate_serial"])


def enrollments_settle(*, subject_type: str, subject_value: str) -> None:
    """Process the subject's enrollments whose delay has passed, oldest first, under one lock so that the
    limit of active certificates holds."""
    now = now_utc()
    due = _own(CertificateEnrollment, subject_type, subject_value).filter(
        outcome_code=0, requested_at__lte=now - get_config().certificate_enrollment_delay
    )
    if not due.exists():
        return
    with transaction.atomic():
        for enrollment in due.select_for_update().order_by("requested_at", "id"):
            _process(enrollment, now)


def enrollment_process_now(enrollment: CertificateEnrollment) -> CertificateEnrollment:
    """Process one enrollment without waiting (the Certyfikaty page hands the certificate over at once)."""
    with transaction.atomic():
        locked = CertificateEnrollment.objects.select_for_update().get(pk=enrollment.pk)
        if locked.outcome_code == 0:
            _process(locked, now_utc())
    return locked


def enrollment_status(*, caller: Caller, reference: str) -> tuple[CertificateEnrollment, dict[str, Any]]:
    """``GET /certificates/enrollments/{ref}``: 25005 for an unknown (or another subject's) reference,
    410 after 30 days."""
    enrollments_settle(subject_type=caller.subject_type, subject_value=caller.subject_value)
    enrollment = (
        _own(CertificateEnrollment, caller.subject_type, caller.subject_value)
        .filter(reference_number=reference)
        .first()
    )
    if enrollment is None:
        raise bad_request(25005, "Wniosek certyfikacyjny o podanym numerze referencyjnym nie istnieje.")
    if now_utc() - enrollment.requested_at > ENROLLMENT_RETENTION:
        raise ApiError(410, detail="Operacja wygasła i nie jest już dostępna.")
    code = enrollment.outcome_code or 100
    status: dict[str, Any] = {"code": code, "description": ENROLLMENT_STATUS[code]}
    if enrollment.outcome_details:
        status["details"] = list(enrollment.outcome_details)
    return enrollment, status


# --- the subject's certificates ---------------------------------------------------------------------


def _identities(caller: Caller) -> Q:
    """The caller's own identifier and the one linked to it (NIP-PESEL, ``POST /testdata/person``)."""
    who = Q(subject_type=caller.subject_type, subject_value=caller.subject_value)
    if caller.subject_type == "Nip":
        for pesel in SimPerson.objects.filter(nip=caller.subject_value).values_list("pesel", flat=True):
            who |= Q(subject_type="Pesel", subject_value=pesel)
    elif caller.subject_type == "Pesel":
        for nip in SimPerson.objects.filter(pesel=caller.subject_value).values_list("nip", flat=True):
            who |= Q(subject_type="Nip", subject_value=nip)
    return who


def certificates_retrieve(*, caller: Caller, serials: Iterable[str]) -> list[IssuedCertificate]:
    """``POST /certificates/retrieve``: the caller's certificates among ``serials``, in the order asked."""
    enrollments_settle(subject_type=caller.subject_type, subject_value=caller.subject_value)
    wanted = list(dict.fromkeys(serials))
    rows = {
        r.serial_number: r
        for r in IssuedCertificate.objects.filter(_identities(caller), serial_number__in=wanted)
    }
    return [rows[serial] for serial in wanted if serial in rows]


def certificates_query(
    *, caller: Caller, filters: Mapping[str, Any], page_size: int, page_offset: int
) -> tuple[list[IssuedCertificate], bool]:
    """``POST /certificates/query``: one page (``page_offset`` is a page index) of the caller's certificates
    matching ``filters``, newest request first, and whether another page follows."""
    enrollments_settle(subject_type=caller.subject_type, subject_value=caller.subject_value)
    now = now_utc()
    rows = IssuedCertificate.objects.filter(_identities(caller))
    if filters.get("certificateSerialNumber"):
        rows = rows.filter(serial_number=filters["certificateSerialNumber"])
    if filters.get("name"):
        rows = rows.filter(name__icontains=filters["name"])
    if filters.get("type"):
        rows = rows.filter(kind=filters["type"])
    if filters.get("expiresAfter"):
        rows = rows.filter(valid_to__gt=_moment(filters["expiresAfter"]))
    status = filters.get("status")
    if status == ACTIVE:
        rows = _active(rows, now)
    elif status == REVOKED:
        rows = rows.filter(revoked_at__isnull=False)
    elif status == EXPIRED:
        rows = rows.filter(revoked_at__isnull=True, valid_to__lte=now)
    elif status:  # Blocked: a revocation in progress, which never lasts here
        rows = rows.none()
    ordered = rows.order_by(F("requested_at").desc(nulls_last=True), "-id")
    start = page_offset * page_size
    chunk = list(ordered[start : start + page_size + 1])
    return chunk[:page_size], len(chunk) > page_size


def _caller_certificate(caller: Caller, serial: str) -> IssuedCertificate:
    row = IssuedCertificate.objects.filter(_identities(caller), serial_number=serial).first()
    if row is None:
        raise bad_request(25008, "Certyfikat o podanym numerze seryjnym nie istnieje.")
    return row


def certificate_revoke(*, caller: Caller, serial: str, reason: str | None = None) -> IssuedCertificate:
    """``POST /certificates/{serial}/revoke`` (the view refuses KSeF-token logins first)."""
    with transaction.atomic():
        row = _caller_certificate(caller, serial)
        row = IssuedCertificate.objects.select_for_update().get(pk=row.pk)
        if certificate_status(row) != ACTIVE:
            raise bad_request(
                25009,
                "Nie można odwołać wskazanego certyfikatu, ponieważ jest już odwołany, zablokowany "
                "lub nieważny.",
            )
        row.revoked_at = now_utc()
        row.revocation_reason = reason or "Unspecified"
        row.save(update_fields=["revoked_at", "revocation_reason"])
    return row


def certificate_validity_shorten(*, caller: Caller, serial: str, valid_to: str) -> IssuedCertificate:
    """``PUT /testdata/certificates/{serial}``: move ``validTo`` earlier (never later), to test expiry."""
    new_end = _moment(valid_to)
    with transaction.atomic():
        row = _caller_certificate(caller, serial)
        row = IssuedCertificate.objects.select_for_update().get(pk=row.pk)
        if new_end > row.valid_to:
            raise validation_error("validTo: nowa data ważności nie może być późniejsza niż obecna.")
        row.valid_to = new_end
        row.save(update_fields=["valid_to"])
    return row

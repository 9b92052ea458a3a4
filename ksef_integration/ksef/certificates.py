"""KSeF certificates (ksef-api.md §4.6): limits, enrollment data and the CSR built from it, enrollment and its
asynchronous status, retrieve, query, revoke, TEST's validity shortening, and ``obtain`` (the whole way from
the enrollment data to a certificate with its private key). Enrolling needs a login by signature, not a token.

Private keys are generated here and handed to the caller inside ``CertificateRequest``/``KsefCertificate``,
whose reprs never show them and which refuse to be pickled: store them encrypted.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from ksef_integration.ksef._values import (
    as_dict,
    as_list,
    format_datetime,
    parse_datetime,
    parse_datetime_opt,
    require,
    str_list,
)
from ksef_integration.ksef.auth import PollPolicy
from ksef_integration.ksef.errors import KsefCertificateRefused, KsefError, KsefTransientError
from ksef_integration.ksef.polling import PolledEndpoints
from ksef_integration.ksef.xades import PrivateKey

AUTHENTICATION, OFFLINE = "Authentication", "Offline"
CERTIFICATE_TYPES = (AUTHENTICATION, OFFLINE)
KEY_TYPES = ("EC", "RSA")
STATUSES = ("Active", "Blocked", "Revoked", "Expired")
REVOCATION_REASONS = ("Unspecified", "Superseded", "KeyCompromise")
ENROLLMENT_DONE = 200
ENROLLMENT_TRANSIENT = frozenset({500, 550})
RETRIEVE_BATCH = 10  # certificateSerialNumbers: at most 10 per call
SERIAL_RE = re.compile(r"^[0-9A-F]{16}$")
DEFAULT_POLL = PollPolicy()
NAME_RE = re.compile(r"^[a-zA-Z0-9_\- ąćęłńóśźżĄĆĘŁŃÓŚŹŻ]{5,100}$")

# (attribute, JSON field, OID) in the order the subject is written; KSeF compares values, not order.
_SUBJECT: tuple[tuple[str, str, x509.ObjectIdentifier], ...] = (
    ("common_name", "commonName", NameOID.COMMON_NAME),
    ("given_name", "givenName", NameOID.GIVEN_NAME),
    ("surname", "surname", NameOID.SURNAME),
    ("serial_number", "serialNumber", NameOID.SERIAL_NUMBER),
    ("organization_name", "organizationName", NameOID.ORGANIZATION_NAME),
    ("organization_identifier", "organizationIdentifier", NameOID.ORGANIZATION_IDENTIFIER),
    ("unique_identifier", "uniqueIdentifier", NameOID.X500_UNIQUE_IDENTIFIER),
    ("country_name", "countryName", NameOID.COUNTRY_NAME),
)


@dataclass(frozen=True)
class CertificateLimits:
    """``GET /certificates/limits``: whether the subject may request a certificate now, and what is left."""

    can_request: bool
    enrollment_limit: int
    enrollment_remaining: int
    certificate_limit: int
    certificate_remaining: int


@dataclass(frozen=True)
class EnrollmentData:
    """``GET /certificates/enrollments/data``: the DN (from the signature used to log in) a CSR must carry."""

    common_name: str
    country_name: str
    given_name: str | None = None
    surname: str | None = None
    serial_number: str | None = None
    unique_identifier: str | None = None
    organization_name: str | None = None
    organization_identifier: str | None = None

    @property
    def is_seal(self) -> bool:
        """A company seal (organizationIdentifier ``VATPL-<NIP>``) rather than a person."""
        return bool(self.organization_identifier)

    def subject(self) -> x509.Name:
        """The X.509 name with exactly these attributes (KSeF refuses a CSR with any other, 25003)."""
        return x509.Name(
            [
                x509.NameAttribute(oid, value)
                for attribute, _, oid in _SUBJECT
                if (value := getattr(self, attribute))
            ]
        )


def enrollment_data_parse(data: Any) -> EnrollmentData:
    body = as_dict(data)
    optional = {
        attribute: str(value)
        for attribute, name, _ in _SUBJECT
        if attribute not in ("common_name", "country_name") and (value := body.get(name)) not in (None, "")
    }
    return EnrollmentData(
        common_name=str(require(data, "commonName")),
        country_name=str(require(data, "countryName")),
        **optional,
    )


@dataclass(frozen=True)
class CertificateRequest:
    """A PKCS#10 request (DER) and the private key it was made with (never shown in reprs)."""

    csr_der: bytes
    key_type: str
    private_key: PrivateKey = field(repr=False, compare=False)

    def csr_base64(self) -> str:
        return base64.b64encode(self.csr_der).decode()

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("CertificateRequest holds a private key and cannot be pickled")


def private_key_generate(key_type: str = "EC") -> PrivateKey:
    """A new key as KSeF accepts it: EC on NIST P-256 (recommended) or RSA 2048."""
    if key_type == "EC":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "RSA":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"unknown key type {key_type!r}; use one of {', '.join(KEY_TYPES)}")


def csr_build(
    data: EnrollmentData, *, key_type: str = "EC", private_key: PrivateKey | None = None
) -> CertificateRequest:
    """A CSR for ``data`` signed with SHA-256 (ECDSA for EC, PKCS#1 v1.5 for RSA), with a new key unless
    ``private_key`` is given (its type then decides)."""
    key = private_key or private_key_generate(key_type)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise ValueError("KSeF certificates need EC keys on NIST P-256")
        key_type = "EC"
    elif isinstance(key, rsa.RSAPrivateKey):
        if key.key_size != 2048:
            raise ValueError("KSeF certificates need RSA keys of exactly 2048 bits")
        key_type = "RSA"
    else:
        raise TypeError("KSeF certificates need an RSA or EC private key")
    csr = x509.CertificateSigningRequestBuilder().subject_name(data.subject()).sign(key, hashes.SHA256())
    return CertificateRequest(
        csr_der=csr.public_bytes(serialization.Encoding.DER), key_type=key_type, private_key=key
    )


@dataclass(frozen=True)
class EnrollmentAccepted:
    """``POST /certificates/enrollments`` → 202: the request's reference and when KSeF took it."""

    reference_number: str
    timestamp: datetime


@dataclass(frozen=True)
class EnrollmentStatus:
    """``GET /certificates/enrollments/{ref}``: 100 in progress, 200 issued (``serial_number``), 400 rejected,
    500/550 failed on KSeF's side (retry)."""

    reference_number: str
    request_date: datetime
    code: int
    description: str
    details: tuple[str, ...]
    serial_number: str | None

    @property
    def in_progress(self) -> bool:
        return self.code < ENROLLMENT_DONE

    @property
    def issued(self) -> bool:
        return self.code == ENROLLMENT_DONE and self.serial_number is not None


@dataclass(frozen=True)
class RetrievedCertificate:
    """``POST /certificates/retrieve``: one certificate (public part only)."""

    serial_number: str
    name: str
    certificate_type: str
    certificate: x509.Certificate


@dataclass(frozen=True)
class CertificateInfo:
    """``POST /certificates/query``: one certificate's metadata (``CertificateListItem``)."""

    serial_number: str
    name: str
    certificate_type: str
    common_name: str
    status: str
    subject_type: str
    subject_value: str
    valid_from: datetime
    valid_to: datetime
    request_date: datetime
    last_use_date: datetime | None

    @property
    def is_active(self) -> bool:
        return self.status == "Active"


def certificate_info_parse(data: Any) -> CertificateInfo:
    subject = as_dict(require(data, "subjectIdentifier"))
    return CertificateInfo(
        serial_number=str(require(data, "certificateSerialNumber")),
        name=str(data.get("name") or ""),
        certificate_type=str(require(data, "type")),
        common_name=str(data.get("commonName") or ""),
        status=str(require(data, "status")),
        subject_type=str(require(subject, "type")),
        subject_value=str(require(subject, "value")),
        valid_from=parse_datetime(require(data, "validFrom")),
        valid_to=parse_datetime(require(data, "validTo")),
        request_date=parse_datetime(require(data, "requestDate")),
        last_use_date=parse_datetime_opt(data.get("lastUseDate")),
    )


@dataclass(frozen=True)
class CertificatePage:
    certificates: tuple[CertificateInfo, ...]
    has_more: bool


@dataclass(frozen=True)
class CertificateFilters:
    """``QueryCertificatesRequest``; every filter is optional (``name`` matches a part of the name)."""

    serial_number: str | None = None
    name: str | None = None
    certificate_type: str | None = None
    status: str | None = None
    expires_after: datetime | None = None

    def __post_init__(self) -> None:
        if self.certificate_type is not None and self.certificate_type not in CERTIFICATE_TYPES:
            raise ValueError(f"unknown certificate type {self.certificate_type!r}")
        if self.status is not None and self.status not in STATUSES:
            raise ValueError(f"unknown certificate status {self.status!r}")
        if self.serial_number is not None and not SERIAL_RE.match(self.serial_number):
            raise ValueError("a KSeF certificate serial number is 16 upper-case hex digits")

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "certificateSerialNumber": self.serial_number,
            "name": self.name,
            "type": self.certificate_type,
            "status": self.status,
            "expiresAfter": format_datetime(self.expires_after) if self.expires_after else None,
        }
        return {key: value for key, value in body.items() if value is not None}


@dataclass(frozen=True)
class KsefCertificate:
    """A KSeF certificate with its private key, as ``Certificates.obtain`` returns it."""

    serial_number: str
    name: str
    certificate_type: str
    certificate: x509.Certificate
    private_key: PrivateKey = field(repr=False, compare=False)

    @property
    def valid_from(self) -> datetime:
        return self.certificate.not_valid_before_utc

    @property
    def valid_to(self) -> datetime:
        return self.certificate.not_valid_after_utc

    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    def private_key_pkcs8(self) -> bytes:
        """The key as unencrypted PKCS#8 DER: for the caller to encrypt at rest at once."""
        return self.private_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("KsefCertificate holds a private key and cannot be pickled")


def _serial(value: str) -> str:
    if not SERIAL_RE.match(value):
        raise ValueError("a KSeF certificate serial number is 16 upper-case hex digits")
    return value


def _spki(key: Any) -> bytes:
    return bytes(
        key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def _enrollment_refused(status: EnrollmentStatus) -> None:
    if status.code in ENROLLMENT_TRANSIENT:
        raise KsefTransientError(
            f"KSeF could not process the certificate request ({status.code} {status.description})",
            status=status.code,
        )
    if status.code >= 400:
        raise KsefCertificateRefused(status.code, status.details, description=status.description)
    if not status.in_progress:
        raise KsefTransientError(f"KSeF reported an unexpected enrollment status {status.code}")


class Certificates(PolledEndpoints):
    """The ``/certificates`` endpoints for the logged-in subject (its NIP, PESEL or fingerprint)."""

    default_poll = DEFAULT_POLL

    def limits(self) -> CertificateLimits:
        data = self._http.call("GET", "/certificates/limits", bearer=self._bearer())
        enrollment = as_dict(require(data, "enrollment"))
        certificate = as_dict(require(data, "certificate"))
        return CertificateLimits(
            can_request=bool(require(data, "canRequest")),
            enrollment_limit=int(require(enrollment, "limit")),
            enrollment_remaining=int(require(enrollment, "remaining")),
            certificate_limit=int(require(certificate, "limit")),
            certificate_remaining=int(require(certificate, "remaining")),
        )

    def enrollment_data(self) -> EnrollmentData:
        """The DN for the CSR; ``KsefCertificateRefused`` (25001) after a KSeF-token login."""
        return enrollment_data_parse(
            self._http.call("GET", "/certificates/enrollments/data", bearer=self._bearer())
        )

    def enroll(
        self,
        *,
        name: str,
        certificate_type: str,
        csr: CertificateRequest | bytes,
        valid_from: datetime | None = None,
    ) -> EnrollmentAccepted:
        """``POST /certificates/enrollments``. ``name`` is 5-100 letters, digits, spaces, ``-`` or ``_``."""
        if certificate_type not in CERTIFICATE_TYPES:
            raise ValueError(f"unknown certificate type {certificate_type!r}")
        if not NAME_RE.match(name):
            raise ValueError("a certificate name has 5-100 letters, digits, spaces, '-' or '_'")
        der = csr.csr_der if isinstance(csr, CertificateRequest) else csr
        body: dict[str, Any] = {
            "certificateName": name,
            "certificateType": certificate_type,
            "csr": base64.b64encode(der).decode(),
        }
        if valid_from is not None:
            body["validFrom"] = format_datetime(valid_from)
        data = self._http.call(
            "POST", "/certificates/enrollments", bearer=self._bearer(), json_body=body, expect=(202,)
        )
        return EnrollmentAccepted(
            reference_number=str(require(data, "referenceNumber")),
            timestamp=parse_datetime(require(data, "timestamp")),
        )

    def enrollment_status(self, *, reference_number: str) -> EnrollmentStatus:
        data = self._http.call("GET", f"/certificates/enrollments/{reference_number}", bearer=self._bearer())
        status = as_dict(require(data, "status"))
        return EnrollmentStatus(
            reference_number=reference_number,
            request_date=parse_datetime(require(data, "requestDate")),
            code=int(require(status, "code")),
            description=str(status.get("description") or ""),
            details=tuple(str_list(status.get("details"))),
            serial_number=data.get("certificateSerialNumber") or None,
        )

    def enrollment_wait(self, *, reference_number: str) -> EnrollmentStatus:
        """Poll until the certificate is issued. A rejection raises ``KsefCertificateRefused`` (code 400,
        KSeF's reason in ``details``); 500/550 and a timeout raise ``KsefTransientError``."""
        return self.wait_for(
            lambda: self.enrollment_status(reference_number=reference_number),
            finished=lambda status: status.issued,
            refuse=_enrollment_refused,
            still_working="the certificate request is still being processed; try again later",
        )

    def retrieve(self, *, serial_numbers: Sequence[str]) -> list[RetrievedCertificate]:
        """The certificates with these serials (10 per call); ones KSeF does not return are left out."""
        found: list[RetrievedCertificate] = []
        serials = [_serial(s) for s in serial_numbers]
        for start in range(0, len(serials), RETRIEVE_BATCH):
            body = {"certificateSerialNumbers": serials[start : start + RETRIEVE_BATCH]}
            data = self._http.call("POST", "/certificates/retrieve", bearer=self._bearer(), json_body=body)
            for item in as_list(as_dict(data).get("certificates")):
                try:
                    certificate = x509.load_der_x509_certificate(
                        base64.b64decode(require(item, "certificate"))
                    )
                except ValueError:
                    raise KsefTransientError("KSeF sent a certificate that cannot be read") from None
                found.append(
                    RetrievedCertificate(
                        serial_number=str(require(item, "certificateSerialNumber")),
                        name=str(item.get("certificateName") or ""),
                        certificate_type=str(require(item, "certificateType")),
                        certificate=certificate,
                    )
                )
        return found

    def query_page(
        self, *, filters: CertificateFilters | None = None, page_size: int = 10, page_offset: int = 0
    ) -> CertificatePage:
        """One page of ``POST /certificates/query``, newest request first (``page_offset``: a page index)."""
        data = self._http.call(
            "POST",
            "/certificates/query",
            bearer=self._bearer(),
            params={"pageSize": page_size, "pageOffset": page_offset},
            json_body=(filters or CertificateFilters()).to_json(),
        )
        return CertificatePage(
            certificates=tuple(certificate_info_parse(i) for i in as_list(as_dict(data).get("certificates"))),
            has_more=bool(require(data, "hasMore")),
        )

    def query(
        self, *, filters: CertificateFilters | None = None, page_size: int = 50
    ) -> Iterator[CertificateInfo]:
        """Every matching certificate, page after page."""
        page_offset = 0
        while True:
            page = self.query_page(filters=filters, page_size=page_size, page_offset=page_offset)
            yield from page.certificates
            if not page.has_more or not page.certificates:
                return
            page_offset += 1

    def revoke(self, *, serial_number: str, reason: str | None = None) -> None:
        """``POST /certificates/{serial}/revoke``; ``KsefForbidden`` after a KSeF-token login."""
        if reason is not None and reason not in REVOCATION_REASONS:
            raise ValueError(f"unknown revocation reason {reason!r}")
        body = {"revocationReason": reason} if reason else {}
        self._http.call(
            "POST",
            f"/certificates/{_serial(serial_number)}/revoke",
            bearer=self._bearer(),
            json_body=body,
            expect=(204,),
        )

    def testdata_validity_shorten(self, *, serial_number: str, valid_to: datetime) -> None:
        """``PUT /testdata/certificates/{serial}`` (TEST and the simulator only): end the certificate's
        validity earlier, to test what happens when it expires."""
        self._http.call(
            "PUT",
            f"/testdata/certificates/{_serial(serial_number)}",
            bearer=self._bearer(),
            json_body={"validTo": format_datetime(valid_to)},
            expect=(200, 204),
        )

    def obtain(
        self,
        *,
        name: str,
        certificate_type: str,
        key_type: str = "EC",
        valid_from: datetime | None = None,
    ) -> KsefCertificate:
        """Enrollment data → a new key and CSR → enrollment → wait → retrieve: the certificate and its key.

        Raises ``KsefCertificateRefused`` when KSeF refuses (``reason`` says why: ``auth_method_not_allowed``
        after a token login, ``enrollment_limit``, ``certificate_limit``, ``rejected``…).
        """
        request = csr_build(self.enrollment_data(), key_type=key_type)
        accepted = self.enroll(
            name=name, certificate_type=certificate_type, csr=request, valid_from=valid_from
        )
        status = self.enrollment_wait(reference_number=accepted.reference_number)
        assert status.serial_number is not None  # noqa: S101 (enrollment_wait returns issued statuses only)
        retrieved = self.retrieve(serial_numbers=[status.serial_number])
        if not retrieved:
            raise KsefTransientError("KSeF issued the certificate but did not return it; try again")
        issued = retrieved[0]
        if _spki(issued.certificate.public_key()) != _spki(request.private_key.public_key()):
            raise KsefError("the certificate KSeF returned is not for the key this request was made with")
        return KsefCertificate(
            serial_number=issued.serial_number,
            name=issued.name,
            certificate_type=issued.certificate_type,
            certificate=issued.certificate,
            private_key=request.private_key,
        )

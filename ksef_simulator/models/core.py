"""Keys, simulator configuration, auth operations, KSeF tokens, test data, limits, fault injection."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

__all__ = [
    "AttachmentConsent",
    "AuthChallenge",
    "AuthOperation",
    "BlockedContext",
    "CertificateAuthority",
    "CertificateEnrollment",
    "ContextLimitOverride",
    "FaultRule",
    "IssuedCertificate",
    "KsefToken",
    "PeppolProvider",
    "PermissionOperation",
    "RateLimitHit",
    "SimGrant",
    "SimPerson",
    "SimSubject",
    "SimulatorConfig",
    "SimulatorKey",
]


class SimulatorKey(models.Model):
    """One RSA key with a self-signed certificate per usage (GET /security/public-key-certificates)."""

    class Usage(models.TextChoices):
        KSEF_TOKEN_ENCRYPTION = "KsefTokenEncryption"  # noqa: S105 (a usage name, not a secret)
        SYMMETRIC_KEY_ENCRYPTION = "SymmetricKeyEncryption"
        UPO_SIGNING = "UpoSigning"  # the simulator's seal on UPOs; not published

    usage = models.CharField(max_length=32, choices=Usage.choices)
    private_key_pem = models.TextField()
    certificate_der = models.BinaryField()
    public_key_id = models.CharField(max_length=44, unique=True)
    certificate_id = models.CharField(max_length=44)
    valid_from = models.DateTimeField()
    valid_to = models.DateTimeField()
    withdrawn = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["usage", "-valid_from"]

    def __str__(self) -> str:
        return f"{self.usage} {self.public_key_id}"


class SimulatorConfig(models.Model):
    """The simulator's knobs, one row (pk=1): timings, the "KSeF unavailable" switch, the rate-limit profile.

    Read it through ``ksef_simulator.conf.get_config()``.
    """

    class RateLimitProfile(models.TextChoices):
        DEFAULT = "default"  # TEST's defaults, equal to PRD since 2.5.0
        PRODUCTION = "production"
        CUSTOM = "custom"  # set by POST /testdata/rate-limits
        OFF = "off"  # simulator only: no rate limits at all (benchmarks)

    unavailable = models.BooleanField(default=False)
    auth_delay_ms = models.PositiveIntegerField(default=300)
    token_activation_delay_ms = models.PositiveIntegerField(default=300)
    permission_operation_delay_ms = models.PositiveIntegerField(default=300)
    certificate_enrollment_delay_ms = models.PositiveIntegerField(default=500)
    invoice_processing_delay_ms = models.PositiveIntegerField(default=500)
    permanent_storage_lag_ms = models.PositiveIntegerField(default=1000)
    hwm_lag_ms = models.PositiveIntegerField(default=2000)
    rate_limit_profile = models.CharField(
        max_length=16, choices=RateLimitProfile.choices, default=RateLimitProfile.DEFAULT
    )
    custom_rate_limits = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return "simulator configuration"


class AuthChallenge(models.Model):
    """``POST /auth/challenge``: lives 10 minutes, used by at most one auth operation."""

    challenge = models.CharField(max_length=36, unique=True)
    timestamp = models.DateTimeField()
    timestamp_ms = models.BigIntegerField()
    client_ip = models.CharField(max_length=64)
    used = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.challenge


class AuthOperation(models.Model):
    """One authentication (``AU`` reference): its identity, outcome and the life of its refresh token."""

    reference_number = models.CharField(max_length=36, unique=True)
    started_at = models.DateTimeField()
    client_ip = models.CharField(max_length=64)
    context_type = models.CharField(max_length=16)
    context_value = models.CharField(max_length=64)
    subject_type = models.CharField(max_length=16, blank=True)  # Nip | Pesel | Fingerprint
    subject_value = models.CharField(max_length=64, blank=True)
    method = models.CharField(max_length=32)  # the deprecated AuthenticationMethod enum
    method_category = models.CharField(max_length=32)
    method_code = models.CharField(max_length=64)
    method_display_name = models.CharField(max_length=128)
    # The subject DN of the signing certificate (enrollment-data field names), for /certificates/enrollments.
    certificate_subject = models.JSONField(default=dict, blank=True)
    ksef_token_reference = models.CharField(max_length=36, blank=True)
    outcome_code = models.PositiveIntegerField(default=200)  # shown once the auth delay has passed
    outcome_details = models.JSONField(default=list, blank=True)
    permissions = models.JSONField(default=list, blank=True)
    allowed_ips = models.JSONField(default=dict, blank=True)
    redeemed_at = models.DateTimeField(null=True, blank=True)
    refresh_valid_until = models.DateTimeField(null=True, blank=True)
    last_refresh_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["context_type", "context_value", "-started_at"])]

    def __str__(self) -> str:
        return self.reference_number


class KsefToken(models.Model):
    """A KSeF token (``EC`` reference). Only a SHA-256 of the token string is kept."""

    class Status(models.TextChoices):
        PENDING = "Pending"
        ACTIVE = "Active"
        REVOKING = "Revoking"
        REVOKED = "Revoked"
        FAILED = "Failed"

    reference_number = models.CharField(max_length=36, unique=True)
    secret_hash = models.CharField(max_length=64)
    context_type = models.CharField(max_length=16)
    context_value = models.CharField(max_length=64)
    author_type = models.CharField(max_length=16)
    author_value = models.CharField(max_length=64)
    description = models.CharField(max_length=256)
    permissions = models.JSONField(default=list)
    created_at = models.DateTimeField()
    active_from = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["context_type", "context_value", "-created_at"])]

    def __str__(self) -> str:
        return self.reference_number


class SimPerson(models.Model):
    """``POST /testdata/person``: a person linked NIP↔PESEL (Owner of the NIP context)."""

    nip = models.CharField(max_length=10, unique=True)
    pesel = models.CharField(max_length=11)
    is_bailiff = models.BooleanField(default=False)
    is_deceased = models.BooleanField(default=False)
    description = models.CharField(max_length=256)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.nip


class AttachmentConsent(models.Model):
    """``POST /testdata/attachment``: the NIP may send invoices with attachments (``Zalacznik``), the consent
    given in production in e-Urząd Skarbowy; ``/revoke`` ends it, on ``ends_on`` or at once."""

    nip = models.CharField(max_length=10, unique=True)
    granted_at = models.DateTimeField()
    ends_on = models.DateField(null=True, blank=True)  # the first day without the consent

    def __str__(self) -> str:
        return self.nip


class PeppolProvider(models.Model):
    """A Peppol service provider registered in KSeF (``GET /peppol/query``); the simulator's control API
    registers them (in KSeF a provider registers by its first login with its seal)."""

    provider_id = models.CharField(max_length=9, unique=True)  # PeppolId: P + 2 letters + 6 digits
    name = models.CharField(max_length=256)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.provider_id


class SimSubject(models.Model):
    """``POST /testdata/subject``: an enforcement authority, VAT group or JST (with its subunits)."""

    nip = models.CharField(max_length=10, unique=True)
    subject_type = models.CharField(max_length=32)
    description = models.CharField(max_length=256)
    parent_nip = models.CharField(max_length=10, blank=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.nip


class SimGrant(models.Model):
    """A permission in a NIP context: one row per (who, what) granted through ``/permissions/*/grants`` by
    someone holding CredentialsManage there, or through ``/testdata/permissions`` (ZAW-FA; author System).

    ``Person`` and ``Entity`` grants work in ``context_nip`` itself. An ``Indirect`` grant is made by an
    intermediary (``context_nip`` is the intermediary's NIP) for one client (``target_*`` a NIP) or for all
    of them (``AllPartners``); it works in a client's context only as far as that client let the
    intermediary pass the permission on (an ``Entity`` grant with ``can_delegate``). Owner is never a row.

    The others are made in ``context_nip`` for another context (``target_*``): ``Authorization`` (an
    entity permission such as SelfInvoicing: the authorised NIP or Peppol provider may issue invoices for
    ``context_nip``), ``Subunit`` (CredentialsManage in a subordinate entity's NIP or an InternalId),
    ``EuAdmin`` and ``EuRepresentative`` (in the composite NipVatUe context, for a certificate fingerprint).
    """

    class Kind(models.TextChoices):
        PERSON = "Person"
        ENTITY = "Entity"
        INDIRECT = "Indirect"
        AUTHORIZATION = "Authorization"
        SUBUNIT = "Subunit"
        EU_ADMIN = "EuAdmin"
        EU_REPRESENTATIVE = "EuRepresentative"

    grant_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)  # the API's permissionId
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PERSON)
    context_nip = models.CharField(max_length=10)
    authorized_type = models.CharField(max_length=16)  # Nip | Pesel | Fingerprint
    authorized_value = models.CharField(max_length=64)
    permission = models.CharField(max_length=32)
    description = models.CharField(max_length=256)
    can_delegate = models.BooleanField(default=False)
    # Nip/InternalId/AllPartners (Indirect), Nip/InternalId (Subunit), NipVatUe (EuAdmin, EuRepresentative)
    target_type = models.CharField(max_length=16, blank=True)
    target_value = models.CharField(max_length=32, blank=True)
    author_type = models.CharField(max_length=16, default="System")  # Nip | Pesel | Fingerprint | System
    author_value = models.CharField(max_length=64, blank=True)
    subject_details = models.JSONField(default=dict, blank=True)  # the grant request's subjectDetails
    started_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-started_at", "grant_id"]
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "context_nip", "kind", "authorized_type", "authorized_value", "permission",
                    "target_type", "target_value",
                ],
                name="ksefsim_simgrant_unique_v2",
            )
        ]  # fmt: skip
        indexes = [models.Index(fields=["authorized_type", "authorized_value"])]

    def __str__(self) -> str:
        return f"{self.permission} {self.authorized_type}:{self.authorized_value} @ {self.context_nip}"


class PermissionOperation(models.Model):
    """A grant or revocation (``EG`` reference): decided when it is submitted, reported as 100 for
    ``permission_operation_delay`` and then with its outcome (KSeF's asynchrony, without sleeping)."""

    reference_number = models.CharField(max_length=36, unique=True)
    context_type = models.CharField(max_length=16)
    context_value = models.CharField(max_length=64)
    started_at = models.DateTimeField()
    outcome_code = models.PositiveIntegerField(default=200)
    outcome_details = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return self.reference_number


class BlockedContext(models.Model):
    """``POST /testdata/context/block``: authentication in this context ends with status 480."""

    context_type = models.CharField(max_length=16)
    context_value = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["context_type", "context_value"], name="ksefsim_blocked_unique")
        ]

    def __str__(self) -> str:
        return f"{self.context_type}:{self.context_value}"


class ContextLimitOverride(models.Model):
    """``POST /testdata/limits/context/session`` (kind ``session``) or subject certificate limits."""

    kind = models.CharField(max_length=16)  # session | subject
    context_type = models.CharField(max_length=16)
    context_value = models.CharField(max_length=64)
    values = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "context_type", "context_value"], name="ksefsim_limitoverride_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.context_type}:{self.context_value}"


class RateLimitHit(models.Model):
    """One counted request in a sliding window; rows older than an hour are pruned."""

    key = models.CharField(max_length=200)
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["key", "at"])]

    def __str__(self) -> str:
        return f"{self.key} {self.at}"


class FaultRule(models.Model):
    """An armed fault: the next ``remaining`` calls of endpoints matching ``pattern`` misbehave."""

    class Action(models.TextChoices):
        TOO_MANY = "429"
        ERROR = "500"
        UNAVAILABLE = "503"
        HANG = "hang"
        DROP = "drop"

    pattern = models.CharField(max_length=200)
    action = models.CharField(max_length=8, choices=Action.choices)
    remaining = models.PositiveIntegerField(default=1)
    seconds = models.FloatField(default=0)  # hang time, or Retry-After for 429
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.action} x{self.remaining} for {self.pattern}"


class CertificateAuthority(models.Model):
    """The simulator's "KSeF CA" that signs KSeF certificates (one row, created on first use)."""

    private_key_pem = models.TextField()
    certificate_der = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"KSeF CA #{self.pk}"


class IssuedCertificate(models.Model):
    """A KSeF certificate the simulator issued (Authentication or Offline) to a subject (NIP, PESEL or the
    fingerprint of the certificate it authenticated with). ``valid_to`` may be shortened by
    ``PUT /testdata/certificates/{serial}``; the status (Active, Revoked, Expired) is computed from it."""

    serial_number = models.CharField(max_length=40, unique=True)  # 16 upper hex digits
    subject_type = models.CharField(max_length=16, default="Nip")  # Nip | Pesel | Fingerprint
    subject_value = models.CharField(max_length=64)
    kind = models.CharField(max_length=16)  # Authentication | Offline
    name = models.CharField(max_length=100, blank=True)
    common_name = models.CharField(max_length=256, blank=True)
    certificate_der = models.BinaryField()
    public_key_sha256 = models.CharField(max_length=64, db_index=True, blank=True)
    enrollment_reference = models.CharField(max_length=36, blank=True)
    requested_at = models.DateTimeField(null=True, blank=True)
    valid_from = models.DateTimeField()
    valid_to = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.CharField(max_length=16, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["subject_type", "subject_value", "-requested_at"])]

    def __str__(self) -> str:
        return self.serial_number


class CertificateEnrollment(models.Model):
    """``POST /certificates/enrollments`` (``CE`` reference): a CSR waiting for, or done with, processing.

    Processed lazily once ``certificate_enrollment_delay`` has passed (``outcome_code`` 0 until then)."""

    reference_number = models.CharField(max_length=36, unique=True)
    subject_type = models.CharField(max_length=16)
    subject_value = models.CharField(max_length=64)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16)
    csr_der = models.BinaryField()
    valid_from = models.DateTimeField(null=True, blank=True)
    requested_at = models.DateTimeField()
    outcome_code = models.PositiveIntegerField(default=0)  # 0: not processed yet; then 200 or 400
    outcome_details = models.JSONField(default=list, blank=True)
    certificate_serial = models.CharField(max_length=40, blank=True)

    class Meta:
        indexes = [models.Index(fields=["subject_type", "subject_value", "requested_at"])]

    def __str__(self) -> str:
        return self.reference_number

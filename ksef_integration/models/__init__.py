"""The KSeF integration's state: connections (with their audit trail), and what later modules add
(submissions for sending, cursors for importing). Each concern lives in its own module."""

from ksef_integration.models.connection import (
    MIN_IMPORT_INTERVAL,
    AuditEvent,
    AuthMethod,
    ConnectionStatus,
    Environment,
    KsefConnection,
    TokenConnection,
    token_sunset_passed,
)
from ksef_integration.models.delivery import DeliveryEvent, InvoiceDelivery
from ksef_integration.models.enrollment import CertificateConnection, CertificateEnrollment
from ksef_integration.models.importing import (
    ImportDigestSubscription,
    ImportedDocument,
    ImportFailure,
    ImportRun,
    SubjectType,
    SyncCursor,
)
from ksef_integration.models.office import InvoiceCounts
from ksef_integration.models.offline import (
    KsefAvailability,
    KsefOutage,
    OfflineCertificate,
    OfflineInvoice,
    OutageKind,
)
from ksef_integration.models.permissions import KsefGrant, PermissionChange, PermissionSnapshot
from ksef_integration.models.sending import (
    FINAL_STATUSES,
    KsefOnlineSession,
    Submission,
    SubmissionEvent,
    SubmissionStatus,
)
from ksef_integration.models.sunset import SunsetReminder

__all__ = [
    "FINAL_STATUSES",
    "MIN_IMPORT_INTERVAL",
    "AuditEvent",
    "AuthMethod",
    "CertificateConnection",
    "CertificateEnrollment",
    "ConnectionStatus",
    "DeliveryEvent",
    "Environment",
    "ImportDigestSubscription",
    "ImportFailure",
    "ImportRun",
    "ImportedDocument",
    "InvoiceCounts",
    "InvoiceDelivery",
    "KsefAvailability",
    "KsefConnection",
    "KsefGrant",
    "KsefOnlineSession",
    "KsefOutage",
    "OfflineCertificate",
    "OfflineInvoice",
    "OutageKind",
    "PermissionChange",
    "PermissionSnapshot",
    "SubjectType",
    "Submission",
    "SubmissionEvent",
    "SubmissionStatus",
    "SunsetReminder",
    "SyncCursor",
    "TokenConnection",
    "token_sunset_passed",
]

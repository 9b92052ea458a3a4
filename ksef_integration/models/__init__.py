"""The KSeF integration's state: connections (with their audit trail), and what later modules add
(submissions for sending, cursors for importing). Each concern lives in its own module."""

from ksef_integration.models.connection import (
    MIN_IMPORT_INTERVAL,
    AuditEvent,
    AuthMethod,
    ConnectionStatus,
    Environment,
    KsefConnection,
)

__all__ = [
    "MIN_IMPORT_INTERVAL",
    "AuditEvent",
    "AuthMethod",
    "ConnectionStatus",
    "Environment",
    "KsefConnection",
]

"""The KSeF API 2.0 client. It imports nothing from Django so that it can be lifted out as a library.

Start with ``KsefClient`` (``client.py``); errors are in ``errors.py``, checksums in ``numbers.py``,
QR links in ``qr.py``.
"""

from ksef_integration.ksef.auth import AuthTokens, PollPolicy, TokenStatus
from ksef_integration.ksef.client import KsefClient
from ksef_integration.ksef.environments import DEMO, PROD, TEST, Environment, environment_get, simulator
from ksef_integration.ksef.errors import (
    KsefAuthError,
    KsefCertificateRefused,
    KsefDuplicate,
    KsefError,
    KsefForbidden,
    KsefGone,
    KsefNotFound,
    KsefNotYetAvailable,
    KsefPermissionRefused,
    KsefRateLimited,
    KsefRejected,
    KsefTokenFormatError,
    KsefTransientError,
    KsefUnauthorized,
    KsefUnknownKey,
)
from ksef_integration.ksef.identifiers import ContextIdentifier, KsefToken
from ksef_integration.ksef.secret import Secret

__all__ = [
    "DEMO",
    "PROD",
    "TEST",
    "AuthTokens",
    "ContextIdentifier",
    "Environment",
    "KsefAuthError",
    "KsefCertificateRefused",
    "KsefClient",
    "KsefDuplicate",
    "KsefError",
    "KsefForbidden",
    "KsefGone",
    "KsefNotFound",
    "KsefNotYetAvailable",
    "KsefPermissionRefused",
    "KsefRateLimited",
    "KsefRejected",
    "KsefToken",
    "KsefTokenFormatError",
    "KsefTransientError",
    "KsefUnauthorized",
    "KsefUnknownKey",
    "PollPolicy",
    "Secret",
    "TokenStatus",
    "environment_get",
    "simulator",
]

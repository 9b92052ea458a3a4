"""The client's error tree. Messages carry codes and KSeF's own descriptions, never secrets.

KsefError
├── KsefTransientError          retry later (timeouts, connection errors, 5xx, 500/550, malformed replies)
│   ├── KsefRateLimited         429; ``retry_after`` seconds
│   └── KsefNotYetAvailable     21165: processed but not downloadable yet
├── KsefAuthError               authentication failed or not allowed; ``message_pl``/``message_en`` for people
│   ├── KsefUnauthorized        401 (access token expired or invalid)
│   └── KsefForbidden           403 (``reason_code``, missing permissions)
├── KsefRejected                400 exception codes, invoice/session statuses ≥ 400 (except 440)
│   ├── KsefUnknownKey          21470: the publicKeyId is unknown or withdrawn
│   ├── KsefNotFound            404 and the "not found" exception codes (25005, 25008 among them)
│   ├── KsefCertificateRefused  25001-25011 and a rejected certificate enrollment; ``reason`` for callers
│   └── KsefPermissionRefused   a permission grant or revocation KSeF refused (operation status ≥ 400)
├── KsefDuplicate               invoice status 440: already in KSeF (treat as success)
├── KsefGone                    410: an async status older than its retention
└── KsefTokenFormatError        a pasted KSeF token does not have the KSeF 2.0 shape
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class KsefError(Exception):
    """Base of every error raised by the client."""


class KsefTransientError(KsefError):
    """A failure that may go away by itself; the caller (Celery) decides when to retry."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class KsefRateLimited(KsefTransientError):
    """HTTP 429. Wait ``retry_after`` seconds before calling the same endpoint again."""

    def __init__(self, retry_after: int, *, details: Sequence[str] = ()) -> None:
        super().__init__(f"KSeF rate limit reached; retry after {retry_after} s", status=429)
        self.retry_after = retry_after
        self.details = list(details)


class KsefNotYetAvailable(KsefTransientError):
    """21165: the invoice is processed but not yet in permanent storage."""


@dataclass(frozen=True)
class ApiErrorDetail:
    """One entry of ``exceptionDetailList`` (legacy) or ``errors`` (problem+json)."""

    code: int
    description: str
    details: tuple[str, ...] = ()


class KsefRejected(KsefError):
    """KSeF refused the request or the document. ``code`` is the exception or status code."""

    def __init__(
        self,
        code: int,
        details: Sequence[str] = (),
        *,
        description: str = "",
        errors: Sequence[ApiErrorDetail] = (),
        status: int | None = None,
    ) -> None:
        self.code = code
        self.description = description
        self.details = list(details)
        self.errors = list(errors)
        self.status = status
        text = f"KSeF rejected the request: {code}"
        if description:
            text += f" {description}"
        if self.details:
            text += " (" + "; ".join(self.details)[:500] + ")"
        super().__init__(text)


class KsefUnknownKey(KsefRejected):
    """21470: re-fetch the public keys, re-encrypt and retry once."""


class KsefNotFound(KsefRejected):
    """The reference or KSeF number is unknown to KSeF."""


# (reason, message_pl, message_en) per certificate exception code (the spec's /certificates tables).
_CERTIFICATE_CODES: dict[int, tuple[str, str, str]] = {
    25001: (
        "auth_method_not_allowed",
        "Dane do wniosku o certyfikat KSeF są dostępne tylko po logowaniu podpisem (nie tokenem KSeF).",
        "Certificate enrollment data is only available after signing in with a signature, not a KSeF token.",
    ),
    25002: (
        "auth_method_not_allowed",
        "O certyfikat KSeF można wnioskować tylko po logowaniu podpisem (nie tokenem KSeF).",
        "A KSeF certificate can only be requested after signing in with a signature, not a KSeF token.",
    ),
    25003: (
        "subject_mismatch",
        "Dane we wniosku nie zgadzają się z danymi podpisu użytego do logowania.",
        "The request's subject does not match the signature used to sign in.",
    ),
    25004: (
        "invalid_csr",
        "KSeF nie przyjął wniosku certyfikacyjnego (błędny format lub podpis).",
        "KSeF did not accept the certificate request (bad format or signature).",
    ),
    25006: (
        "enrollment_limit",
        "Osiągnięto limit wniosków o certyfikaty KSeF.",
        "The limit of KSeF certificate requests has been reached.",
    ),
    25007: (
        "certificate_limit",
        "Osiągnięto limit aktywnych certyfikatów KSeF. Unieważnij niepotrzebny certyfikat.",
        "The limit of active KSeF certificates has been reached. Revoke a certificate you no longer use.",
    ),
    25009: (
        "not_revocable",
        "Certyfikatu nie można unieważnić: jest już unieważniony albo nieważny.",
        "The certificate cannot be revoked: it is already revoked or no longer valid.",
    ),
    25010: (
        "invalid_key",
        "KSeF nie przyjmuje tego rodzaju klucza (dozwolone: EC P-256, RSA 2048).",
        "KSeF does not accept this kind of key (allowed: EC P-256, RSA 2048).",
    ),
    25011: (
        "invalid_signature_algorithm",
        "KSeF nie przyjmuje algorytmu podpisu wniosku.",
        "KSeF does not accept the request's signature algorithm.",
    ),
}
CERTIFICATE_CODES = frozenset(_CERTIFICATE_CODES)
_ENROLLMENT_REJECTED = (
    "rejected",
    "KSeF odrzucił wniosek o certyfikat.",
    "KSeF rejected the certificate request.",
)


class KsefCertificateRefused(KsefRejected):
    """KSeF refused a certificate operation (codes 25001-25011) or rejected an enrollment (its status 400).

    ``reason`` is a stable key (``auth_method_not_allowed``, ``certificate_limit``, ``rejected``…);
    ``message_pl``/``message_en`` are for people.
    """

    def __init__(
        self,
        code: int,
        details: Sequence[str] = (),
        *,
        description: str = "",
        errors: Sequence[ApiErrorDetail] = (),
        status: int | None = None,
    ) -> None:
        super().__init__(code, details, description=description, errors=errors, status=status)
        self.reason, self.message_pl, self.message_en = _CERTIFICATE_CODES.get(code, _ENROLLMENT_REJECTED)


# (reason, message_pl, message_en) per permission operation status (PermissionsOperationStatusResponse).
_PERMISSION_STATUSES: dict[int, tuple[str, str, str]] = {
    410: (
        "mismatched_identifiers",
        "KSeF nie nadał uprawnienia: podane identyfikatory są niezgodne lub nie są ze sobą powiązane.",
        "KSeF did not grant the permission: the identifiers do not match or are not related.",
    ),
    420: (
        "not_allowed_for_credentials",
        "KSeF odmówił: użyte poświadczenia nie pozwalają nadawać ani odbierać uprawnień w tej firmie.",
        "KSeF refused: the credentials used may not grant or revoke permissions in this company.",
    ),
    430: (
        "context_role",
        "KSeF odmówił: firma nie ma roli wymaganej dla tego uprawnienia (np. organu egzekucyjnego).",
        "KSeF refused: the company lacks the role this permission needs (e.g. enforcement authority).",
    ),
    440: (
        "relation",
        "KSeF odmówił: klient nie pozwolił przekazywać dalej swoich uprawnień temu biuru.",
        "KSeF refused: the client has not allowed this office to pass its permissions on.",
    ),
    450: (
        "identifier_not_allowed",
        "KSeF odmówił: tej osobie lub firmie nie można nadać tego uprawnienia (np. właścicielowi).",
        "KSeF refused: this person or company cannot be given the permission (e.g. the owner).",
    ),
}
_PERMISSION_FAILED = (
    "failed",
    "KSeF nie wykonał operacji na uprawnieniach.",
    "KSeF did not carry out the permission operation.",
)


class KsefPermissionRefused(KsefRejected):
    """KSeF refused a permission grant or revocation (its operation status: 400-450).

    ``reason`` is a stable key (``relation``, ``context_role``, ``identifier_not_allowed``…);
    ``message_pl``/``message_en`` are for people. (A caller without ``CredentialsManage`` gets
    ``KsefForbidden`` at once instead, with ``reason_code`` ``missing-permissions``.)
    """

    def __init__(
        self,
        code: int,
        details: Sequence[str] = (),
        *,
        description: str = "",
        errors: Sequence[ApiErrorDetail] = (),
        status: int | None = None,
    ) -> None:
        super().__init__(code, details, description=description, errors=errors, status=status)
        self.reason, self.message_pl, self.message_en = _PERMISSION_STATUSES.get(code, _PERMISSION_FAILED)


class KsefDuplicate(KsefError):
    """Invoice status 440: the same invoice (seller NIP, type, number) is already in KSeF."""

    def __init__(self, *, original_ksef_number: str | None, original_session_reference: str | None) -> None:
        super().__init__(f"duplicate invoice; original KSeF number {original_ksef_number or 'unknown'}")
        self.original_ksef_number = original_ksef_number
        self.original_session_reference = original_session_reference


class KsefGone(KsefError):
    """HTTP 410: the asynchronous operation's status has expired (retention, ksef-api.md §13)."""


class KsefTokenFormatError(KsefError, ValueError):
    """The text given as a KSeF token does not look like a KSeF 2.0 token. Never includes the token."""

    def __init__(self, *, message_pl: str, message_en: str) -> None:
        super().__init__(message_en)
        self.message_pl = message_pl
        self.message_en = message_en


# --- authentication -------------------------------------------------------------------------------

# (reason, message_pl, message_en) per 450 detail as KSeF writes it (ksef-api.md §4.3).
_TOKEN_450: dict[str, tuple[str, str, str]] = {
    "nieprawidłowe wyzwanie autoryzacyjne": (
        "invalid_challenge",
        "Wyzwanie autoryzacyjne było nieprawidłowe albo wygasło. Spróbuj połączyć się ponownie.",
        "The authentication challenge was invalid or expired. Please try to connect again.",
    ),
    "nieprawidłowy token": (
        "invalid_token",
        "Token KSeF jest nieprawidłowy. Sprawdź, czy skopiowano go w całości i czy pochodzi "
        "z właściwego środowiska KSeF.",
        "The KSeF token is invalid. Check that it was copied in full and comes from the right "
        "KSeF environment.",
    ),
    "nieprawidłowy czas tokena": (
        "invalid_token_time",
        "KSeF odrzucił znacznik czasu tokena. Spróbuj ponownie; jeśli błąd wraca, sprawdź zegar serwera.",
        "KSeF rejected the token's timestamp. Try again; if it persists, check the server clock.",
    ),
    "token unieważniony": (
        "token_revoked",
        "Token KSeF został unieważniony. Wygeneruj nowy token w Aplikacji Podatnika KSeF.",
        "The KSeF token has been revoked. Generate a new token in the KSeF taxpayer application.",
    ),
    "token nieaktywny": (
        "token_inactive",
        "Token KSeF nie jest aktywny. Odczekaj chwilę, aż zostanie aktywowany, albo wygeneruj nowy token.",
        "The KSeF token is not active. Wait until it is activated or generate a new token.",
    ),
}

_AUTH_STATUS: dict[int, tuple[str, str, str]] = {
    415: (
        "no_permissions",
        "Token lub certyfikat nie ma żadnych uprawnień w KSeF dla tej firmy (NIP).",
        "The token or certificate has no KSeF permissions for this company (NIP).",
    ),
    425: (
        "revoked",
        "Uwierzytelnienie zostało unieważnione. Połącz się z KSeF ponownie.",
        "The authentication was revoked. Please connect to KSeF again.",
    ),
    450: (
        "invalid_token",
        "Uwierzytelnienie nie powiodło się z powodu błędnego tokenu KSeF.",
        "Authentication failed because of an invalid KSeF token.",
    ),
    460: (
        "certificate_error",
        "Certyfikat jest nieważny, odwołany, zawieszony albo niezaufany.",
        "The certificate is invalid, revoked, suspended or not trusted.",
    ),
    470: (
        "deceased_person",
        "KSeF odmówił uwierzytelnienia: dane osoby nie pozwalają na użycie tych metod autoryzacji.",
        "KSeF refused authentication: the person's credentials may not be used.",
    ),
    480: (
        "blocked",
        "Uwierzytelnienie w KSeF zostało zablokowane (incydent bezpieczeństwa). Skontaktuj się z KSeF.",
        "Authentication in KSeF is blocked (security incident). Please contact KSeF.",
    ),
    401: (
        "unauthorized",
        "Sesja KSeF wygasła lub jest nieważna. Połącz się ponownie.",
        "The KSeF session expired or is invalid. Please connect again.",
    ),
    403: (
        "forbidden",
        "Brak uprawnień w KSeF do wykonania tej operacji.",
        "No KSeF permission for this operation.",
    ),
}

_UNKNOWN = (
    "failed",
    "Uwierzytelnienie w KSeF nie powiodło się.",
    "Authentication in KSeF failed.",
)


class KsefAuthError(KsefError):
    """Authentication failed (auth status ≥ 400) or the credentials do not allow the call (401/403).

    ``code`` is the auth status code (or HTTP status), ``reason`` a stable short key (``invalid_token``,
    ``token_revoked``…), ``details`` KSeF's own texts; ``message_pl``/``message_en`` are for end users.
    """

    def __init__(self, code: int, reason: str | None = None, *, details: Sequence[str] = ()) -> None:
        self.code = code
        self.details = list(details)
        known_reason, self.message_pl, self.message_en = _explain(code, self.details)
        self.reason = reason or known_reason
        super().__init__(f"KSeF authentication error {code} ({self.reason}): {self.message_en}")


def _explain(code: int, details: Sequence[str]) -> tuple[str, str, str]:
    if code == 450:
        for detail in details:
            found = _TOKEN_450.get(detail.strip().rstrip(".").casefold())
            if found:
                return found
    return _AUTH_STATUS.get(code, _UNKNOWN)


class KsefUnauthorized(KsefAuthError):
    """HTTP 401: refresh the access token or log in again."""

    def __init__(self, *, details: Sequence[str] = ()) -> None:
        super().__init__(401, details=details)


class KsefForbidden(KsefAuthError):
    """HTTP 403. ``reason_code`` is KSeF's (``missing-permissions``, ``ip-not-allowed``…)."""

    def __init__(
        self,
        *,
        reason_code: str | None,
        details: Sequence[str] = (),
        required_permissions: Sequence[str] = (),
        present_permissions: Sequence[str] = (),
    ) -> None:
        super().__init__(403, reason=reason_code or "forbidden", details=details)
        self.reason_code = reason_code
        self.required_permissions = list(required_permissions)
        self.present_permissions = list(present_permissions)
        if reason_code == "auth-method-not-allowed":
            self.message_pl = "Tej operacji nie można wykonać po logowaniu tokenem KSeF: potrzebny podpis."
            self.message_en = "This operation is not available after a KSeF-token login: sign in instead."
        if required_permissions:
            needed = ", ".join(required_permissions)
            self.message_pl = f"Brak uprawnień w KSeF do tej operacji (wymagane jedno z: {needed})."
            self.message_en = f"No KSeF permission for this operation (needs one of: {needed})."

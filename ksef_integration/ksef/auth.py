"""Authentication (ksef-api.md §4, §5): challenge → KSeF token or XAdES-signed request → poll → redeem
into access + refresh tokens; refresh, revoke, and ``GET /tokens/{ref}`` for the token's permissions."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509

from ksef_integration.ksef._values import as_dict, parse_datetime, parse_datetime_opt, require, str_list
from ksef_integration.ksef.crypto import token_encrypt
from ksef_integration.ksef.errors import KsefAuthError, KsefTransientError
from ksef_integration.ksef.http import KsefHttp, decode_json
from ksef_integration.ksef.identifiers import ContextIdentifier, KsefToken
from ksef_integration.ksef.keys import TOKEN_ENCRYPTION, PublicKeyCertificate, PublicKeyStore
from ksef_integration.ksef.secret import Secret
from ksef_integration.ksef.xades import AllowedIps, PrivateKey, auth_token_request_sign

log = logging.getLogger("ksef")

AUTH_IN_PROGRESS = 100
AUTH_SUCCESS = 200
AUTH_TRANSIENT = frozenset({500, 550})


@dataclass(frozen=True)
class PollPolicy:
    """Backoff for polling asynchronous operations: ``initial`` s, times ``factor``, capped at ``maximum``."""

    initial: float = 0.5
    factor: float = 1.5
    maximum: float = 5.0
    timeout: float = 120.0

    def delays(self) -> Any:
        delay = self.initial
        while True:
            yield delay
            delay = min(delay * self.factor, self.maximum)


@dataclass(frozen=True)
class Challenge:
    challenge: str
    timestamp: datetime
    timestamp_ms: int
    client_ip: str | None


@dataclass(frozen=True)
class AuthInit:
    """A started authentication operation and its (secret) operation token."""

    reference_number: str
    authentication_token: Secret
    valid_until: datetime


@dataclass(frozen=True)
class AuthStatus:
    code: int
    description: str
    details: tuple[str, ...]
    method_code: str | None

    @property
    def in_progress(self) -> bool:
        return self.code < AUTH_SUCCESS


@dataclass(frozen=True)
class AuthTokens:
    """The access and refresh tokens of one authentication (both secrets) with their expiry."""

    access_token: Secret
    access_valid_until: datetime
    refresh_token: Secret
    refresh_valid_until: datetime
    reference_number: str | None = None

    def access_expires_within(self, margin: timedelta, *, now: datetime | None = None) -> bool:
        return (now or datetime.now(tz=UTC)) + margin >= self.access_valid_until

    def refresh_expires_within(self, margin: timedelta, *, now: datetime | None = None) -> bool:
        return (now or datetime.now(tz=UTC)) + margin >= self.refresh_valid_until


@dataclass(frozen=True)
class TokenStatus:
    """``GET /tokens/{ref}``: the KSeF token's status and the permissions it carries."""

    reference_number: str
    status: str
    permissions: tuple[str, ...]
    context: ContextIdentifier | None
    description: str
    date_created: datetime | None
    last_use_date: datetime | None
    status_details: tuple[str, ...]

    @property
    def is_active(self) -> bool:
        return self.status == "Active"

    def has(self, permission: str) -> bool:
        return permission in self.permissions


def _token_info(data: Any) -> tuple[Secret, datetime]:
    return Secret(str(require(data, "token"))), parse_datetime(require(data, "validUntil"))


def _auth_init(data: Any) -> AuthInit:
    token, valid_until = _token_info(require(data, "authenticationToken"))
    return AuthInit(
        reference_number=str(require(data, "referenceNumber")),
        authentication_token=token,
        valid_until=valid_until,
    )


def token_status_parse(data: Any) -> TokenStatus:
    context = as_dict(data.get("contextIdentifier")) if isinstance(data, dict) else {}
    context_id = None
    if context.get("type") and context.get("value"):
        try:
            context_id = ContextIdentifier(type=str(context["type"]), value=str(context["value"]))
        except ValueError:
            context_id = None
    return TokenStatus(
        reference_number=str(require(data, "referenceNumber")),
        status=str(require(data, "status")),
        permissions=tuple(str_list(data.get("requestedPermissions"))),
        context=context_id,
        description=str(data.get("description") or ""),
        date_created=parse_datetime_opt(data.get("dateCreated")),
        last_use_date=parse_datetime_opt(data.get("lastUseDate")),
        status_details=tuple(str_list(data.get("statusDetails"))),
    )


class Authenticator:
    """The auth endpoints. Stateless apart from the key cache; tokens are returned, never stored here."""

    def __init__(
        self,
        *,
        http: KsefHttp,
        keys: PublicKeyStore,
        poll: PollPolicy = PollPolicy(),
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._keys = keys
        self._poll = poll
        self._sleep = sleep
        self._monotonic = monotonic

    # --- the steps ----------------------------------------------------------------------------------

    def challenge(self) -> Challenge:
        data = self._http.call("POST", "/auth/challenge")
        return Challenge(
            challenge=str(require(data, "challenge")),
            timestamp=parse_datetime(require(data, "timestamp")),
            timestamp_ms=int(require(data, "timestampMs")),
            client_ip=data.get("clientIp"),
        )

    def init_with_token(
        self, *, token: KsefToken, challenge: Challenge, context: ContextIdentifier | None = None
    ) -> AuthInit:
        """``POST /auth/ksef-token`` with the token encrypted for the challenge's timestamp."""
        context = context or token.context

        def send(certificate: PublicKeyCertificate) -> AuthInit:
            body = {
                "challenge": challenge.challenge,
                "contextIdentifier": context.to_json(),
                "encryptedToken": token_encrypt(
                    public_key=certificate.public_key(),
                    token=token.secret,
                    timestamp_ms=challenge.timestamp_ms,
                ),
                "publicKeyId": certificate.public_key_id,
            }
            return _auth_init(self._http.call("POST", "/auth/ksef-token", json_body=body, expect=(202, 200)))

        return self._keys.with_key(usage=TOKEN_ENCRYPTION, call=send)

    def init_with_signature(self, *, signed_xml: bytes, verify_certificate_chain: bool = False) -> AuthInit:
        """``POST /auth/xades-signature`` with a signed ``AuthTokenRequest``."""
        response = self._http.call_raw(
            "POST",
            "/auth/xades-signature",
            params={"verifyCertificateChain": "true" if verify_certificate_chain else "false"},
            headers={"Content-Type": "application/xml"},
            expect=(202, 200),
            body=signed_xml,
        )
        return _auth_init(decode_json(response))

    def status(self, *, init: AuthInit) -> AuthStatus:
        data = self._http.call("GET", f"/auth/{init.reference_number}", bearer=init.authentication_token)
        status = as_dict(require(data, "status"))
        return AuthStatus(
            code=int(require(status, "code")),
            description=str(status.get("description") or ""),
            details=tuple(str_list(status.get("details"))),
            method_code=as_dict(data.get("authenticationMethodInfo")).get("code"),
        )

    def wait(self, *, init: AuthInit) -> AuthStatus:
        """Poll until the operation succeeds; failures raise ``KsefAuthError`` (or transient for 500/550)."""
        deadline = self._monotonic() + self._poll.timeout
        for delay in self._poll.delays():
            status = self.status(init=init)
            if status.code == AUTH_SUCCESS:
                return status
            if status.code in AUTH_TRANSIENT:
                raise KsefTransientError(
                    f"KSeF authentication failed temporarily ({status.code})", status=status.code
                )
            if status.code >= 400:
                raise KsefAuthError(status.code, details=status.details)
            if self._monotonic() + delay > deadline:
                raise KsefTransientError("KSeF authentication is still in progress; try again later")
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def redeem(self, *, init: AuthInit) -> AuthTokens:
        data = self._http.call("POST", "/auth/token/redeem", bearer=init.authentication_token)
        access, access_until = _token_info(require(data, "accessToken"))
        refresh, refresh_until = _token_info(require(data, "refreshToken"))
        return AuthTokens(
            access_token=access,
            access_valid_until=access_until,
            refresh_token=refresh,
            refresh_valid_until=refresh_until,
            reference_number=init.reference_number,
        )

    # --- whole logins -------------------------------------------------------------------------------

    def login_with_token(self, *, token: KsefToken, context: ContextIdentifier | None = None) -> AuthTokens:
        """Log in with a KSeF token (in its own context unless ``context`` says otherwise)."""
        init = self.init_with_token(token=token, challenge=self.challenge(), context=context)
        self.wait(init=init)
        return self.redeem(init=init)

    def login_with_certificate(
        self,
        *,
        certificate: x509.Certificate,
        private_key: PrivateKey,
        context: ContextIdentifier,
        subject_identifier_type: str = "certificateSubject",
        allowed_ips: AllowedIps | None = None,
        verify_certificate_chain: bool = False,
    ) -> AuthTokens:
        """Log in with a KSeF (or qualified) certificate: XAdES-signed ``AuthTokenRequest``."""
        challenge = self.challenge()
        signed = auth_token_request_sign(
            challenge=challenge.challenge,
            context=context,
            certificate=certificate,
            private_key=private_key,
            subject_identifier_type=subject_identifier_type,
            allowed_ips=allowed_ips,
        )
        init = self.init_with_signature(signed_xml=signed, verify_certificate_chain=verify_certificate_chain)
        self.wait(init=init)
        return self.redeem(init=init)

    def login_with_signed_request(
        self, *, signed_xml: bytes, verify_certificate_chain: bool = False
    ) -> AuthTokens:
        """Log in with an ``AuthTokenRequest`` signed elsewhere (by the owner, e.g. with Profil Zaufany or a
        qualified signature): ``/auth/xades-signature``, then the status and redeem steps."""
        init = self.init_with_signature(
            signed_xml=signed_xml, verify_certificate_chain=verify_certificate_chain
        )
        self.wait(init=init)
        return self.redeem(init=init)

    # --- after login --------------------------------------------------------------------------------

    def refresh(self, *, tokens: AuthTokens) -> AuthTokens:
        """A new access token (carrying the current permissions) from the refresh token."""
        data = self._http.call("POST", "/auth/token/refresh", bearer=tokens.refresh_token)
        access, access_until = _token_info(require(data, "accessToken"))
        return replace(tokens, access_token=access, access_valid_until=access_until)

    def revoke_current(self, *, tokens: AuthTokens, now: datetime | None = None) -> None:
        """End this authentication: its refresh token dies; live access tokens last until they expire."""
        expired = tokens.access_expires_within(timedelta(seconds=10), now=now)
        bearer = tokens.refresh_token if expired else tokens.access_token
        self._http.call("DELETE", "/auth/sessions/current", bearer=bearer, expect=(204, 200))

    def token_get(self, *, tokens: AuthTokens, reference_number: str) -> TokenStatus:
        """``GET /tokens/{ref}``: status and permissions of a KSeF token."""
        return token_status_parse(
            self._http.call("GET", f"/tokens/{reference_number}", bearer=tokens.access_token)
        )

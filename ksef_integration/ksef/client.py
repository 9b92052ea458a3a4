"""``KsefClient``: one object per KSeF conversation, tying HTTP, keys, auth and the endpoint groups together
and keeping the access token fresh."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import requests
from cryptography import x509

from ksef_integration.ksef._values import as_dict
from ksef_integration.ksef.auth import Authenticator, AuthTokens, PollPolicy, TokenStatus
from ksef_integration.ksef.batch import Batches
from ksef_integration.ksef.certificates import Certificates
from ksef_integration.ksef.collective import CollectiveIdentifiers
from ksef_integration.ksef.environments import Environment
from ksef_integration.ksef.errors import KsefError
from ksef_integration.ksef.exports import Exports, SyncHooks, SyncWindow, incremental_sync
from ksef_integration.ksef.http import DEFAULT_TIMEOUT, KsefHttp
from ksef_integration.ksef.identifiers import ContextIdentifier, KsefToken
from ksef_integration.ksef.invoices import Invoices
from ksef_integration.ksef.keys import PublicKeyStore
from ksef_integration.ksef.permissions import Permissions
from ksef_integration.ksef.secret import Secret
from ksef_integration.ksef.sessions import Sessions
from ksef_integration.ksef.xades import AllowedIps, PrivateKey

REFRESH_MARGIN = timedelta(minutes=2)


class KsefClient:
    """A KSeF API 2.0 client for one environment and (after login) one context.

    The endpoint groups are attributes: ``auth``, ``sessions``, ``batches``, ``invoices``, ``exports``,
    ``certificates``, ``permissions``, ``collective`` (collective identifiers for transfer titles).
    ``on_tokens`` is called whenever new tokens arrive (login, refresh) so the caller can store them.
    """

    def __init__(
        self,
        *,
        environment: Environment,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        problem_details: bool = False,
        tokens: AuthTokens | None = None,
        on_tokens: Callable[[AuthTokens], None] | None = None,
        refresh_margin: timedelta = REFRESH_MARGIN,
        poll: PollPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC),
    ) -> None:
        self.environment = environment
        self.http = KsefHttp(
            base_url=environment.api_url, session=session, timeout=timeout, problem_details=problem_details
        )
        self.keys = PublicKeyStore(http=self.http, clock=clock)
        self.tokens = tokens
        self._on_tokens = on_tokens
        self._refresh_margin = refresh_margin
        self._clock = clock
        polling = {"sleep": sleep} if poll is None else {"sleep": sleep, "poll": poll}
        self.auth = Authenticator(http=self.http, keys=self.keys, **polling)
        self.sessions = Sessions(http=self.http, keys=self.keys, bearer=self.access_token, **polling)
        self.batches = Batches(http=self.http, keys=self.keys, bearer=self.access_token)
        self.invoices = Invoices(http=self.http, bearer=self.access_token)
        self.exports = Exports(http=self.http, keys=self.keys, bearer=self.access_token, **polling)
        self.certificates = Certificates(http=self.http, bearer=self.access_token, **polling)
        self.permissions = Permissions(http=self.http, bearer=self.access_token, **polling)
        self.collective = CollectiveIdentifiers(http=self.http, bearer=self.access_token)

    def __repr__(self) -> str:
        return f"KsefClient(environment={self.environment.name!r}, logged_in={self.tokens is not None})"

    def _store(self, tokens: AuthTokens) -> AuthTokens:
        self.tokens = tokens
        if self._on_tokens is not None:
            self._on_tokens(tokens)
        return tokens

    # --- authentication -------------------------------------------------------------------------------

    def login_with_token(
        self, *, token: KsefToken | str, context: ContextIdentifier | None = None
    ) -> AuthTokens:
        parsed = token if isinstance(token, KsefToken) else KsefToken.parse(token)
        return self._store(self.auth.login_with_token(token=parsed, context=context))

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
        return self._store(
            self.auth.login_with_certificate(
                certificate=certificate,
                private_key=private_key,
                context=context,
                subject_identifier_type=subject_identifier_type,
                allowed_ips=allowed_ips,
                verify_certificate_chain=verify_certificate_chain,
            )
        )

    def login_with_signed_request(
        self, *, signed_xml: bytes, verify_certificate_chain: bool = False
    ) -> AuthTokens:
        """Log in with an ``AuthTokenRequest`` (``xades.auth_token_request_build``) someone else signed."""
        return self._store(
            self.auth.login_with_signed_request(
                signed_xml=signed_xml, verify_certificate_chain=verify_certificate_chain
            )
        )

    def refresh(self) -> AuthTokens:
        return self._store(self.auth.refresh(tokens=self._tokens()))

    def access_token(self) -> Secret:
        """The access token, refreshed first when it expires within the margin."""
        tokens = self._tokens()
        if tokens.access_expires_within(self._refresh_margin, now=self._clock()):
            tokens = self.refresh()
        return tokens.access_token

    def logout(self) -> None:
        """Revoke the current authentication (its refresh token stops working) and forget the tokens."""
        if self.tokens is not None:
            self.auth.revoke_current(tokens=self.tokens, now=self._clock())
            self.tokens = None

    def token_get(self, *, reference_number: str) -> TokenStatus:
        """Status and permissions of a KSeF token (e.g. the one just used to log in)."""
        self.access_token()
        return self.auth.token_get(tokens=self._tokens(), reference_number=reference_number)

    def rate_limits(self) -> dict[str, dict[str, int]]:
        """``GET /rate-limits``: the request limits in force for the logged-in context, per group
        (``{"invoiceExport": {"perSecond": 8, "perMinute": 16, "perHour": 20}, ...}``)."""
        data = as_dict(self.http.call("GET", "/rate-limits", bearer=self.access_token()))
        limits: dict[str, dict[str, int]] = {}
        for group, values in data.items():
            if isinstance(values, dict):
                limits[group] = {
                    name: int(values[name])
                    for name in ("perSecond", "perMinute", "perHour")
                    if isinstance(values.get(name), int)
                }
        return limits

    def _tokens(self) -> AuthTokens:
        if self.tokens is None:
            raise KsefError("not logged in to KSeF")
        return self.tokens

    # --- import ---------------------------------------------------------------------------------------

    def incremental_sync(
        self, *, subject_type: str, checkpoint: datetime, hooks: SyncHooks | None = None
    ) -> Iterator[SyncWindow]:
        """See ``exports.incremental_sync``: commit each window's invoices, then store its checkpoint."""
        return incremental_sync(
            self.exports, subject_type=subject_type, checkpoint=checkpoint, clock=self._clock, hooks=hooks
        )

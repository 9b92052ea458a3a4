"""A logged-in KSeF client for a company, for background work (sending, importing, verifying).

KSeF's own session (access + refresh JWTs) is cached on the company's ``KsefConnection``, encrypted: the
access token is reused while valid, refreshed with the refresh token when it nears expiry, and a fresh
login with the stored credential happens only when both are gone. New tokens are saved as soon as they
arrive (the client's ``on_tokens`` callback), so parallel tasks do not log in again and again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Company
from ksef_integration import errors
from ksef_integration.connect import credentials, gateway
from ksef_integration.encryption import SecretUnreadable, secret_decrypt, secret_encrypt
from ksef_integration.errors import ConnectError
from ksef_integration.ksef.auth import AuthTokens, PollPolicy
from ksef_integration.ksef.client import KsefClient
from ksef_integration.ksef.errors import KsefError
from ksef_integration.ksef.identifiers import ContextIdentifier
from ksef_integration.ksef.keys import PublicKeyStore
from ksef_integration.ksef.secret import Secret
from ksef_integration.models import AuthMethod, KsefConnection

# Background work may wait longer for KSeF than a person at a form.
WORKER_POLL = PollPolicy(initial=0.5, factor=1.5, maximum=5.0, timeout=120.0)
WORKER_TIMEOUT = (5.0, 30.0)
# A refresh token this close to its end is not worth using.
REFRESH_MARGIN = dt.timedelta(minutes=5)


class NotConnected(Exception):
    """The company has no usable KSeF connection (never connected, disconnected, or needs attention)."""


class TokenExpired(NotConnected):
    """The company is connected by a KSeF token after the token sunset: nothing logs in with it (it would only
    fail, again and again); what waits goes out once the company connects with a certificate."""


class OfficeUnavailable(NotConnected):
    """The company is served through an accounting office (``AuthMethod.OFFICE``) whose own connection
    cannot log in for it: disconnected, or on a KSeF token (a token works only in the context it was
    generated in). ``error`` says so in words (a ``ConnectError``)."""

    def __init__(self, nip: str, error: ConnectError) -> None:
        super().__init__(nip)
        self.error = error


def credential_source(connection: KsefConnection) -> tuple[KsefConnection, str]:
    """Whose stored credential logs in for ``connection``, and in which NIP context: the connection's own in
    its company's NIP; for a client served through an accounting office, the office's certificate in the
    client's NIP (KSeF lets an entity in with its own credential where it was granted permissions). The one
    step from a stored credential to a login, shared by background work (``ksef_client_for``) and by
    connecting and checking (``connect.services``). Raises ``OfficeUnavailable``."""
    nip = connection.company.nip
    if connection.method != AuthMethod.OFFICE:
        return connection, nip
    office = connection.via_office
    if office is None:
        raise NotConnected(nip)
    source = KsefConnection.objects.select_related("company").filter(company=office).first()
    if source is None or not source.is_connected:
        raise OfficeUnavailable(nip, errors.office_not_connected(office.name))
    if source.method != AuthMethod.CERTIFICATE:
        raise OfficeUnavailable(nip, errors.office_not_certificate(office.name))
    return source, nip


def office_refusal(*, company: Company) -> ConnectError | None:
    """For a company served through an accounting office, what KSeF refusing the office there means (the
    client took the office's permissions back), in words naming both; None for any other company."""
    connection = (
        KsefConnection.objects.select_related("company", "via_office")
        .filter(company=company, method=AuthMethod.OFFICE, via_office__isnull=False)
        .first()
    )
    if connection is None or connection.via_office is None:
        return None
    office = connection.via_office
    return errors.office_not_granted(office.name, office.nip, connection.company.name)


def stored_tokens(connection: KsefConnection, *, margin: dt.timedelta = REFRESH_MARGIN) -> AuthTokens | None:
    """The KSeF session stored on the connection, decrypted into ``Secret``s; None when there is none, it
    cannot be decrypted, or its refresh token ends within ``margin``."""
    if not (
        connection.refresh_token_ciphertext
        and connection.refresh_valid_until
        and connection.access_valid_until
    ):
        return None
    if connection.refresh_valid_until - margin <= timezone.now():
        return None
    try:
        return AuthTokens(
            access_token=Secret(secret_decrypt(connection.access_token_ciphertext).decode()),
            access_valid_until=connection.access_valid_until,
            refresh_token=Secret(secret_decrypt(connection.refresh_token_ciphertext).decode()),
            refresh_valid_until=connection.refresh_valid_until,
        )
    except SecretUnreadable:
        return None


def tokens_columns(tokens: AuthTokens) -> dict[str, object]:
    """The one place a KSeF session becomes stored columns: the tokens encrypted, their expiry as is."""
    return {
        "access_token_ciphertext": secret_encrypt(tokens.access_token),
        "access_valid_until": tokens.access_valid_until,
        "refresh_token_ciphertext": secret_encrypt(tokens.refresh_token),
        "refresh_valid_until": tokens.refresh_valid_until,
    }


def _save_tokens(connection_id: int, tokens: AuthTokens) -> None:
    with transaction.atomic():
        KsefConnection.objects.filter(pk=connection_id).update(**tokens_columns(tokens))


def _login(client: KsefClient, connection: KsefConnection) -> None:
    """Log in again with the stored credential (token or certificate, the company's own or its office's:
    ``credential_source``); raises KsefError on failure."""
    connection, nip = credential_source(connection)
    if connection.method == AuthMethod.TOKEN:
        token = gateway.token_parse(secret_decrypt(connection.token_ciphertext).decode())
        client.login_with_token(token=token, context=ContextIdentifier.nip(nip))
        return
    certificate, key = credentials.stored_certificate(
        certificate_pem=connection.certificate_pem,
        private_key_pkcs8=secret_decrypt(connection.private_key_ciphertext),
    )
    client.login_with_certificate(
        certificate=certificate, private_key=key, context=ContextIdentifier.nip(nip)
    )


# KSeF's public keys, per API base, shared by the clients of this process: every task builds a new client,
# and the key list (valid for months) need not cost a request per task.
_public_keys: dict[str, tuple[list[Any], dt.datetime | None]] = {}


def _share_public_keys(client: KsefClient) -> None:
    api_url = client.environment.api_url
    cached = _public_keys.get(api_url)
    if cached is not None:
        client.keys.preload(*cached)

    def remember(store: PublicKeyStore) -> None:
        _public_keys[api_url] = store.snapshot()

    client.keys.on_fetch = remember


def ksef_client_for(*, company: Company, session: requests.Session | None = None) -> KsefClient:
    """A KSeF client logged in for ``company``; raises ``NotConnected`` or the client's ``KsefError``.
    ``session``: the ``requests`` session to talk through (the import's paced one, ``importing.pacing``).

    Callers hold the company's KSeF lock when they start a conversation (one at a time per company).
    """
    connection = (
        KsefConnection.objects.select_related("company", "via_office").filter(company=company).first()
    )
    if connection is None or not connection.is_connected or connection.status != "active":
        raise NotConnected(company.nip)
    if connection.token_expired:
        raise TokenExpired(company.nip)
    if connection.method == AuthMethod.OFFICE:
        credential_source(connection)  # the office may have disconnected since the session was stored
    connection_id = connection.pk
    client = KsefClient(
        environment=gateway.environment(),
        session=session,
        tokens=stored_tokens(connection),
        on_tokens=lambda tokens: _save_tokens(connection_id, tokens),
        poll=WORKER_POLL,
        timeout=(WORKER_TIMEOUT[0], settings.KSEF_WORKER_READ_TIMEOUT),
    )
    _share_public_keys(client)
    if client.tokens is None:
        try:
            _login(client, connection)
        except SecretUnreadable as exc:
            raise NotConnected(company.nip) from exc
    return client


__all__ = [
    "KsefError",
    "NotConnected",
    "OfficeUnavailable",
    "TokenExpired",
    "credential_source",
    "ksef_client_for",
    "office_refusal",
]

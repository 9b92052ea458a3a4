"""The portal's side of a KSeF conversation: builds the client for the configured environment, runs a
login, and turns the client's errors into ``ConnectError`` with words an owner understands. Certificates and
keys are read by ``ksef_integration.connect.credentials``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import requests
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from ksef_integration.connect.credentials import CertificateCredential, stored_certificate
from ksef_integration.errors import ConnectError
from ksef_integration.ksef.auth import AuthTokens, PollPolicy
from ksef_integration.ksef.certificates import KsefCertificate
from ksef_integration.ksef.client import KsefClient
from ksef_integration.ksef.environments import PUBLIC, Environment, environment_get
from ksef_integration.ksef.errors import (
    KsefAuthError,
    KsefCertificateRefused,
    KsefError,
    KsefRateLimited,
    KsefRejected,
    KsefTokenFormatError,
    KsefTransientError,
)
from ksef_integration.ksef.identifiers import ContextIdentifier, KsefToken

# Failures that mean the stored credential itself is no good (the owner must act), as opposed to
# KSeF being down or slow (we just try again later).
CREDENTIAL_PROBLEMS = {
    "invalid_token", "token_revoked", "token_inactive", "no_permissions", "blocked", "certificate_invalid",
    "auth_failed", "certificate_expired", "office_revoked", "office_not_certificate", "office_not_connected",
}  # fmt: skip

# A certificate whose subject NIP is the context's NIP acts as the Owner, who holds every permission except
# VatUeManage (ksef-api.md §16); KSeF has no cheap call to list them for a certificate login.
OWNER_PERMISSIONS = [
    "CredentialsManage", "CredentialsRead", "Introspection", "InvoiceRead", "InvoiceWrite", "SubunitManage",
]  # fmt: skip
# Connecting is interactive: poll briefly and give up with a clear message rather than keep a page waiting.
CONNECT_POLL = PollPolicy(initial=0.2, factor=1.5, maximum=2.0, timeout=25.0)
CONNECT_TIMEOUT = (5.0, 15.0)
# Enrolling runs in the worker: KSeF may take minutes to issue a certificate.
ENROLL_POLL = PollPolicy(initial=0.5, factor=1.5, maximum=10.0, timeout=300.0)


@dataclass(frozen=True)
class Login:
    """What a KSeF login gives the portal. The tokens are secrets: never in a repr (a traceback's locals,
    a log line), only ever written encrypted."""

    permissions: list[str]
    tokens: AuthTokens  # ``Secret``s from the client to the cipher (connect.session.tokens_columns)


def environment() -> Environment:
    """The configured KSeF environment; ``KSEF_API_URL`` overrides the API base of any of them."""
    name = settings.KSEF_ENVIRONMENT
    if name == "simulator":
        return environment_get(
            name=name, simulator_url=settings.KSEF_API_URL or settings.KSEF_SIMULATOR_API_URL
        )
    base = PUBLIC[name]
    return (
        Environment(name=name, api_url=settings.KSEF_API_URL, qr_host=base.qr_host)
        if settings.KSEF_API_URL
        else base
    )


def client(*, tokens: AuthTokens | None = None) -> KsefClient:
    return KsefClient(environment=environment(), tokens=tokens, poll=CONNECT_POLL, timeout=CONNECT_TIMEOUT)


def _in_language(message_pl: str, message_en: str) -> str:
    return message_en if (translation.get_language() or "pl").startswith("en") else message_pl


def in_language(message_pl: str, message_en: str) -> str:
    """The client's Polish or English message for people, in the active language (Polish in the worker)."""
    return _in_language(message_pl, message_en)


def error_text(exc: Exception) -> str:
    """A KSeF failure as the invoice's timeline shows it to an owner (in the active language, Polish in the
    worker): the client's own messages are English and technical (``KSeF server error (HTTP 503)``)."""
    if isinstance(exc, KsefRateLimited):
        return _("KSeF limited the number of requests; the next attempt in %(seconds)s s.") % {
            "seconds": exc.retry_after
        }
    if isinstance(exc, KsefRejected):
        return _("KSeF answered with error %(code)s: %(description)s") % {
            "code": exc.code,
            "description": exc.description or "—",
        }
    if isinstance(exc, KsefTransientError):
        if exc.status == 503:
            return _("KSeF is temporarily unavailable (HTTP 503); we will try again.")
        if exc.status:
            return _("KSeF server error (HTTP %(status)s); we will try again.") % {"status": exc.status}
        if isinstance(exc.__cause__, requests.Timeout):
            return _("KSeF did not answer in time; we will try again.")
        if exc.__cause__ is not None:
            return _("Cannot connect to KSeF; we will try again.")
        return _("KSeF gave an answer we could not use; we will try again.")
    return _("Communication with KSeF failed; we will try again.")


def translate_error(exc: KsefError) -> ConnectError:
    """A client error as an owner should read it; never with a secret (the client keeps them out)."""
    if isinstance(exc, KsefTokenFormatError):
        return ConnectError("malformed", _in_language(exc.message_pl, exc.message_en))
    if isinstance(exc, KsefAuthError):
        return ConnectError(exc.reason or "auth_failed", _in_language(exc.message_pl, exc.message_en))
    if isinstance(exc, KsefCertificateRefused):
        return ConnectError(exc.reason, _in_language(exc.message_pl, exc.message_en))
    if isinstance(exc, KsefRateLimited):
        return ConnectError(
            "rate_limited",
            _("KSeF is limiting the number of requests right now. Try again in %(seconds)s seconds.")
            % {"seconds": exc.retry_after},
        )
    if isinstance(exc, KsefTransientError):
        return ConnectError(
            "unavailable",
            _(
                "KSeF is not answering right now (it may be down or overloaded). Nothing was saved. "
                "Try again in a few minutes."
            ),
        )
    if isinstance(exc, KsefRejected):
        return ConnectError(
            "rejected", _("KSeF refused the request (code %(code)s). Nothing was saved.") % {"code": exc.code}
        )
    return ConnectError("ksef_error", _("Connecting to KSeF failed. Nothing was saved. Try again later."))


@sensitive_variables()
def _login(tokens: AuthTokens, permissions: list[str]) -> Login:
    return Login(permissions=sorted(permissions), tokens=tokens)


@sensitive_variables()
def token_parse(raw: str) -> KsefToken:
    try:
        return KsefToken.parse(raw)
    except KsefTokenFormatError as exc:
        raise translate_error(exc) from None


@sensitive_variables()
def token_login(*, token: KsefToken, nip: str, logged_in: Callable[[], None] | None = None) -> Login:
    """Log in with a KSeF token in the company's context and read the permissions the token carries
    (``logged_in`` is told between the two, for the connect page's steps)."""
    ksef = client()
    try:
        tokens = ksef.login_with_token(token=token, context=ContextIdentifier.nip(nip))
        if logged_in is not None:
            logged_in()
        status = ksef.token_get(reference_number=token.reference_number)
    except KsefError as exc:
        raise translate_error(exc) from None
    return _login(tokens, list(status.permissions))


@sensitive_variables()
def certificate_login(
    *, credential: CertificateCredential, nip: str, enrolled: bool = False, granted: bool = False
) -> Login:
    """Log in with a certificate in the context of ``nip``; its subject's own NIP acts as the Owner. A
    certificate the portal ``enrolled`` for the company (its subject is whoever signed the owner's request,
    e.g. a person by PESEL) is given the Owner's permissions: KSeF let that subject into this context, and
    KSeF has no cheap call to list a certificate login's permissions (a refusal later pauses the queue).

    ``granted``: the subject works in someone else's context on what that context granted it (an
    accounting office in its client's NIP): its permissions are the ones KSeF lists for it there
    (``POST /permissions/query/personal/grants``, which needs no permission)."""
    certificate, key = stored_certificate(
        certificate_pem=credential.certificate_pem, private_key_pkcs8=credential.private_key_pkcs8
    )
    try:
        tokens = client().login_with_certificate(
            certificate=certificate, private_key=key, context=ContextIdentifier.nip(nip)
        )
        if credential.nip == nip or enrolled:
            permissions = OWNER_PERMISSIONS
        elif granted:
            permissions = granted_permissions(tokens)
        else:
            permissions = []
    except KsefError as exc:
        raise translate_error(exc) from None
    return _login(tokens, permissions)


@sensitive_variables()
def granted_permissions(tokens: AuthTokens) -> list[str]:
    """The active permissions KSeF lists for the logged-in subject in its current context."""
    grants = client(tokens=tokens).permissions.personal()
    return sorted({grant.scope for grant in grants if grant.is_active})


@sensitive_variables()
def session_end(*, tokens: AuthTokens) -> None:
    """End the KSeF authentication (its refresh token stops working)."""
    try:
        client(tokens=tokens).logout()
    except KsefError as exc:
        raise translate_error(exc) from None


def challenge() -> tuple[str, dt.datetime]:
    """A fresh KSeF challenge for a login request someone else signs, and when it was made."""
    try:
        answer = client().auth.challenge()
    except KsefError as exc:
        raise translate_error(exc) from None
    return answer.challenge, answer.timestamp


@sensitive_variables()
def signature_login(*, signed_xml: bytes) -> AuthTokens:
    """Log in with an ``AuthTokenRequest`` signed elsewhere (Profil Zaufany, a qualified signature or seal):
    KSeF reads the signer and the context from the document. The tokens only; what they may do is KSeF's."""
    try:
        return client().login_with_signed_request(signed_xml=signed_xml)
    except KsefError as exc:
        raise translate_error(exc) from None


@sensitive_variables()
def certificate_tokens(*, credential: CertificateCredential, nip: str) -> AuthTokens:
    """Log in with a stored certificate in the company's context; the tokens only (to enroll a successor)."""
    return certificate_login(credential=credential, nip=nip).tokens


@sensitive_variables()
def certificate_obtain(*, tokens: AuthTokens, certificate_type: str, name: str) -> KsefCertificate:
    """Ask KSeF for a new certificate of ``certificate_type`` under the session of ``tokens`` and wait for it:
    a new EC P-256 key, a request with the subject KSeF gives, enrollment, retrieval."""
    try:
        ksef = KsefClient(environment=environment(), tokens=tokens, poll=ENROLL_POLL, timeout=CONNECT_TIMEOUT)
        return ksef.certificates.obtain(name=name, certificate_type=certificate_type)
    except KsefError as exc:
        raise translate_error(exc) from None

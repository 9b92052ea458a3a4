"""Bearer tokens of the simulator: HS256 JWTs with the claims KSeF's examples show, and the callers' rights.

Three kinds travel as ``Authorization: Bearer``: the *operation* token (``authenticationToken``, for
``GET /auth/{ref}`` and redeem), the *access* token (everything else) and the *refresh* token.
An access token issued with an ``authorizationPolicy`` only works from the allowed IPv4 addresses
(403 ``ip-not-allowed`` otherwise), as in KSeF. An access token whose holder has since lost a permission it
carries stops working (401): KSeF's uwierzytelnianie.md says tokens are invalidated automatically when
authorisations are lost (ksef-api.md §4.4 notes the docs also say tokens live until ``exp``; we take the
stricter reading, so that clients meet the 401 they must handle anyway).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from ksef_simulator import services_permissions
from ksef_simulator.responses import forbidden, now_utc, unauthorized

ISSUER = "ksef-simulator"
OPERATION, ACCESS, REFRESH = "operation", "access", "refresh"
# KSeF's examples: the authentication token lives 45 minutes, the access token 15, the refresh token 7 days.
OPERATION_LIFETIME = dt.timedelta(minutes=45)
ACCESS_LIFETIME = dt.timedelta(minutes=15)
REFRESH_LIFETIME = dt.timedelta(days=7)
# Private claims of this simulator (clients treat the JWT as opaque).
SUBJECT_TYPE, SUBJECT_VALUE = "ksef-sim-subject-type", "ksef-sim-subject-value"
KSEF_TOKEN_REF, ALLOWED_IPS = "ksef-sim-ksef-token", "ksef-sim-allowed-ips"


def _secret() -> bytes:
    return hashlib.sha256(("ksef-simulator-jwt:" + settings.SECRET_KEY).encode()).digest()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_encode(claims: dict[str, Any]) -> str:
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(_secret(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(signature)}"


def jwt_decode(token: str) -> dict[str, Any] | None:
    """The claims of a token this simulator signed and that has not expired, else None."""
    try:
        header, payload, signature = token.split(".")
        expected = hmac.new(_secret(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _b64url_decode(signature)):
            return None
        claims = json.loads(_b64url_decode(payload))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(claims, dict) or claims.get("exp", 0) <= now_utc().timestamp():
        return None
    return claims


@dataclass(frozen=True)
class Principal:
    kind: str
    context_type: str
    context_value: str
    auth_reference: str
    permissions: frozenset[str] = frozenset()
    claims: dict[str, Any] = field(default_factory=dict)

    @property
    def nip(self) -> str:
        """The NIP of the context (for an InternalId ``<NIP>-<5 digits>``, its NIP part)."""
        return self.context_value.split("-")[0]

    @property
    def subject_type(self) -> str:
        """Who authenticated: ``Nip`` | ``Pesel`` | ``Fingerprint`` (the context's NIP when not recorded)."""
        return str(self.claims.get(SUBJECT_TYPE) or "Nip")

    @property
    def subject_value(self) -> str:
        return str(self.claims.get(SUBJECT_VALUE) or self.nip)

    @property
    def ksef_token_reference(self) -> str | None:
        """The reference of the KSeF token the caller authenticated with, if it used one."""
        value = self.claims.get(KSEF_TOKEN_REF)
        return str(value) if value else None


def client_ip(request: HttpRequest) -> str:
    """The caller's IP as the simulator sees it (``REMOTE_ADDR``; no proxy headers are trusted)."""
    return str(request.META.get("REMOTE_ADDR") or "127.0.0.1")


def ip_allowed(ip: str, allowed: dict[str, Any] | None) -> bool:
    """Whether ``ip`` passes an ``AllowedIps`` policy (no policy or empty lists: any IP)."""
    if not allowed:
        return True
    addresses = allowed.get("ip4Addresses") or []
    ranges = allowed.get("ip4Ranges") or []
    masks = allowed.get("ip4Masks") or []
    if not (addresses or ranges or masks):
        return True
    try:
        address = ipaddress.IPv4Address(ip)
    except ValueError:
        return False
    if any(address == ipaddress.IPv4Address(a) for a in addresses):
        return True
    for item in ranges:
        low, _, high = item.partition("-")
        if ipaddress.IPv4Address(low) <= address <= ipaddress.IPv4Address(high):
            return True
    return any(address in ipaddress.IPv4Network(mask, strict=False) for mask in masks)


def token_issue(
    *,
    kind: str,
    context_type: str,
    context_value: str,
    auth_reference: str,
    permissions: Iterable[str] = (),
    lifetime: dt.timedelta,
    extra: dict[str, Any] | None = None,
) -> tuple[str, dt.datetime]:
    issued = now_utc()
    valid_until = issued + lifetime
    claims = {
        "token-type": "OperationToken" if kind == OPERATION else "ContextToken",
        "ksef-sim-kind": kind,
        "operation-reference-number": auth_reference,
        "context-identifier-type": context_type,
        "context-identifier-value": context_value,
        "permissions": sorted(permissions),
        "iat": int(issued.timestamp()),
        "exp": int(valid_until.timestamp()),
        "iss": ISSUER,
        "aud": ISSUER,
        "jti": secrets.token_hex(8),  # two tokens issued in the same second still differ
        **(extra or {}),
    }
    return jwt_encode(claims), valid_until


def principal_from_request(request: HttpRequest, *, kinds: Iterable[str] = (ACCESS,)) -> Principal:
    """The caller behind ``Authorization: Bearer``; 401 if missing, forged, expired or of the wrong kind."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise unauthorized()
    claims = jwt_decode(token.strip())
    if claims is None or claims.get("ksef-sim-kind") not in set(kinds):
        raise unauthorized("Nieprawidłowy lub wygasły token dostępowy.")
    ip = client_ip(request)
    if claims.get("ksef-sim-kind") == ACCESS and not ip_allowed(ip, claims.get(ALLOWED_IPS)):
        raise forbidden("ip-not-allowed", "Dostęp z tego adresu IP nie jest dozwolony.", {"clientIp": ip})
    principal = Principal(
        kind=claims["ksef-sim-kind"],
        context_type=claims["context-identifier-type"],
        context_value=claims["context-identifier-value"],
        auth_reference=claims["operation-reference-number"],
        permissions=frozenset(claims.get("permissions", [])),
        claims=claims,
    )
    if principal.kind == ACCESS and permissions_lost(principal):
        raise unauthorized(
            "Token dostępowy został unieważniony: odebrano uprawnienia, na których się opierał."
        )
    return principal


def permissions_lost(principal: Principal) -> bool:
    """Whether the caller no longer holds every permission its access token carries (a grant was revoked).

    The owner of a NIP context logged in with that NIP holds rights nobody can take away, so its calls
    (the usual case) cost no query here.
    """
    if principal.context_type != "Nip" or not principal.permissions:
        return False
    if principal.subject_type == "Nip" and principal.subject_value == principal.context_value:
        return False
    held = services_permissions.permissions_for(
        context_type=principal.context_type,
        context_value=principal.context_value,
        subject_type=principal.subject_type,
        subject_value=principal.subject_value,
    )
    return not principal.permissions <= held


def require_any_permission(principal: Principal, any_of: Iterable[str]) -> None:
    """403 ``missing-permissions`` unless the caller holds at least one of ``any_of``."""
    required = sorted(any_of)
    if not principal.permissions.intersection(required):
        raise forbidden(
            "missing-permissions",
            "Brak wymaganych uprawnień do wykonania operacji w bieżącym kontekście.",
            {"requiredAnyOfPermissions": required, "presentPermissions": sorted(principal.permissions)},
        )

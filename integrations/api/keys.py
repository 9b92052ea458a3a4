"""API keys: made, shown once, stored as a SHA-256, looked up by their visible prefix, revoked.

A key reads ``kp_<8 hex>_<43 characters of base64url>``: the first part is the row's ``prefix`` (shown in
the Integracje list so the owner recognises a key), the rest 256 random bits. The key has that much entropy,
so a plain SHA-256 is enough to store it (a slow password hash would only cost every request time).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts.models import Company, User
from integrations.models import ApiKey, ApiScope

KEY_START = "kp_"
LAST_USED_PRECISION = dt.timedelta(minutes=1)  # last_used_at is written at most once a minute per key


@dataclass(frozen=True)
class NewKey:
    """A key just made: ``plain`` is shown to the owner once and never stored."""

    key: ApiKey
    plain: str

    def __repr__(self) -> str:  # the plain key never reaches a log or an error report
        return f"NewKey(key={self.key!r})"


def key_digest(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


@sensitive_variables("plain")
def key_create(*, company: Company, user: User, name: str, scope: str) -> NewKey:
    if scope not in ApiScope.values:
        raise ValueError(f"unknown scope {scope!r}")
    while True:
        prefix = f"{KEY_START}{secrets.token_hex(4)}"
        if not ApiKey.objects.filter(prefix=prefix).exists():
            break
    plain = f"{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        company=company,
        name=name.strip() or prefix,
        scope=scope,
        prefix=prefix,
        key_sha256=key_digest(plain),
        created_by=user,
    )
    return NewKey(key=key, plain=plain)


def key_revoke(*, key: ApiKey, user: User) -> None:
    if key.revoked_at is None:
        ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_by=user
        )


@sensitive_variables("plain")
def key_authenticate(plain: str) -> ApiKey | None:
    """The active key ``plain`` is, with its company, or None (unknown, malformed or revoked)."""
    start, _sep, rest = plain.partition(KEY_START)
    hex_part, sep, secret_part = rest.partition("_")  # the secret part may hold "_" itself (base64url)
    if start or not sep or not secret_part:
        return None
    prefix = f"{KEY_START}{hex_part}"
    key = ApiKey.objects.select_related("company", "created_by").filter(prefix=prefix).first()
    if key is None or key.revoked_at is not None:
        return None
    if not hmac.compare_digest(key.key_sha256, key_digest(plain)):
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_PRECISION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def keys_for_company(*, company: Company) -> list[ApiKey]:
    return list(ApiKey.objects.filter(company=company).select_related("created_by"))

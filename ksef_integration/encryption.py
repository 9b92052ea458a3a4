"""Secrets at rest (KSeF tokens, private keys, cached KSeF session tokens): Fernet over FIELD_ENCRYPTION_KEYS.

The keys are a comma-separated list, newest first (MultiFernet): new values are encrypted with the first,
every listed key decrypts, and ``secret_rotate`` moves a value to the first key. The keys are independent of
SECRET_KEY so that either can be rotated without the other.
"""

from __future__ import annotations

import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.views.decorators.debug import sensitive_variables

from ksef_integration.ksef.secret import Secret


class SecretUnreadable(Exception):
    """A stored secret does not decrypt with any configured key (a key was removed too early)."""


@functools.cache
def _multifernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: secrets cannot be stored.")
    try:
        return MultiFernet([Fernet(key.strip().encode()) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds a key that is not a valid Fernet key."
        ) from exc


def _fernet() -> MultiFernet:
    return _multifernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


@sensitive_variables()
def secret_encrypt(plain: str | bytes | Secret) -> str:
    """Encrypt a secret for storage; a ``Secret`` is revealed only here, on its way into the cipher."""
    if isinstance(plain, Secret):
        plain = plain.reveal()
    data = plain.encode() if isinstance(plain, str) else plain
    return _fernet().encrypt(data).decode()


@sensitive_variables()
def secret_decrypt(ciphertext: str) -> bytes:
    try:
        return _fernet().decrypt(ciphertext.encode())
    except InvalidToken as exc:
        raise SecretUnreadable("stored secret does not decrypt with the configured keys") from exc


def secret_rotate(ciphertext: str) -> str:
    """The same secret encrypted with the newest key (a no-op in meaning, a new ciphertext in form)."""
    try:
        return _fernet().rotate(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable("stored secret does not decrypt with the configured keys") from exc

"""Request parsing shared by the session, invoice and export endpoints: fields, Base64, dates, keys.

``json_body`` is re-exported for those endpoints.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import math
import re
from typing import Any

from ksef_simulator import keys
from ksef_simulator.http import json_object as json_body
from ksef_simulator.models import SimSession
from ksef_simulator.processing import WARSAW
from ksef_simulator.responses import bad_request, validation_error
from ksef_simulator.security import Principal

__all__ = [
    "BATCH_FORMS",
    "ONLINE_FORMS",
    "b64decode",
    "clean_json",
    "field",
    "form_code",
    "json_body",
    "looks_like_identifier",
    "obj",
    "opt_obj",
    "parse_datetime",
    "session_for",
    "sha256_field",
    "str_list",
    "unwrap_key",
]

ONLINE_FORMS = {("FA (3)", "1-0E", "FA"), ("FA (2)", "1-0E", "FA")}
BATCH_FORMS = ONLINE_FORMS
_B64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
_REFERENCE = re.compile(r"^[0-9A-Z-]{36}$")
_IDENTIFIER = re.compile(r"^[0-9A-Z-]{35,36}$")


def looks_like_identifier(value: str) -> bool:
    """Reference and KSeF numbers are 35-36 characters of digits, capitals and hyphens."""
    return bool(_IDENTIFIER.match(value))


def clean_json(value: Any, name: str) -> None:
    _clean(value, name)


def _clean(value: Any, name: str) -> None:
    """Strings the database cannot store (NUL) and numbers it cannot compare (inf) are input errors."""
    if isinstance(value, str) and "\x00" in value:
        raise validation_error(f"Pole '{name}' zawiera niedozwolony znak.")
    if isinstance(value, float) and not math.isfinite(value):
        raise validation_error(f"Pole '{name}' ma nieprawidłową wartość liczbową.")
    if isinstance(value, list):
        for item in value:
            _clean(item, name)
    if isinstance(value, dict):
        for key, item in value.items():
            _clean(key, name)
            _clean(item, name)


def field(data: dict[str, Any], name: str, kind: type | tuple[type, ...], *, required: bool = True) -> Any:
    value = data.get(name)
    if value is None:
        if required:
            raise validation_error(f"Pole '{name}' jest wymagane.")
        return None
    kinds = kind if isinstance(kind, tuple) else (kind,)
    # bool is an int in Python; a JSON true must not pass for a size or an amount.
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise validation_error(f"Pole '{name}' ma nieprawidłowy typ.")
    _clean(value, name)
    return value


def str_list(data: dict[str, Any], name: str) -> list[str] | None:
    """An optional array of strings."""
    values = field(data, name, list, required=False)
    if values is None:
        return None
    if not all(isinstance(v, str) for v in values):
        raise validation_error(f"Pole '{name}' musi być tablicą napisów.")
    return [str(v) for v in values]


def obj(data: dict[str, Any], name: str) -> dict[str, Any]:
    """A required JSON object field."""
    return dict(field(data, name, dict))


def opt_obj(data: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = field(data, name, dict, required=False)
    return dict(value) if value is not None else None


def b64decode(value: str, name: str) -> bytes:
    if not isinstance(value, str) or len(value) % 4 or not _B64.match(value):
        raise validation_error(f"Pole '{name}' nie jest poprawnym ciągiem Base64.")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise validation_error(f"Pole '{name}' nie jest poprawnym ciągiem Base64.") from exc


def sha256_field(data: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = field(data, name, str, required=required)
    if value is None:
        return None
    if len(value) != 44 or len(b64decode(value, name)) != 32:
        raise validation_error(f"Pole '{name}' musi być skrótem SHA-256 w Base64 (44 znaki).")
    return str(value)


def form_code(data: dict[str, Any], allowed: set[tuple[str, str, str]]) -> tuple[str, str, str]:
    form = obj(data, "formCode")
    code = (
        field(form, "systemCode", str),
        field(form, "schemaVersion", str),
        field(form, "value", str),
    )
    if code not in allowed:
        raise validation_error(
            f"Nieobsługiwany kod formularza: {code[0]} {code[1]} {code[2]}.",
        )
    return code


def unwrap_key(data: dict[str, Any]) -> tuple[bytes | None, bytes]:
    """(AES key or None when it does not decrypt, IV) from ``encryption``; 21470/21405 as KSeF says."""
    encryption = obj(data, "encryption")
    wrapped = b64decode(field(encryption, "encryptedSymmetricKey", str), "encryptedSymmetricKey")
    iv = b64decode(field(encryption, "initializationVector", str), "initializationVector")
    if len(iv) != 16:
        raise validation_error("Wektor inicjalizujący musi mieć 16 bajtów.")
    public_key_id = field(encryption, "publicKeyId", str, required=False)
    key = keys.key_for("SymmetricKeyEncryption", public_key_id)
    try:
        aes_key: bytes | None = keys.rsa_oaep_decrypt(key, wrapped)
    except ValueError:
        aes_key = None
    if aes_key is not None and len(aes_key) != 32:
        aes_key = None
    return aes_key, iv


def session_for(
    principal: Principal,
    reference: str,
    *,
    kind: str | None = None,
    for_update: bool = False,
    fields: tuple[str, ...] = (),
) -> SimSession:
    """The caller's session (21173 for anybody else's); ``for_update`` locks it (inside a transaction)."""
    if not _REFERENCE.match(reference):
        raise bad_request(21173, f"Brak sesji o numerze referencyjnym {reference[:36]}.")
    sessions = SimSession.objects.select_for_update() if for_update else SimSession.objects.all()
    if fields:
        sessions = sessions.only(*fields)
    session = sessions.filter(
        reference_number=reference, context_type=principal.context_type, context_value=principal.context_value
    ).first()
    if session is None or (kind is not None and session.kind != kind):
        raise bad_request(21173, f"Brak sesji o numerze referencyjnym {reference}.")
    return session


def parse_datetime(value: Any, name: str) -> dt.datetime:
    """ISO-8601; a value without an offset is Europe/Warsaw local time (API 2.1.2)."""
    if not isinstance(value, str) or "\x00" in value:
        raise validation_error(f"Pole '{name}' musi być datą i czasem ISO-8601.")
    text = value.strip()
    try:
        parsed = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "Zz" else text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=WARSAW)
        return parsed.astimezone(dt.UTC)
    except (ValueError, OverflowError) as exc:
        raise validation_error(f"Pole '{name}' musi być datą i czasem ISO-8601.") from exc

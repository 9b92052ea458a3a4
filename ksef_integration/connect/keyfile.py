"""Reading an uploaded private key without letting the file decide how long it takes.

A password-protected PKCS#8 key names its own key-derivation cost (PBKDF2 iterations, scrypt N/r/p): a file
asking for 2**31 - 1 iterations would keep a web worker busy for minutes. ``encryption_check`` reads those
parameters from the ASN.1 (cheap, nothing is decrypted) and refuses costs above what any real tool writes;
``private_key_load`` then decrypts in a separate process with a time limit, as a second line of defence.
No Django here: the same module is the child process (``python -m ksef_integration.connect.keyfile``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.asn1 import TLV, decode_der, sequence
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

# OpenSSL writes 2048 PBKDF2 iterations, cryptography and KSeF's application far fewer than a million; 10
# million take about a second here. scrypt: OpenSSL's default is N=2¹⁴, r=8, p=1 (16 MiB).
PBKDF2_MAX_ITERATIONS = 10_000_000
PBE_MAX_ITERATIONS = 10_000_000  # PKCS#5 v1 and PKCS#12 schemes (salt + iteration count)
SCRYPT_MAX_MEMORY = 128 * 1024 * 1024  # bytes: 128·N·r
SCRYPT_MAX_WORK = 2**22  # N·r·p
SCRYPT_MAX_P = 16
LOAD_SECONDS = 15.0  # the child's time limit (a legitimate key takes well under a second)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
Outcome = Literal["ok", "password_needed", "password_wrong", "unreadable", "unsupported", "too_slow"]

_PBES2 = "1.2.840.113549.1.5.13"
_PBKDF2 = "1.2.840.113549.1.5.12"
_SCRYPT = "1.3.6.1.4.1.11591.4.11"
_PBE_FAMILIES = ("1.2.840.113549.1.5.", "1.2.840.113549.1.12.1.")  # PKCS#5 v1.5, PKCS#12 PBE
_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)


class KeyFileRefused(Exception):
    """The key file is refused before anything is decrypted; ``reason`` says why (no secret in it)."""

    def __init__(self, reason: Literal["kdf_too_costly", "unsupported"]) -> None:
        super().__init__(reason)
        self.reason = reason


@sequence
class _AlgorithmIdentifier:
    algorithm: x509.ObjectIdentifier
    parameters: TLV


@sequence
class _EncryptedPrivateKeyInfo:
    encryption_algorithm: _AlgorithmIdentifier
    encrypted_data: bytes


@sequence
class _Pbes2Params:
    key_derivation_func: _AlgorithmIdentifier
    encryption_scheme: _AlgorithmIdentifier


@sequence
class _Pbkdf2Params:
    salt: bytes
    iteration_count: int
    key_length: int | None
    prf: _AlgorithmIdentifier | None


@sequence
class _ScryptParams:
    salt: bytes
    cost_parameter: int
    block_size: int
    parallelization_parameter: int
    key_length: int | None


@sequence
class _PbeParams:
    salt: bytes
    iterations: int


def _encrypted_infos(data: bytes) -> list[bytes]:
    """The DER of every PKCS#8 EncryptedPrivateKeyInfo the file may hold (PEM blocks, or the file as DER)."""
    blocks = []
    for label, body in _PEM.findall(data):
        if label != b"ENCRYPTED PRIVATE KEY":
            continue
        try:
            blocks.append(base64.b64decode(re.sub(rb"\s+", b"", body) + b"==", validate=False))
        except binascii.Error:
            continue  # not base64: the loader cannot read it either, at no cost
    return blocks if blocks or b"-----BEGIN" in data else [data]


def _check_kdf(info: _EncryptedPrivateKeyInfo) -> None:
    algorithm = info.encryption_algorithm.algorithm.dotted_string
    parameters = info.encryption_algorithm.parameters
    try:
        if algorithm == _PBES2:
            kdf = parameters.parse(_Pbes2Params).key_derivation_func
            kdf_algorithm = kdf.algorithm.dotted_string
            if kdf_algorithm == _PBKDF2:
                if not 0 < kdf.parameters.parse(_Pbkdf2Params).iteration_count <= PBKDF2_MAX_ITERATIONS:
                    raise KeyFileRefused("kdf_too_costly")
                return
            if kdf_algorithm == _SCRYPT:
                scrypt = kdf.parameters.parse(_ScryptParams)
                n, r, p = scrypt.cost_parameter, scrypt.block_size, scrypt.parallelization_parameter
                if min(n, r, p) <= 0 or p > SCRYPT_MAX_P or 128 * n * r > SCRYPT_MAX_MEMORY:
                    raise KeyFileRefused("kdf_too_costly")
                if n * r * p > SCRYPT_MAX_WORK:
                    raise KeyFileRefused("kdf_too_costly")
                return
            raise KeyFileRefused("unsupported")
        if algorithm.startswith(_PBE_FAMILIES):
            if not 0 < parameters.parse(_PbeParams).iterations <= PBE_MAX_ITERATIONS:
                raise KeyFileRefused("kdf_too_costly")
            return
    except ValueError as exc:  # parameters that do not parse as their scheme says
        raise KeyFileRefused("unsupported") from exc
    raise KeyFileRefused("unsupported")


def encryption_check(*, data: bytes) -> None:
    """Refuse a PKCS#8-encrypted key whose key derivation would cost more than any real key's does.

    Keys that are not PKCS#8-encrypted pass (plain keys, and OpenSSL's traditional PEM encryption, which
    derives its key with one MD5 round); so does anything that is no key at all (loading it fails later).
    """
    for der in _encrypted_infos(data):
        try:
            info = decode_der(_EncryptedPrivateKeyInfo, der)
        except ValueError:
            continue  # not an EncryptedPrivateKeyInfo: a plain or unreadable key, which costs nothing to try
        _check_kdf(info)


# --- the decryption, in a child process ------------------------------------------------------------


@dataclass(frozen=True)
class _Loaded:
    outcome: Outcome
    pkcs8: bytes = b""


def _load_here(data: bytes, password: bytes | None) -> _Loaded:
    """The loading itself (run in the child): the key as unencrypted PKCS#8 DER, or why not."""
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except TypeError:  # encrypted key without a password, or a password for a plain key
        if password is None:
            return _Loaded("password_needed")
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError):
            return _Loaded("unreadable")
    except ValueError:
        if password is not None and b"ENCRYPTED" in data:
            return _Loaded("password_wrong")
        try:
            key = serialization.load_der_private_key(data, password=password)
        except TypeError:
            return _Loaded("password_needed" if password is None else "unreadable")
        except ValueError:
            return _Loaded(
                "password_wrong" if password is not None and _is_pkcs8_encrypted(data) else "unreadable"
            )
    except Exception:
        return _Loaded("unreadable")
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        return _Loaded("unsupported")
    return _Loaded(
        "ok",
        key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )


def _is_pkcs8_encrypted(data: bytes) -> bool:
    try:
        decode_der(_EncryptedPrivateKeyInfo, data)
    except ValueError:
        return False
    return True


def _child() -> None:
    request = json.loads(sys.stdin.read())
    password = request["password"]
    loaded = _load_here(
        base64.b64decode(request["key"]), None if password is None else base64.b64decode(password)
    )
    sys.stdout.write(
        json.dumps({"outcome": loaded.outcome, "pkcs8": base64.b64encode(loaded.pkcs8).decode()})
    )


def private_key_load(
    *, data: bytes, password: bytes | None, seconds: float = LOAD_SECONDS
) -> tuple[Outcome, PrivateKey | None]:
    """Check the key's derivation cost, then decrypt it in a child process killed after ``seconds``.

    Returns the outcome and, for "ok", the key. Raises ``KeyFileRefused`` before any decryption.
    """
    encryption_check(data=data)
    request = json.dumps(
        {
            "key": base64.b64encode(data).decode(),
            "password": None if password is None else base64.b64encode(password).decode(),
        }
    )
    try:
        finished = subprocess.run(  # noqa: S603 (this interpreter, this module; the secrets go over stdin)
            [sys.executable, "-E", "-s", "-m", __name__],
            input=request.encode(),
            capture_output=True,
            timeout=seconds,
            cwd=Path(__file__).resolve().parents[2],  # the checkout, where the package is
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "too_slow", None
    try:
        answer = json.loads(finished.stdout)
        outcome: Outcome = answer["outcome"]
        pkcs8 = base64.b64decode(answer["pkcs8"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        return "unreadable", None
    if outcome != "ok":
        return outcome, None
    key = serialization.load_der_private_key(pkcs8, password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        return "unsupported", None
    return "ok", key


if __name__ == "__main__":
    _child()

"""KSeF cryptography (ksef-api.md §4.2, §6.1, §10.2): RSA-OAEP-SHA256 for the KSeF token and the AES key,
AES-256-CBC/PKCS#7 with the IV sent separately (no IV prefix), SHA-256 in Base64 and base64url."""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import MGF1, OAEP
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ksef_integration.ksef.errors import KsefError
from ksef_integration.ksef.secret import Secret

AES_KEY_SIZE = 32
AES_IV_SIZE = 16


def b64(data: bytes) -> str:
    """Standard Base64 with padding (every ``format: byte`` field)."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def b64url(data: bytes) -> str:
    """Base64url without ``=`` padding (QR links)."""
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def sha256_b64(data: bytes) -> str:
    """SHA-256 in standard Base64: 44 characters, as in ``invoiceHash``."""
    return b64(sha256(data))


def _oaep() -> OAEP:
    return OAEP(mgf=MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def rsa_oaep_encrypt(*, public_key: rsa.RSAPublicKey, data: bytes) -> bytes:
    """RSAES-OAEP with SHA-256 and MGF1-SHA-256, empty label."""
    return public_key.encrypt(data, _oaep())


def rsa_oaep_decrypt(*, private_key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    """The inverse of ``rsa_oaep_encrypt`` (useful in tests and tools)."""
    return private_key.decrypt(data, _oaep())


def token_encrypt(*, public_key: rsa.RSAPublicKey, token: Secret, timestamp_ms: int) -> str:
    """``encryptedToken``: Base64(RSA-OAEP(``<token>|<timestampMs>``))."""
    plain = f"{token.reveal()}|{int(timestamp_ms)}".encode()
    return b64(rsa_oaep_encrypt(public_key=public_key, data=plain))


@dataclass(frozen=True, repr=False)
class AesKey:
    """A 32-byte AES key and a 16-byte IV for one session or export. Its repr shows neither."""

    key: bytes
    iv: bytes

    def __post_init__(self) -> None:
        if len(self.key) != AES_KEY_SIZE or len(self.iv) != AES_IV_SIZE:
            raise ValueError("AES-256-CBC needs a 32-byte key and a 16-byte IV")

    def __repr__(self) -> str:
        return "AesKey(…)"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("AesKey cannot be pickled")

    @classmethod
    def generate(cls) -> AesKey:
        return cls(key=os.urandom(AES_KEY_SIZE), iv=os.urandom(AES_IV_SIZE))

    def encrypt(self, data: bytes) -> bytes:
        """AES-256-CBC with PKCS#7 padding; the output is the bare ciphertext (no IV prefix)."""
        padder = padding.PKCS7(128).padder()
        padded = padder.update(data) + padder.finalize()
        encryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.iv)).encryptor()
        return encryptor.update(padded) + encryptor.finalize()

    def decrypt(self, data: bytes) -> bytes:
        if len(data) % 16:
            raise KsefError("encrypted data is not a whole number of AES blocks")
        decryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.iv)).decryptor()
        padded = decryptor.update(data) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        try:
            return unpadder.update(padded) + unpadder.finalize()
        except ValueError:
            raise KsefError("cannot decrypt: wrong key or IV, or damaged data") from None

    def encryption_json(self, *, public_key: rsa.RSAPublicKey, public_key_id: str | None) -> dict[str, str]:
        """The ``encryption`` object of session, batch and export requests."""
        body = {
            "encryptedSymmetricKey": b64(rsa_oaep_encrypt(public_key=public_key, data=self.key)),
            "initializationVector": b64(self.iv),
        }
        if public_key_id:
            body["publicKeyId"] = public_key_id
        return body

"""The simulator's RSA keys: one per usage, self-signed, valid around now, stable across restarts."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from django.db import transaction

from ksef_simulator.models import SimulatorKey
from ksef_simulator.responses import bad_request, iso, now_utc

KEY_VALIDITY = dt.timedelta(days=2 * 365)
_OAEP = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def _b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def self_signed_builder(
    *, key: rsa.RSAPrivateKey, common_name: str, validity: dt.timedelta
) -> x509.CertificateBuilder:
    """A self-signed certificate of the simulator (its MF keys, its KSeF CA), valid from a day ago, to be
    completed with extensions and signed with ``key``."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Symulator KSeF"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    start = now_utc() - dt.timedelta(days=1)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        # 16 hex digits like KSeF's certificates (x509.random_serial_number() gives about 40).
        .serial_number(2**56 + secrets.randbelow(2**63 - 2**56))
        .not_valid_before(start)
        .not_valid_after(start + validity)
    )


def _create(usage: str) -> SimulatorKey:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    certificate = self_signed_builder(
        key=private_key, common_name="Ministerstwo Finansów (symulator)", validity=KEY_VALIDITY
    ).sign(private_key, hashes.SHA256())
    der = certificate.public_bytes(serialization.Encoding.DER)
    spki = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return SimulatorKey.objects.create(
        usage=usage,
        private_key_pem=private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        certificate_der=der,
        public_key_id=_b64_sha256(spki),
        certificate_id=_b64_sha256(der),
        valid_from=certificate.not_valid_before_utc,
        valid_to=certificate.not_valid_after_utc,
    )


PUBLISHED = (SimulatorKey.Usage.KSEF_TOKEN_ENCRYPTION, SimulatorKey.Usage.SYMMETRIC_KEY_ENCRYPTION)


def _valid(usages: tuple[str, ...]) -> list[SimulatorKey]:
    """The valid keys of ``usages``, at least one per usage (created on first use)."""
    now = now_utc()
    with transaction.atomic():
        keys = list(
            SimulatorKey.objects.filter(
                usage__in=usages, withdrawn=False, valid_from__lte=now, valid_to__gt=now
            )
        )
        for usage in usages:
            if not any(k.usage == usage for k in keys):
                keys.append(_create(usage))
    return sorted(keys, key=lambda k: (k.usage, -k.valid_from.timestamp()))


def active_keys() -> list[SimulatorKey]:
    """The keys to publish (the two encryption usages)."""
    return _valid(PUBLISHED)


def upo_signing_key() -> SimulatorKey:
    """The key and certificate ("Ministerstwo Finansów (symulator)") the simulator seals UPOs with."""
    return _valid((SimulatorKey.Usage.UPO_SIGNING,))[0]


def key_for(usage: str, public_key_id: str | None) -> SimulatorKey:
    """The key a client encrypted with: by ``publicKeyId`` if given (21470 when unknown), else the newest."""
    keys = [k for k in active_keys() if k.usage == usage]
    if public_key_id is None:
        return keys[0]
    for key in keys:
        if key.public_key_id == public_key_id:
            return key
    raise bad_request(21470, "Przesłany identyfikator klucza jest nieznany lub wskazuje na wycofany klucz.")


def rsa_oaep_decrypt(key: SimulatorKey, ciphertext: bytes) -> bytes:
    """RSA-OAEP with SHA-256 and MGF1-SHA-256; raises ValueError when the ciphertext does not decrypt."""
    private_key = serialization.load_pem_private_key(key.private_key_pem.encode(), password=None)
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA key")
    return private_key.decrypt(ciphertext, _OAEP)


def public_key_certificate_json(key: SimulatorKey) -> dict[str, object]:
    return {
        "certificate": base64.b64encode(bytes(key.certificate_der)).decode(),
        "certificateId": key.certificate_id,
        "publicKeyId": key.public_key_id,
        "validFrom": iso(key.valid_from),
        "validTo": iso(key.valid_to),
        "usage": [key.usage],
    }

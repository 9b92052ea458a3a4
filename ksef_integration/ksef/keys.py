"""KSeF's public key certificates (ksef-api.md §3): fetch, cache, select by usage and validity, and the
"21470 → re-fetch once and retry that one call" rule for key rotation."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from ksef_integration.ksef._values import as_dict, as_list, parse_datetime, require, str_list
from ksef_integration.ksef.crypto import b64decode
from ksef_integration.ksef.errors import KsefError, KsefTransientError, KsefUnknownKey
from ksef_integration.ksef.http import KsefHttp

log = logging.getLogger("ksef")

TOKEN_ENCRYPTION = "KsefTokenEncryption"  # noqa: S105 (a key usage name, not a password)
SYMMETRIC_KEY_ENCRYPTION = "SymmetricKeyEncryption"

T = TypeVar("T")


@dataclass(frozen=True)
class PublicKeyCertificate:
    """One entry of ``GET /security/public-key-certificates``."""

    certificate_der: bytes = field(repr=False)
    certificate_id: str
    public_key_id: str
    valid_from: datetime
    valid_to: datetime
    usage: frozenset[str]

    def is_valid_at(self, moment: datetime) -> bool:
        return self.valid_from <= moment < self.valid_to

    def public_key(self) -> rsa.RSAPublicKey:
        key = x509.load_der_x509_certificate(self.certificate_der).public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise KsefError("KSeF published a non-RSA encryption key, which this client does not support")
        return key


def certificates_parse(data: object) -> list[PublicKeyCertificate]:
    if not isinstance(data, list):
        raise KsefTransientError("KSeF sent an unexpected public key list")
    found = []
    for item in as_list(data):
        item = as_dict(item)
        try:
            der = b64decode(str(require(item, "certificate")))
        except ValueError:
            raise KsefTransientError("KSeF sent a public key certificate that is not Base64") from None
        found.append(
            PublicKeyCertificate(
                certificate_der=der,
                certificate_id=str(item.get("certificateId") or ""),
                public_key_id=str(require(item, "publicKeyId")),
                valid_from=parse_datetime(require(item, "validFrom")),
                valid_to=parse_datetime(require(item, "validTo")),
                usage=frozenset(str_list(item.get("usage"))),
            )
        )
    return found


def certificate_select(
    certificates: list[PublicKeyCertificate], *, usage: str, moment: datetime
) -> PublicKeyCertificate | None:
    """The certificate for ``usage`` valid at ``moment``; among several, the latest ``validFrom``."""
    valid = [c for c in certificates if usage in c.usage and c.is_valid_at(moment)]
    return max(valid, key=lambda c: c.valid_from, default=None)


class PublicKeyStore:
    """Caches KSeF's key list for ``ttl`` and hands out the right certificate per usage."""

    def __init__(
        self,
        *,
        http: KsefHttp,
        ttl: timedelta = timedelta(hours=6),
        clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC),
    ) -> None:
        self._http = http
        self._ttl = ttl
        self._clock = clock
        self._certificates: list[PublicKeyCertificate] = []
        self._fetched_at: datetime | None = None
        # Called after every fetch, e.g. to share the list with stores built later in the same process.
        self.on_fetch: Callable[[PublicKeyStore], None] | None = None

    def fetch(self) -> list[PublicKeyCertificate]:
        """Fetch the list now (no auth) and cache it."""
        self._certificates = certificates_parse(self._http.call("GET", "/security/public-key-certificates"))
        self._fetched_at = self._clock()
        if self.on_fetch is not None:
            self.on_fetch(self)
        return list(self._certificates)

    def snapshot(self) -> tuple[list[PublicKeyCertificate], datetime | None]:
        """The cached list and when it was fetched, to hand to another store (e.g. the next client)."""
        return list(self._certificates), self._fetched_at

    def preload(self, certificates: list[PublicKeyCertificate], fetched_at: datetime | None) -> None:
        """Start from a list fetched earlier; it still expires ``ttl`` after ``fetched_at``."""
        self._certificates = list(certificates)
        self._fetched_at = fetched_at

    def get(self, *, usage: str) -> PublicKeyCertificate:
        """The certificate to use now for ``usage``; fetched when the cache is stale or has none valid."""
        now = self._clock()
        fresh = self._fetched_at is None or now - self._fetched_at >= self._ttl
        if fresh:
            self.fetch()
        chosen = certificate_select(self._certificates, usage=usage, moment=now)
        if chosen is None and not fresh:
            self.fetch()
            chosen = certificate_select(self._certificates, usage=usage, moment=now)
        if chosen is None:
            raise KsefError(f"KSeF publishes no valid public key for {usage}")
        return chosen

    def with_key(self, *, usage: str, call: Callable[[PublicKeyCertificate], T]) -> T:
        """Run ``call`` with the current key; on 21470 re-fetch the keys once and run it once more.

        ``call`` must build (encrypt) its request from the certificate it is given each time.
        """
        certificate = self.get(usage=usage)
        try:
            return call(certificate)
        except KsefUnknownKey:
            log.info(
                "KSeF rejected public key %s (21470); re-fetching the key list", certificate.public_key_id
            )
            self.fetch()
            return call(self.get(usage=usage))

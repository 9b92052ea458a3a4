"""Public key certificates: selection by usage and validity, caching, and the 21470 re-fetch rule."""

from __future__ import annotations

from datetime import timedelta

import pytest
import responses

from ksef_integration.ksef.errors import KsefError, KsefUnknownKey
from ksef_integration.ksef.http import KsefHttp
from ksef_integration.ksef.keys import (
    SYMMETRIC_KEY_ENCRYPTION,
    TOKEN_ENCRYPTION,
    PublicKeyCertificate,
    PublicKeyStore,
    certificate_select,
    certificates_parse,
)
from tests.ksef_integration.ksef.conftest import BASE, NOW, MfKey, mf_key

KEYS_URL = f"{BASE}/security/public-key-certificates"


def store(clock_value: list | None = None) -> PublicKeyStore:
    moments = clock_value or [NOW]
    return PublicKeyStore(http=KsefHttp(base_url=BASE), clock=lambda: moments[0])


def test_parse_and_select_by_usage(token_key: MfKey, symmetric_key: MfKey):
    certificates = certificates_parse([token_key.as_json(), symmetric_key.as_json()])
    chosen = certificate_select(certificates, usage=TOKEN_ENCRYPTION, moment=NOW)
    assert chosen is not None
    assert chosen.public_key_id == token_key.public_key_id
    assert chosen.public_key().public_numbers() == token_key.private_key.public_key().public_numbers()
    other = certificate_select(certificates, usage=SYMMETRIC_KEY_ENCRYPTION, moment=NOW)
    assert other is not None
    assert other.public_key_id == symmetric_key.public_key_id


def test_latest_valid_from_wins_and_expired_or_future_keys_are_skipped():
    old = mf_key(SYMMETRIC_KEY_ENCRYPTION, index=1, valid_from=NOW - timedelta(days=300))
    newer = mf_key(SYMMETRIC_KEY_ENCRYPTION, index=2, valid_from=NOW - timedelta(days=10))
    future = mf_key(SYMMETRIC_KEY_ENCRYPTION, index=3, valid_from=NOW + timedelta(days=1))
    expired = mf_key(
        SYMMETRIC_KEY_ENCRYPTION,
        index=0,
        valid_from=NOW - timedelta(days=5),
        valid_to=NOW - timedelta(seconds=1),
    )
    certificates = certificates_parse([old.as_json(), future.as_json(), newer.as_json(), expired.as_json()])
    chosen = certificate_select(certificates, usage=SYMMETRIC_KEY_ENCRYPTION, moment=NOW)
    assert chosen is not None
    assert chosen.public_key_id == newer.public_key_id
    assert certificate_select(certificates, usage=TOKEN_ENCRYPTION, moment=NOW) is None


def test_store_caches_the_list(mocked: responses.RequestsMock, keys_served: None, token_key: MfKey):
    keys = store()
    assert keys.get(usage=TOKEN_ENCRYPTION).public_key_id == token_key.public_key_id
    keys.get(usage=SYMMETRIC_KEY_ENCRYPTION)
    keys.get(usage=TOKEN_ENCRYPTION)
    assert len(mocked.calls) == 1


def test_store_refetches_after_ttl(mocked: responses.RequestsMock, keys_served: None):
    moments = [NOW]
    keys = store(moments)
    keys.get(usage=TOKEN_ENCRYPTION)
    moments[0] = NOW + timedelta(hours=7)
    keys.get(usage=TOKEN_ENCRYPTION)
    assert len(mocked.calls) == 2


def test_no_valid_key_is_a_clear_error(mocked: responses.RequestsMock, token_key: MfKey):
    mocked.get(KEYS_URL, json=[token_key.as_json()])
    with pytest.raises(KsefError, match="no valid public key for SymmetricKeyEncryption"):
        store().get(usage=SYMMETRIC_KEY_ENCRYPTION)


def test_21470_refetches_once_and_retries_with_the_new_key(mocked: responses.RequestsMock):
    old = mf_key(SYMMETRIC_KEY_ENCRYPTION, index=1)
    new = mf_key(SYMMETRIC_KEY_ENCRYPTION, index=2)
    mocked.get(KEYS_URL, json=[old.as_json()])
    keys = store()
    keys.get(usage=SYMMETRIC_KEY_ENCRYPTION)
    mocked.replace(responses.GET, KEYS_URL, json=[new.as_json()])
    used: list[str] = []

    def call(certificate: PublicKeyCertificate) -> str:
        used.append(certificate.public_key_id)
        if certificate.public_key_id == old.public_key_id:
            raise KsefUnknownKey(21470, ["withdrawn"])
        return "ok"

    assert keys.with_key(usage=SYMMETRIC_KEY_ENCRYPTION, call=call) == "ok"
    assert used == [old.public_key_id, new.public_key_id]
    assert len([c for c in mocked.calls if c.request.url == KEYS_URL]) == 2


def test_21470_twice_gives_up(mocked: responses.RequestsMock, keys_served: None):
    attempts: list[int] = []

    def call(certificate: PublicKeyCertificate) -> None:
        attempts.append(1)
        raise KsefUnknownKey(21470)

    with pytest.raises(KsefUnknownKey):
        store().with_key(usage=TOKEN_ENCRYPTION, call=call)
    assert len(attempts) == 2
    assert len(mocked.calls) == 2  # the first fetch and exactly one re-fetch

"""Crypto round trips: RSA-OAEP-SHA256, AES-256-CBC without IV prefix, SHA-256 in Base64, base64url."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ksef_integration.ksef.crypto import (
    AesKey,
    b64url,
    b64url_decode,
    rsa_oaep_decrypt,
    rsa_oaep_encrypt,
    sha256_b64,
    token_encrypt,
)
from ksef_integration.ksef.errors import KsefError
from ksef_integration.ksef.secret import Secret
from tests.ksef_integration.ksef.conftest import rsa_key

KEY = AesKey(key=bytes(range(32)), iv=bytes(range(16, 32)))


def test_token_encryption_decrypts_to_token_pipe_timestamp():
    private = rsa_key(0)
    token = Secret("20251010-EC-1DCE3E3000-12ECB5B36E-45|nip-5265877635|" + "ab" * 32)
    encrypted = token_encrypt(public_key=private.public_key(), token=token, timestamp_ms=1752236636015)
    plain = rsa_oaep_decrypt(private_key=private, data=base64.b64decode(encrypted))
    assert plain == (token.reveal() + "|1752236636015").encode()


def test_oaep_is_randomised_but_round_trips():
    private = rsa_key(0)
    first = rsa_oaep_encrypt(public_key=private.public_key(), data=b"k" * 32)
    second = rsa_oaep_encrypt(public_key=private.public_key(), data=b"k" * 32)
    assert first != second
    assert rsa_oaep_decrypt(private_key=private, data=first) == b"k" * 32


@given(st.binary(max_size=3000))
def test_aes_round_trip_and_length_without_iv_prefix(data: bytes):
    encrypted = KEY.encrypt(data)
    assert len(encrypted) == 16 * (len(data) // 16 + 1)
    assert KEY.decrypt(encrypted) == data


def test_aes_matches_the_spec_example_sizes():
    assert len(KEY.encrypt(b"x" * 16037)) == 16048


def test_aes_ciphertext_does_not_start_with_the_iv():
    assert not KEY.encrypt(b"hello").startswith(KEY.iv)


def test_aes_with_the_wrong_key_fails_clearly():
    other = AesKey(key=bytes(32), iv=KEY.iv)
    with pytest.raises(KsefError):
        other.decrypt(KEY.encrypt(b"a longer message that spans several AES blocks....."))
    with pytest.raises(KsefError, match="whole number"):
        KEY.decrypt(b"123")


def test_aes_key_sizes_are_checked():
    with pytest.raises(ValueError, match="32-byte key"):
        AesKey(key=b"short", iv=bytes(16))


def test_fresh_keys_differ():
    assert AesKey.generate().key != AesKey.generate().key


def test_encryption_json_wraps_the_key():
    private = rsa_key(1)
    body = KEY.encryption_json(public_key=private.public_key(), public_key_id="id" * 22)
    assert (
        rsa_oaep_decrypt(private_key=private, data=base64.b64decode(body["encryptedSymmetricKey"])) == KEY.key
    )
    assert base64.b64decode(body["initializationVector"]) == KEY.iv
    assert body["publicKeyId"] == "id" * 22


def test_sha256_b64_is_44_chars_standard_base64():
    digest = sha256_b64(b"<Faktura/>")
    assert len(digest) == 44
    assert base64.b64decode(digest) == hashlib.sha256(b"<Faktura/>").digest()


@given(st.binary(max_size=200))
def test_base64url_has_no_padding_and_round_trips(data: bytes):
    text = b64url(data)
    assert "=" not in text
    assert "+" not in text
    assert "/" not in text
    assert b64url_decode(text) == data

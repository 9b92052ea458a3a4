"""Secrets never show up in repr, str, exception messages or logs."""

from __future__ import annotations

import logging
import pickle

import pytest
import responses

from ksef_integration.ksef.client import KsefClient
from ksef_integration.ksef.crypto import AesKey
from ksef_integration.ksef.errors import KsefAuthError
from ksef_integration.ksef.identifiers import KsefToken
from ksef_integration.ksef.secret import Secret
from tests.ksef_integration.ksef.conftest import tokens
from tests.ksef_integration.ksef.test_auth import TOKEN_TEXT, fresh_client, serve_login

SECRET_PART = TOKEN_TEXT.rsplit("|", 1)[1]


def test_secret_shows_only_the_last_four():
    secret = Secret("super-secret-value-WXYZ")
    for shown in (repr(secret), str(secret), f"{secret}", f"{secret!r}", "%s" % secret):  # noqa: UP031
        assert "super-secret" not in shown
        assert shown.endswith("WXYZ')") or shown.endswith("WXYZ")
    assert secret.reveal() == "super-secret-value-WXYZ"
    assert "abc" not in repr(Secret("abc"))


def test_secret_refuses_pickling():
    with pytest.raises(TypeError):
        pickle.dumps(Secret("x" * 20))
    with pytest.raises(TypeError):
        pickle.dumps(AesKey.generate())


def test_token_and_tokens_reprs_are_masked():
    token = KsefToken.parse(TOKEN_TEXT)
    auth_tokens = tokens()
    for shown in (repr(token), str(token), repr(auth_tokens), str(auth_tokens), repr(AesKey.generate())):
        assert SECRET_PART[:-4] not in shown
        assert "access-jwt-012345" not in shown
        assert "refresh-jwt-98765" not in shown
    assert "20251010-EC-1DCE3E3000-12ECB5B36E-45" in repr(token)  # the reference number is not a secret


def test_login_logs_and_errors_carry_no_secrets(
    mocked: responses.RequestsMock, keys_served: None, caplog: pytest.LogCaptureFixture
):
    serve_login(mocked, statuses=[{"code": 450, "description": "x", "details": ["Nieprawidłowy token"]}])
    client = fresh_client()
    with caplog.at_level(logging.DEBUG), pytest.raises(KsefAuthError) as caught:
        client.login_with_token(token=TOKEN_TEXT)
    shown = caplog.text + str(caught.value) + repr(caught.value) + repr(client)
    assert caplog.records  # something was logged, so the check below means something
    for secret in (SECRET_PART, "operation-jwt-AAAA1111", TOKEN_TEXT):
        assert secret not in shown


def test_successful_login_logs_no_tokens(
    mocked: responses.RequestsMock, keys_served: None, caplog: pytest.LogCaptureFixture
):
    serve_login(mocked, statuses=[{"code": 200, "description": "ok"}])
    client: KsefClient = fresh_client()
    with caplog.at_level(logging.DEBUG):
        result = client.login_with_token(token=TOKEN_TEXT)
    shown = caplog.text + repr(result) + repr(client)
    for secret in (SECRET_PART, "operation-jwt-AAAA1111", "access-jwt-BBBB2222", "refresh-jwt-CCCC3333"):
        assert secret not in shown


def test_secrets_compare_by_value_in_constant_time():
    assert Secret("zażółć-gęślą-jaźń") == Secret("zażółć-gęślą-jaźń")
    assert Secret("a" * 20) != Secret("b" * 20)
    assert Secret("a" * 20) != "a" * 20

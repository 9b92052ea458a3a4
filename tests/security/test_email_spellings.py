# ruff: noqa: RUF001, RUF002, RUF003  (the letters this test is about appear in it on purpose)
"""Every spelling of an e-mail address that can log in to an account counts against that account's lockout,
and no other spelling logs in: letters whose case forms are ASCII (PostgreSQL: UPPER('ı') = 'I',
UPPER('ſ') = 'S') neither reach another account nor start a new one."""

from __future__ import annotations

import sys
import unicodedata
from typing import Any

import pytest
from django.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts import services
from accounts.emails import email_lockout_key, email_normalize
from accounts.errors import ApplicationError
from accounts.forms import InvitationForm, SignUpForm
from accounts.models import User
from tests.conftest import PASSWORD
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
URL = "/logowanie/"


def _ascii_letters(value: str) -> str:
    return "".join(ch for ch in value if ch.isascii() and ch.isalpha())


def _folding_letters() -> dict[str, str]:
    """Every non-ASCII code point c whose upper, lower, case-folded or NFKC form holds ASCII letters, with
    those letters (lower case), generated from Python's Unicode tables rather than listed by hand."""
    found = {}
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if char.isascii():
            continue
        for form in (char.upper(), char.lower(), char.casefold(), unicodedata.normalize("NFKC", char)):
            letters = _ascii_letters(form).lower()
            if letters:
                found[char] = letters
                break
    return found


FOLDING = _folding_letters()
# The ones a database's per-character case mapping turns into one ASCII letter: the dangerous ones.
SINGLE = {
    c: letters
    for c, letters in FOLDING.items()
    if (len(c.upper()) == 1 and c.upper().isascii()) or c.lower().isascii()
}


def test_the_generated_set_holds_the_known_cases() -> None:
    assert {"ı", "ſ", "\u212a", "ß", "ﬀ", "İ"} <= FOLDING.keys()  # U+212A: the Kelvin sign
    assert {"ı", "ſ", "\u212a"} <= SINGLE.keys()
    assert not {"ą", "ł", "ż", "ó", "ś"} & FOLDING.keys()  # Polish letters are ordinary letters


def _check_no_other_spelling_reaches(accounts: dict[str, User]) -> None:
    for char, letters in FOLDING.items():
        variant = f"q{char}z@example.com"
        real = f"q{letters}z@example.com"
        # A spelling logs in only to the account with its normal form (ｑ → q), and then it counts against
        # that account's lockout key; never by a database's case mapping (ı → I).
        try:
            user = User.objects.get_by_natural_key(variant)
        except User.DoesNotExist:
            user = None
        if user is not None:
            assert email_normalize(user.email) == email_normalize(variant), char
            assert email_lockout_key(user.email) == email_lockout_key(variant), char
        elif real in accounts:
            assert email_normalize(real) != email_normalize(variant), char
        # And none starts an account of its own.
        form = SignUpForm(data={"email": variant})
        form.is_valid()
        assert "email" in form.errors, char
        assert "email" in InvitationForm(data={"email": variant, "role": "viewer"}).errors
    for char, letters in SINGLE.items():
        assert email_lockout_key(f"q{char}z@example.com") == email_lockout_key(f"q{letters}z@example.com")


def _accounts() -> dict[str, User]:
    emails = {f"q{letters}z@example.com" for letters in set(SINGLE.values()) | {"sisi"}}
    return {email: UserFactory.create(email=email) for email in sorted(emails)}


def test_no_spelling_reaches_another_account_sqlite() -> None:
    _check_no_other_spelling_reaches(_accounts())


def test_no_spelling_reaches_another_account_postgresql(postgres_and_redis: None) -> None:
    _check_no_other_spelling_reaches(_accounts())


def _login(client: Client, email: str, password: str) -> Any:
    return client.post(URL, {"username": email, "password": password}, REMOTE_ADDR="203.0.113.7")


def _locked_spellings_cannot_log_in() -> None:
    UserFactory.create(email="sisi@example.com")
    client = Client()
    assert [_login(client, "sisi@example.com", "wrong-password-1").status_code for _ in range(5)][-1] == 429
    for spelling in ("sısi@example.com", "sısı@example.com", "ſısı@example.com", "SISI@example.com"):
        response = _login(Client(), spelling, PASSWORD)
        assert response.status_code == 429, spelling  # the same lock, not 4 more guesses
        assert "_auth_user_id" not in client.session


def test_a_locked_address_stays_locked_under_every_spelling_sqlite() -> None:
    _locked_spellings_cannot_log_in()


def test_a_locked_address_stays_locked_under_every_spelling_postgresql(postgres_and_redis: None) -> None:
    _locked_spellings_cannot_log_in()


def test_a_dotless_spelling_with_the_right_password_does_not_log_in(postgres_and_redis: None) -> None:
    UserFactory.create(email="sisi@example.com")
    client = Client()
    assert _login(client, "ſısı@example.com", PASSWORD).status_code == 200
    assert "_auth_user_id" not in client.session
    assert _login(client, "sisi@example.com", PASSWORD).status_code == 302


def test_the_services_refuse_such_addresses_too(alice: User, company_a: Any) -> None:
    with pytest.raises(ApplicationError) as refused:
        services.invitation_create(
            company=company_a, email="sısı@example.com", role="viewer", invited_by=alice
        )
    assert refused.value.code == "email_letters"


SPELLINGS = [
    str.upper,
    str.lower,
    str.casefold,
    str.title,
    lambda value: unicodedata.normalize("NFKD", value),
]


@settings(deadline=None, max_examples=300)
@given(st.text(min_size=1, max_size=12), st.sampled_from(SPELLINGS))
def test_spellings_with_one_normal_form_share_one_lockout_key(one: str, spell: Any) -> None:
    other = spell(one)
    if email_normalize(one) == email_normalize(other):
        assert email_lockout_key(one) == email_lockout_key(other)

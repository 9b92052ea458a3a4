# ruff: noqa: RUF002  (the letters this module is about appear in it on purpose)
"""One spelling of an e-mail address for logging in and for login throttling.

Databases compare case-insensitively with their own case mapping: on PostgreSQL ``UPPER('ı') = 'I'`` and
``UPPER('ſ') = 'S'``, so ``ſısı@…`` matched ``sisi@…`` with ``iexact`` while django-axes counted it under
another key. The rule: an address is compared in its normal form (NFKC, case-folded); the login matches an
account only when the normal forms are equal (never by the database's case mapping); the lockout key also
folds every letter whose case forms contain ASCII letters to those letters, so every spelling that could
reach an account shares its counter; and no new address may contain such a letter (sign-up, invitations),
so no account is a look-alike of another.
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


def _nfkc(value: str) -> str:
    return unicodedata.normalize("NFKC", value)


def email_normalize(raw: str) -> str:
    """The address as compared: NFKC, case-folded, NFKC again (case folding can undo the first)."""
    return _nfkc(_nfkc(raw.strip()).casefold())


def _ascii_letters(value: str) -> str:
    return "".join(ch for ch in value if ch.isascii() and ch.isalpha())


def letter_folds_to_ascii(char: str) -> bool:
    """A non-ASCII character one of whose case or compatibility forms contains ASCII letters (ı → I,
    ſ → S, K (Kelvin) → k, ﬀ → FF, ß → SS, ｅ → e)."""
    if char.isascii():
        return False
    return any(_ascii_letters(form) for form in (char.upper(), char.lower(), char.casefold(), _nfkc(char)))


def _fold(char: str) -> str:
    if not letter_folds_to_ascii(char):
        return char
    for form in (_nfkc(char.upper()).casefold(), _nfkc(char).casefold(), char.casefold(), char.lower()):
        letters = _ascii_letters(form).lower()
        if letters:
            return letters
    return char  # unreachable: letter_folds_to_ascii found ASCII letters in one of these forms


def email_lockout_key(raw: str) -> str:
    """What a login attempt counts against: the normal form with every such letter folded to its ASCII
    letters (``sısı@`` → ``sisi@``). A function of the normal form, so every spelling that logs in to an
    account shares its counter, and so do the spellings a database's case mapping would have matched."""
    return "".join(_fold(char) for char in email_normalize(raw))


def validate_email_letters(value: str) -> None:
    """Refuse a new address with a letter that stands for ASCII letters in another case or form."""
    odd = sorted({char for char in value if letter_folds_to_ascii(char)})
    if odd:
        raise ValidationError(
            _(
                "This e-mail address contains characters that stand for ordinary letters in another form "
                "(%(characters)s). Type the address with ordinary letters."
            ),
            code="email_letters",
            params={"characters": " ".join(odd)},
        )

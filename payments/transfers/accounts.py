"""Polish account numbers (NRB) and IBANs: normalising, check digits, the bank sort code inside.

Rules and their sources:

- An NRB is 26 digits: 2 check digits, the 8-digit bank sort code (numer rozliczeniowy), 16 digits of the
  account. ``PL`` + NRB is the IBAN, so the check digits are the IBAN's ISO 7064 MOD 97-10 ones (the NBP
  President's order on the numbering of bank accounts, which defines NRB and IBAN; ISO 13616).
  Checked with python-stdnum's ``stdnum.iban`` (already
  chosen for NIPs; schwifty would add its bank registry, which nothing here needs).
- The sort code's 8th digit is its own check digit: weights 3, 9, 7, 1, 3, 9, 7 over the first seven,
  check = (10 - sum mod 10) mod 10 (the NBP rule for numery rozliczeniowe; e.g. 1090 1014 → 4, 1020 2964 → 4).
- Foreign IBANs are recognised (``DE…``) and refused where only domestic transfers are allowed, with their
  own message rather than "wrong check digit".
"""

from __future__ import annotations

import re

from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError

from .errors import PaymentFileError, Problem, problem

NRB_LENGTH = 26
_SEPARATORS = re.compile(r"[\s\-]")
_SORT_WEIGHTS = (3, 9, 7, 1, 3, 9, 7)


def sort_code_check_digit(first_seven: str) -> int:
    """The 8th digit of a bank sort code for its first seven digits."""
    total = sum(int(d) * w for d, w in zip(first_seven, _SORT_WEIGHTS, strict=True))
    return (10 - total % 10) % 10


def nrb_check_digits(bban: str) -> str:
    """The two IBAN/NRB check digits for the 24 digits after them (sort code + account)."""
    return stdnum_iban.calc_check_digits("PL00" + bban)


def nrb_problem(value: str, *, field: str = "payee_account", index: int | None = None) -> Problem | None:
    """Why ``value`` is not a usable Polish account (NRB, ``PL``+NRB, spaces and dashes allowed), or None."""
    compact = _SEPARATORS.sub("", value).upper()
    shown = value.strip() or "—"
    if compact[:2].isalpha() and compact[:2] != "PL":
        country = compact[:2]
        try:
            stdnum_iban.validate(compact)
        except ValidationError:
            return problem("account_checksum", field, index, account=shown)
        return problem("account_foreign", field, index, account=shown, country=country)
    digits = compact[2:] if compact.startswith("PL") else compact
    if len(digits) != NRB_LENGTH or not digits.isascii() or not digits.isdigit():
        return problem("account_format", field, index, account=shown)
    try:
        stdnum_iban.validate("PL" + digits)
    except ValidationError:
        return problem("account_checksum", field, index, account=shown)
    sort_code = digits[2:10]
    if sort_code_check_digit(sort_code[:7]) != int(sort_code[7]):
        return problem("account_sort_code", field, index, account=shown)
    return None


# The EEA (the EU, Iceland, Liechtenstein, Norway): there a EUR (SEPA) transfer needs only the payee's IBAN,
# no BIC (Regulation (EU) 260/2012, art. 5(7); the EPC SEPA Credit Transfer rulebook). The other countries of
# the SEPA scope (Switzerland, the United Kingdom, Monaco, San Marino, Andorra, the Vatican…) still need the
# BIC, which we do not have, so they are refused with the reason.
SEPA_COUNTRIES = frozenset(
    {
        *("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT"),
        *("LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "IS", "LI", "NO"),
    }
)


def foreign_iban(value: str) -> str | None:
    """The compact IBAN when ``value`` is a valid IBAN of another country than Poland, else None."""
    compact = _SEPARATORS.sub("", value).upper()
    if not compact[:2].isalpha() or compact[:2] == "PL":
        return None
    try:
        stdnum_iban.validate(compact)
    except ValidationError:
        return None
    return compact


def nrb_normalize(value: str, *, field: str = "payee_account") -> str:
    """The 26 digits of a valid Polish account given as NRB or PL IBAN; raises :class:`PaymentFileError`."""
    found = nrb_problem(value, field=field)
    if found:
        raise PaymentFileError([found])
    compact = _SEPARATORS.sub("", value).upper()
    return compact[2:] if compact.startswith("PL") else compact


def nrb_is_valid(value: str) -> bool:
    return nrb_problem(value) is None


def iban_from_nrb(nrb: str) -> str:
    return "PL" + nrb


def bank_sort_code(nrb: str) -> str:
    """The 8-digit sort code of the account's bank branch (digits 3-10 of the NRB)."""
    return nrb[2:10]

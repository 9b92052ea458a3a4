"""PESEL or NIP as people type them (accounts.identifiers, python-stdnum): every valid one is taken in any
usual spelling, and any single changed digit is refused."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from accounts.identifiers import nip_clean, person_identifier_clean
from tests.factories import valid_nip
from tests.ksef_integration.ksef.test_permissions import random_pesel

seeds = st.integers(min_value=0, max_value=2**32)


SPELLINGS: list[Callable[[str], str]] = [
    lambda n: n,
    lambda n: f" {n} ",
    lambda n: f"PL{n}",
    lambda n: f"{n[:3]}-{n[3:6]}-{n[6:8]}-{n[8:]}",
]


@given(seed=seeds, spelling=st.sampled_from(SPELLINGS))
def test_a_valid_nip_in_any_spelling(seed: int, spelling: Callable[[str], str]) -> None:
    nip = valid_nip(random.Random(seed))
    assert person_identifier_clean(spelling(nip)) == ("Nip", nip)
    assert nip_clean(spelling(nip)) == nip


@given(seed=seeds)
def test_a_valid_pesel(seed: int) -> None:
    random.seed(seed)
    pesel = random_pesel()
    assert person_identifier_clean(f" {pesel[:6]} {pesel[6:]}") == ("Pesel", pesel)
    with pytest.raises(ValidationError):
        nip_clean(pesel)  # an office is a company: a NIP


@given(
    seed=seeds, position=st.integers(min_value=0, max_value=10), delta=st.integers(min_value=1, max_value=9)
)
def test_one_changed_digit_is_refused(seed: int, position: int, delta: int) -> None:
    random.seed(seed)
    value = random_pesel() if position == 10 or seed % 2 else valid_nip(random.Random(seed))
    position = min(position, len(value) - 1)
    changed = value[:position] + str((int(value[position]) + delta) % 10) + value[position + 1 :]
    if len(changed) == 11:
        # Only the check digit is meant here: a PESEL with another date may be valid in its own right.
        changed = value[:10] + str((int(value[10]) + delta) % 10)
    with pytest.raises(ValidationError):
        person_identifier_clean(changed)


@pytest.mark.parametrize("typed", ["", "abc", "12345", "123456789012", "5260250274x"])
def test_not_an_identifier_at_all(typed: str) -> None:
    with pytest.raises(ValidationError):
        person_identifier_clean(typed)

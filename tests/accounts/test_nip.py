import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from accounts.nip import nip_is_valid, nip_normalize, validate_nip
from tests.factories import valid_nip


@pytest.mark.parametrize("raw", ["1234563218", "123-456-32-18", "PL 123 456 32 18", "pl1234563218"])
def test_valid_nips_in_the_ways_people_write_them(raw: str) -> None:
    validate_nip(raw)
    assert nip_normalize(raw) == "1234563218"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("1234563219", "nip_checksum"),
        ("123456321", "nip_length"),
        ("12345632181", "nip_length"),
        ("12345a3218", "nip_length"),
        ("", "nip_length"),
        ("١٢٣٤٥٦٣٢١٨", "nip_length"),  # Arabic-Indic digits are digits to Python, not to the tax office
    ],
)
def test_invalid_nips_are_refused_with_a_reason(raw: str, code: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        validate_nip(raw)
    assert excinfo.value.code == code


def test_a_checksum_of_ten_is_never_valid() -> None:
    weights = (6, 5, 7, 2, 3, 4, 5, 6, 7)
    prefix = next(
        p
        for p in (f"{n:09d}" for n in range(100000000, 100000200))
        if sum(w * int(d) for w, d in zip(weights, p, strict=True)) % 11 == 10
    )
    assert all(not nip_is_valid(prefix + str(last)) for last in range(10))


@given(st.integers(min_value=0, max_value=2**32))
def test_generated_nips_are_valid_and_one_changed_digit_breaks_them(seed: int) -> None:
    import random

    nip = valid_nip(random.Random(seed))
    assert nip_is_valid(nip)
    position = seed % 10
    changed = nip[:position] + str((int(nip[position]) + 1 + seed % 9) % 10) + nip[position + 1 :]
    if changed != nip:
        # The weights are coprime with 11, so any single-digit change moves the checksum.
        assert not nip_is_valid(changed)

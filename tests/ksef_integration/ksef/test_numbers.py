"""KSeF number, reference number and NIP checksums."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ksef_integration.ksef.numbers import (
    crc8,
    crc8_hex,
    ksef_number_is_valid,
    ksef_number_nip,
    nip_is_valid,
    reference_number_is_valid,
)

DOC_KSEF_NUMBER = "5265877635-20250826-0100001AF629-AF"
HEX = "0123456789ABCDEF"


def _nip_with_checksum(first9: str) -> str | None:
    total = sum(int(d) * w for d, w in zip(first9, (6, 5, 7, 2, 3, 4, 5, 6, 7), strict=True)) % 11
    return None if total == 10 else first9 + str(total)


nips = (
    st.text(alphabet="0123456789", min_size=9, max_size=9)
    .filter(lambda s: s[0] != "0" and s[1:3] != "00")
    .map(_nip_with_checksum)
    .filter(lambda s: s is not None)
)


def test_crc8_known_value():
    # CRC-8/SMBUS (poly 0x07, init 0) of "123456789" is 0xF4.
    assert crc8(b"123456789") == 0xF4


def test_doc_example_ksef_number():
    assert ksef_number_is_valid(DOC_KSEF_NUMBER)
    assert ksef_number_nip(DOC_KSEF_NUMBER) == "5265877635"


def test_invalid_ksef_numbers():
    assert not ksef_number_is_valid(DOC_KSEF_NUMBER[:-2] + "AE")
    assert not ksef_number_is_valid(DOC_KSEF_NUMBER.lower())
    assert not ksef_number_is_valid("5265877635-20250826-0100001AF629AF")
    assert not ksef_number_is_valid(
        "5265877635-20251326-0100001AF629-" + crc8_hex("5265877635-20251326-0100001AF629")
    )
    assert not ksef_number_is_valid("5265877635-20250826-010000-1AF629-AF")  # the 36-char KSeF 1.0 form


@given(
    nip=nips,
    day=st.dates(),
    technical=st.text(alphabet=HEX, min_size=12, max_size=12),
)
def test_generated_ksef_numbers_validate(nip: str, day, technical: str):
    body = f"{nip}-{day:%Y%m%d}-{technical}"
    if len(body) != 32:  # years before 1000 or after 9999 have another width
        return
    number = f"{body}-{crc8_hex(body)}"
    assert ksef_number_is_valid(number)


@given(
    technical=st.text(alphabet=HEX, min_size=12, max_size=12),
    position=st.integers(min_value=20, max_value=31),
    replacement=st.sampled_from(HEX),
)
def test_a_changed_character_breaks_the_checksum(technical: str, position: int, replacement: str):
    body = f"5265877635-20250826-{technical}"
    number = f"{body}-{crc8_hex(body)}"
    changed = number[:position] + replacement + number[position + 1 :]
    # CRC-8 detects every single-character change inside its 8-bit burst guarantee.
    assert ksef_number_is_valid(changed) == (changed == number)


def test_reference_numbers():
    assert reference_number_is_valid("20250514-CR-226FB7B000-3ACF9BE4C0-10")
    assert not reference_number_is_valid("20250514-CR-226FB7B000-3ACF9BE4C0-11")
    assert not reference_number_is_valid("20250514-CR-226FB7B000-3ACF9BE4C0-1")


@given(kind=st.sampled_from(["SO", "EE", "EH", "AU"]), a=st.text(HEX, min_size=10, max_size=10))
def test_generated_reference_numbers_validate(kind: str, a: str):
    body = f"20261125-{kind}-{a}-0000000000"
    assert reference_number_is_valid(f"{body}-{crc8_hex(body)}")


def test_nip_examples():
    assert nip_is_valid("5265877635")
    assert nip_is_valid("1111111111")
    assert not nip_is_valid("5265877636")
    assert not nip_is_valid("0000000000")
    assert not nip_is_valid("526587763")
    assert not nip_is_valid("52658776\uff135")  # a full-width digit


@given(nips)
def test_generated_nips_are_valid(nip: str):
    assert nip_is_valid(nip)


@given(nip=nips, delta=st.integers(min_value=1, max_value=9))
def test_changing_the_check_digit_invalidates(nip: str, delta: int):
    wrong = nip[:9] + str((int(nip[9]) + delta) % 10)
    assert not nip_is_valid(wrong)

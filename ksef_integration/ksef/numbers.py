"""Checksums of KSeF identifiers (ksef-api.md §2, §10.1, §12.3): KSeF numbers, reference numbers and NIPs.

CRC-8 here is polynomial 0x07, init 0x00, no reflection, no final XOR, over the ASCII text.
"""

from __future__ import annotations

import re

KSEF_NUMBER_LENGTH = 35
REFERENCE_NUMBER_LENGTH = 36
_NIP_WEIGHTS = (6, 5, 7, 2, 3, 4, 5, 6, 7)

_NIP = re.compile(r"^[1-9]((\d[1-9])|([1-9]\d))\d{7}$")  # the auth XSD's TNIP pattern
_KSEF_NUMBER = re.compile(r"^(\d{10})-(\d{4})(\d{2})(\d{2})-([0-9A-F]{12})-([0-9A-F]{2})$")
_REFERENCE = re.compile(r"^(\d{8})-([A-Z]{2})-([0-9A-F]{10})-([0-9A-F]{10})-([0-9A-F]{2})$")


def crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def crc8_hex(text: str) -> str:
    return f"{crc8(text.encode('ascii')):02X}"


def nip_is_valid(nip: str) -> bool:
    """A 10-digit NIP of KSeF's shape whose weighted sum mod 11 equals its last digit (10 is never valid)."""
    if len(nip) != 10 or not nip.isascii() or not _NIP.match(nip):
        return False
    total = sum(int(digit) * weight for digit, weight in zip(nip, _NIP_WEIGHTS, strict=False))
    check = total % 11
    return check != 10 and check == int(nip[9])


def ksef_number_is_valid(number: str) -> bool:
    """A KSeF 2.0 number: ``NIP-YYYYMMDD-12 hex-CC`` (35 chars), CC = CRC-8 of the first 32 chars."""
    if len(number) != KSEF_NUMBER_LENGTH or not number.isascii():
        return False
    match = _KSEF_NUMBER.match(number)
    if not match:
        return False
    month, day = int(match.group(3)), int(match.group(4))
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return False
    return crc8_hex(number[:32]) == match.group(6)


def ksef_number_nip(number: str) -> str:
    """The seller NIP a KSeF number starts with."""
    return number[:10]


def reference_number_is_valid(number: str) -> bool:
    """A KSeF reference number ``YYYYMMDD-XX-10hex-10hex-CC`` (36 chars), CC = CRC-8 of the first 33 chars.

    The CRC rule is inferred (ksef-api.md §2): use it for our own checks, not to refuse what KSeF sends.
    """
    if len(number) != REFERENCE_NUMBER_LENGTH or not number.isascii():
        return False
    match = _REFERENCE.match(number)
    return match is not None and crc8_hex(number[:33]) == match.group(5)


def reference_number_looks_valid(number: str) -> bool:
    """The shape of a reference number without its checksum."""
    return len(number) == REFERENCE_NUMBER_LENGTH and bool(_REFERENCE.match(number))

"""Identifiers the simulator mints: reference numbers and KSeF numbers, each with its CRC-8 checksum.

Independent of ``ksef_integration`` on purpose (each side implements the format, so each checks the other).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets

_CRC8_TABLE: list[int] = []
for _byte in range(256):
    _crc = _byte
    for _ in range(8):
        _crc = ((_crc << 1) ^ 0x07) & 0xFF if _crc & 0x80 else (_crc << 1) & 0xFF
    _CRC8_TABLE.append(_crc)

REFERENCE_RE = re.compile(r"^(\d{8})-([A-Z]{2})-([0-9A-F]{10})-([0-9A-F]{10})-([0-9A-F]{2})$")
KSEF_NUMBER_RE = re.compile(r"^([1-9]\d{9})-(\d{8})-([0-9A-F]{12})-([0-9A-F]{2})$")


def crc8(data: bytes) -> int:
    """CRC-8 with polynomial 0x07, initial value 0, no reflection, no final XOR (CRC-8/SMBUS)."""
    crc = 0
    for byte in data:
        crc = _CRC8_TABLE[crc ^ byte]
    return crc


def reference_number(kind: str, when: dt.datetime | None = None) -> str:
    """``YYYYMMDD-XX-HHHHHHHHHH-HHHHHHHHHH-CC``; ``kind`` is the two-letter type (SO, SB, EE, AU, ...)."""
    when = when or dt.datetime.now(dt.UTC)
    body = f"{when:%Y%m%d}-{kind}-{secrets.token_hex(5).upper()}-{secrets.token_hex(5).upper()}"
    return f"{body}-{crc8(body.encode('ascii')):02X}"


def reference_number_is_valid(value: str) -> bool:
    return bool(REFERENCE_RE.match(value)) and crc8(value[:33].encode("ascii")) == int(value[34:], 16)


def ksef_number(seller_nip: str, invoicing_date: dt.date) -> str:
    """``<NIP>-<YYYYMMDD>-<12 hex>-<CRC8 of the first 32 characters>`` (35 characters)."""
    body = f"{seller_nip}-{invoicing_date:%Y%m%d}-{secrets.token_hex(6).upper()}"
    return f"{body}-{crc8(body.encode('ascii')):02X}"


def ksef_number_is_valid(value: str) -> bool:
    return bool(KSEF_NUMBER_RE.match(value)) and crc8(value[:32].encode("ascii")) == int(value[33:], 16)


COLLECTIVE_RE = re.compile(r"^([1-9]\d{9})-IZ(\d{6})-([0-9A-F]{12})-([0-9A-F]{2})$")


def collective_identifier(seller_nip: str, created: dt.datetime) -> str:
    """``<seller NIP>-IZ<YYYYMM>-<12 hex>-<CRC-8 of the first 32 characters>`` (35 characters)."""
    body = f"{seller_nip}-IZ{created:%Y%m}-{secrets.token_hex(6).upper()}"
    return f"{body}-{crc8(body.encode('ascii')):02X}"


def collective_identifier_is_valid(value: str) -> bool:
    return bool(COLLECTIVE_RE.match(value)) and crc8(value[:32].encode("ascii")) == int(value[33:], 16)

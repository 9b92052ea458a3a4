"""NIP (Polish tax identification number): normalisation and the checksum."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

NIP_WEIGHTS = (6, 5, 7, 2, 3, 4, 5, 6, 7)
_SEPARATORS = re.compile(r"[\s\-]")


def nip_normalize(value: str) -> str:
    """Strip spaces, dashes and a leading ``PL`` the way people write NIPs (``PL 123-456-32-18``)."""
    cleaned = _SEPARATORS.sub("", value or "").upper()
    if cleaned.startswith("PL"):
        cleaned = cleaned[2:]
    return cleaned


def nip_is_valid(value: str) -> bool:
    """Whether ``value`` (already normalised) is ten digits whose last one is the weighted checksum."""
    if len(value) != 10 or not value.isascii() or not value.isdigit():
        return False
    digits = [int(c) for c in value]
    checksum = sum(w * d for w, d in zip(NIP_WEIGHTS, digits[:9], strict=True)) % 11
    return checksum != 10 and checksum == digits[9]


def validate_nip(value: str) -> None:
    normalized = nip_normalize(value)
    if len(normalized) != 10 or not (normalized.isascii() and normalized.isdigit()):
        raise ValidationError(_("NIP must have exactly 10 digits."), code="nip_length")
    if not nip_is_valid(normalized):
        raise ValidationError(
            _("This NIP has an invalid check digit. Check it for typos."), code="nip_checksum"
        )

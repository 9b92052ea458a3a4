"""A person's Polish identifier as people type it: a PESEL (11 digits) or a NIP (10 digits), checked with
python-stdnum (length, digits, check digit; a PESEL's date too)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.pl import nip as pl_nip
from stdnum.pl import pesel as pl_pesel

PESEL = "Pesel"
NIP = "Nip"


def person_identifier_clean(value: str) -> tuple[str, str]:
    """``("Pesel", "44051401458")`` or ``("Nip", "5260250274")``; ``ValidationError`` with a plain message
    otherwise (spaces, dashes and a leading PL are fine)."""
    compact = pl_nip.compact(value or "")
    if not compact.isdigit() or len(compact) not in (10, 11):
        raise ValidationError(
            _("Enter a PESEL (11 digits) or a NIP (10 digits)."), code="person_identifier_format"
        )
    try:
        if len(compact) == 11:
            return PESEL, pl_pesel.validate(compact)
        return NIP, pl_nip.validate(compact)
    except StdnumError:
        kind = "PESEL" if len(compact) == 11 else "NIP"
        raise ValidationError(
            _("This %(kind)s is not valid (its check digit does not match). Check it for typos.")
            % {"kind": kind},
            code="person_identifier_checksum",
        ) from None


def nip_clean(value: str) -> str:
    """A company's NIP (10 digits, check digit) or ``ValidationError``."""
    kind, compact = person_identifier_clean(value)
    if kind != NIP:
        raise ValidationError(_("Enter the office's NIP (10 digits)."), code="nip_expected")
    return compact

"""Problems found in transfers, titles, payment files and bank statements, each with a translated message.

A :class:`Problem` is data (a code, the field, the transfer's position, parameters); its ``message`` is the
English msgid from ``MESSAGES`` through gettext, so a Polish user reads Polish. One error type carries them:
:class:`PaymentFileError` (``FileFormatError`` when a file we read is malformed).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

MESSAGES: Mapping[str, StrOrPromise] = {
    # accounts
    "account_format": _("%(account)s is not a Polish account number: an NRB has 26 digits."),
    "account_checksum": _("The account number %(account)s has a wrong check digit."),
    "account_sort_code": _("The bank sort code in %(account)s has a wrong check digit."),
    "account_foreign": _(
        "%(account)s is a foreign account (%(country)s); only Polish accounts (NRB) can be paid this way."
    ),
    "account_same": _("The payee's account is the payer's own account."),
    # amounts
    "amount_type": _("An amount is a whole number of grosze or a Decimal with at most two decimal places."),
    "amount_precision": _("The amount %(amount)s has more than two decimal places."),
    "amount_not_positive": _("The amount must be greater than zero."),
    "amount_too_large": _("The amount %(amount)s is larger than a bank file can carry."),
    "currency_not_pln": _(
        "Elixir-O carries only PLN transfers, not %(currency)s: pay this invoice with a pain.001 file."
    ),
    "currency_invalid": _("%(currency)s is not a currency code (three letters, ISO 4217)."),
    "foreign_not_sepa": _(
        "%(account)s (%(country)s) in %(currency)s is not a SEPA transfer: a transfer abroad outside SEPA "
        "needs the payee's bank BIC (SWIFT), which the invoice does not give. "
        "Pay it in your bank's application."
    ),
    "mpp_not_pln": _("A split payment (MPP) is made in PLN only; this invoice is in %(currency)s."),
    # texts
    "text_empty": _("%(field)s is empty."),
    "text_too_long": _("%(field)s has %(length)s characters; at most %(limit)s fit."),
    "text_forbidden_char": _("%(field)s contains “%(char)s”, which a bank file cannot carry."),
    "text_not_cp1250": _(
        "%(field)s contains “%(char)s”, which Polish banks' files (Windows-1250) cannot carry."
    ),
    "date_past": _("The execution date %(date)s is in the past."),
    # KSeF numbers in titles
    "ksef_number_invalid": _("%(number)s is not a valid KSeF number."),
    "collective_id_invalid": _("%(number)s is not a valid KSeF collective identifier."),
    "ksef_numbers_none": _("Give at least one KSeF number or a collective identifier."),
    "ksef_numbers_sellers": _(
        "The invoices come from different sellers (%(nips)s); one transfer pays one seller."
    ),
    "collective_id_seller": _(
        "The collective identifier belongs to seller %(id_nip)s, the invoices to %(nip)s."
    ),
    "ksef_numbers_do_not_fit": _(
        "%(count)s KSeF numbers do not fit in one transfer title (at most %(limit)s). Generate a collective "
        "identifier for them in KSeF, or pay them in separate transfers."
    ),
    # split payment (MPP)
    "mpp_vat_missing": _("A split payment needs the VAT amount."),
    "mpp_vat_not_positive": _("The VAT amount of a split payment must be greater than zero."),
    "mpp_vat_exceeds_amount": _("The VAT amount %(vat)s is larger than the amount of the transfer."),
    "mpp_vat_too_large": _("The VAT amount %(vat)s has more than 10 digits before the comma."),
    "mpp_nip_invalid": _("%(nip)s is not a valid NIP of the seller."),
    "mpp_invoice_missing": _("A split payment needs the invoice number (from 2027: its KSeF number)."),
    "mpp_invoice_too_long": _("The invoice number has %(length)s characters; at most 35 fit."),
    "mpp_text_too_long": _("The free text of a split payment has %(length)s characters; at most 33 fit."),
    "mpp_title_format": _("This is not a split payment message (/VAT/…/IDC/…/INV/…/TXT/…)."),
    # files
    "no_transfers": _("There are no transfers to put in the file."),
    "file_format": _("Line %(line)s: %(detail)s"),
    "xml_invalid": _("The XML file does not match the pain.001.001.03 schema: %(detail)s"),
    "statement_unknown": _(
        "This file is not a bank statement we can read: send an MT940 or camt.053 statement."
    ),
    "statement_other_xml": _(
        "This is a %(kind)s file, not a bank statement: send an MT940 or camt.053 statement."
    ),
    "statement_empty": _("The statement contains no account (no :25: or <Acct>)."),
    "statement_damaged": _(
        "The statement file is damaged or incomplete and cannot be read: download it from the bank again."
    ),
}

FIELD_LABELS: Mapping[str, StrOrPromise] = {
    "title": _("The title"),
    "payee_name": _("The payee's name"),
    "payee_address": _("The payee's address"),
    "payer_name": _("The payer's name"),
    "payer_address": _("The payer's address"),
    "text": _("The free text"),
    "invoice": _("The invoice number"),
    "reference": _("The reference"),
    "message_id": _("The file's message id"),
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong: ``code`` (a key of ``MESSAGES``), the ``field``, the transfer's position."""

    code: str
    field: str = ""
    index: int | None = None
    params: Mapping[str, object] = dataclasses.field(default_factory=dict)

    @property
    def message(self) -> str:
        params = {"field": str(FIELD_LABELS.get(self.field, self.field)), **self.params}
        text = str(MESSAGES[self.code]) % params
        return text if self.index is None else f"#{self.index + 1}: {text}"

    def __str__(self) -> str:
        return self.message


class PaymentFileError(ValueError):
    """Transfers, a title or a file that cannot be used; ``problems`` says every reason found."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(p.message for p in self.problems))

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(p.code for p in self.problems)


class FileFormatError(PaymentFileError):
    """A file we were asked to read is not of the format it should be (a line or element is wrong)."""


def problem(code: str, field: str = "", index: int | None = None, **params: object) -> Problem:
    return Problem(code=code, field=field, index=index, params=params)


def format_error(line: int, detail: str) -> FileFormatError:
    """A file-format problem at ``line`` (1-based); ``detail`` is technical English (developers, logs)."""
    return FileFormatError([problem("file_format", line=line, detail=detail)])

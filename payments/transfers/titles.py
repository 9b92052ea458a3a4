"""Transfer titles: the KSeF number(s) or collective identifier (from 2027), and split-payment (MPP) messages.

Rules and their sources:

- **Length.** A domestic transfer title is 4 lines of 35 characters (Elixir-O field 12 "4*35"; ISO 20022
  ``Ustrd`` is Max140Text, which Polish banks map onto the same 4x35). So at most 140 characters.
- **KSeF number in the title.** From 1 January 2027 a VAT payer paying another VAT payer's structured
  invoice by transfer gives its KSeF number, or for several invoices the collective identifier KSeF issued
  for them (ustawa o VAT art. 108g; summarised e.g. by insert.com.pl "Obowiązek podawania numeru KSeF w
  płatnościach"). A KSeF 2.0 number is 35 characters, ``NIP-YYYYMMDD-12 hex-CC`` with a CRC-8 (open-api
  2.9.0 ``KsefNumber``); a collective identifier (IZ) is 35 characters, ``NIP-IZYYYYMM-12 hex-CC`` with the
  same CRC-8 (0x07, init 0) over its first 32 characters (open-api 2.9.0
  ``GenerateCollectiveIdentifierResponse``; its example ``1111111111-IZ202607-65ED02180000-E7`` checks).
- **Several invoices without an identifier.** Each 35-character number fills exactly one title line, so
  they are written one per line, without separators, and at most 4 fit. Five or more raise a clear error
  naming both ways out (a collective identifier, or separate transfers) instead of cutting numbers off or
  splitting the payment behind the user's back: a split changes how many transfers the bank executes and
  charges, and which amount goes with which invoice, which the person paying should decide. All numbers
  must start with the same seller NIP (one transfer pays one seller).
- **Split payment (MPP).** ``/VAT/10n,2n/IDC/14x/INV/35x/TXT/33x``: VAT amount with a comma and two decimals
  (up to 10 digits before it), the seller's tax id (NIP), one invoice number, optional free text (ZBP's
  standard for the MPP message as the banks publish it, e.g. Integro's "Split Payment" page for Polish
  banks' interfaces; mBank's pain.001 specification "split payment — payment details in <Ustrd>"). Since
  2027 the INV part of a KSeF invoice is its KSeF number (35 characters, exactly the field) or the
  collective identifier (art. 108a ust. 3 pkt 3 as amended with KSeF; gazetaprawna.pl "Krajowy System
  e-Faktur skomplikuje dokonywanie przelewów").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stdnum.pl import nip as stdnum_nip

from ksef_integration.ksef.numbers import crc8_hex, ksef_number_is_valid

from .amounts import Amount, grosze_format, to_grosze
from .errors import PaymentFileError, Problem, problem

LINE_LENGTH = 35
TITLE_LINES = 4
TITLE_MAX = LINE_LENGTH * TITLE_LINES
KSEF_NUMBER_LENGTH = 35
MPP_VAT_DIGITS = 10
MPP_IDC_MAX = 14
MPP_INV_MAX = 35
MPP_TXT_MAX = 33

_COLLECTIVE_ID = re.compile(r"^(\d{10})-IZ(\d{4})(0[1-9]|1[0-2])-([0-9A-F]{12})-([0-9A-F]{2})$")
_MPP = re.compile(r"^/VAT/(\d{1,10},\d{2})/IDC/([^/]{1,14})/INV/(.{1,35}?)(?:/TXT/(.{0,33}))?$", re.DOTALL)


def collective_id_is_valid(value: str) -> bool:
    match = _COLLECTIVE_ID.match(value)
    return match is not None and crc8_hex(value[:32]) == match.group(5)


def ksef_title(ksef_numbers: list[str] | tuple[str, ...], *, collective_id: str | None = None) -> str:
    """The title for paying these KSeF invoices of one seller; raises :class:`PaymentFileError`.

    With a collective identifier the title is the identifier; otherwise the numbers, one per 35-char line.
    """
    numbers = list(dict.fromkeys(n.strip() for n in ksef_numbers))
    problems = [problem("ksef_number_invalid", number=n) for n in numbers if not ksef_number_is_valid(n)]
    if collective_id is not None and not collective_id_is_valid(collective_id.strip()):
        problems.append(problem("collective_id_invalid", number=collective_id))
    if problems:
        raise PaymentFileError(problems)
    nips = sorted({n[:10] for n in numbers})
    if len(nips) > 1:
        raise PaymentFileError([problem("ksef_numbers_sellers", nips=", ".join(nips))])
    if collective_id is not None:
        identifier = collective_id.strip()
        if nips and identifier[:10] != nips[0]:
            raise PaymentFileError([problem("collective_id_seller", id_nip=identifier[:10], nip=nips[0])])
        return identifier
    if not numbers:
        raise PaymentFileError([problem("ksef_numbers_none")])
    if len(numbers) > TITLE_LINES:
        raise PaymentFileError([problem("ksef_numbers_do_not_fit", count=len(numbers), limit=TITLE_LINES)])
    return "".join(numbers)


@dataclass(frozen=True)
class MppTitle:
    """The parts of a split-payment message; ``vat`` in grosze."""

    vat: int
    seller_nip: str
    invoice: str
    text: str = ""

    def render(self) -> str:
        title = f"/VAT/{grosze_format(self.vat, separator=',')}/IDC/{self.seller_nip}/INV/{self.invoice}"
        return f"{title}/TXT/{self.text}" if self.text else title


def mpp_title(*, vat: Amount, seller_nip: str, invoice: str, text: str = "") -> str:
    """The ``/VAT/…/IDC/…/INV/…/TXT/…`` message; raises :class:`PaymentFileError` with every problem."""
    problems: list[Problem] = []
    vat_grosze = None
    try:
        vat_grosze = to_grosze(vat)
    except PaymentFileError as exc:
        problems.extend(exc.problems)
    if vat_grosze is not None:
        if vat_grosze <= 0:
            problems.append(problem("mpp_vat_not_positive"))
        elif vat_grosze >= 10 ** (MPP_VAT_DIGITS + 2):
            problems.append(problem("mpp_vat_too_large", vat=grosze_format(vat_grosze, separator=",")))
    nip = seller_nip.strip().removeprefix("PL").replace("-", "")
    if not stdnum_nip.is_valid(nip):
        problems.append(problem("mpp_nip_invalid", nip=seller_nip))
    invoice = invoice.strip()
    if not invoice:
        problems.append(problem("mpp_invoice_missing"))
    elif len(invoice) > MPP_INV_MAX:
        problems.append(problem("mpp_invoice_too_long", length=len(invoice)))
    elif "/TXT/" in invoice or "/INV/" in invoice:
        problems.append(problem("text_forbidden_char", "invoice", char="/"))
    text = text.strip()
    if len(text) > MPP_TXT_MAX:
        problems.append(problem("mpp_text_too_long", length=len(text)))
    if problems:
        raise PaymentFileError(problems)
    assert vat_grosze is not None  # noqa: S101 - no problems means the amount was read
    return MppTitle(vat=vat_grosze, seller_nip=nip, invoice=invoice, text=text).render()


def mpp_title_parse(title: str) -> MppTitle:
    """The parts of a split-payment message; raises :class:`PaymentFileError` when ``title`` is not one."""
    match = _MPP.match(title)
    if not match:
        raise PaymentFileError([problem("mpp_title_format")])
    whole, _, cents = match.group(1).partition(",")
    return MppTitle(
        vat=int(whole) * 100 + int(cents),
        seller_nip=match.group(2),
        invoice=match.group(3),
        text=match.group(4) or "",
    )


def is_mpp_title(title: str) -> bool:
    return title.startswith("/VAT/") and _MPP.match(title) is not None


def title_lines(title: str) -> list[str]:
    """The title cut into the 35-character lines a bank file and a statement show."""
    return [title[i : i + LINE_LENGTH] for i in range(0, len(title), LINE_LENGTH)] or [""]

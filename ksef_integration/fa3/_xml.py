"""Small XML and number helpers shared by the FA(3) builder, parser and validator."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from lxml import etree

NS = "http://crd.gov.pl/wzor/2025/06/25/13775/"
"""Target namespace of FA(3) 1-0E (``schemat_FA(3)_v1-0E.xsd``)."""

CENT = Decimal("0.01")


def q(name: str) -> str:
    """Clark name of an FA(3) element."""
    return f"{{{NS}}}{name}"


def hardened_parser(*, remove_blank_text: bool = True) -> etree.XMLParser:
    """A parser that never fetches anything, never expands entities and keeps libxml2's size limits.

    Invoices come from outside (KSeF downloads, uploads), so DTDs, external entities and network access are
    all off, and ``huge_tree`` stays off so libxml2 refuses entity-expansion bombs and absurd depths.
    """
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        remove_blank_text=remove_blank_text,
    )


def round_half_up(value: Decimal, exp: Decimal = CENT) -> Decimal:
    """Round to ``exp`` (grosze by default), halves away from zero, as Polish VAT practice does."""
    return value.quantize(exp, rounding=ROUND_HALF_UP)


def fmt_amount(value: Decimal) -> str:
    """An FA(3) ``TKwotowy`` value: always two decimals (``12.30``), never an exponent."""
    if value != round_half_up(value):
        raise ValueError(f"amount {value} has more than 2 decimal places")
    rounded = round_half_up(value)
    return f"{abs(rounded) if rounded == 0 else rounded:f}"  # never "-0.00"


def fmt_decimal(value: Decimal, places: int) -> str:
    """A quantity, price or rate with at most ``places`` decimals and no trailing zeros (``1.5``, ``10``)."""
    exp = Decimal(1).scaleb(-places)
    if value != value.quantize(exp):
        raise ValueError(f"value {value} has more than {places} decimal places")
    text = f"{value.quantize(exp):f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


class UnsafeXmlError(ValueError):
    """The document declares a DTD; FA(3) never does, so it is refused rather than trusted."""


def parse_untrusted(data: bytes, *, remove_blank_text: bool = True) -> etree._Element:
    """Parse outside XML with :func:`hardened_parser` and refuse any ``<!DOCTYPE ...>``.

    The parser already leaves entities unexpanded; refusing the DTD outright also stops documents whose
    text would silently lose the unexpanded references. Raises ``etree.XMLSyntaxError`` when malformed.
    """
    root = etree.fromstring(data, hardened_parser(remove_blank_text=remove_blank_text))
    if root.getroottree().docinfo.doctype:
        raise UnsafeXmlError("DOCTYPE declarations (DTDs, entities) are not allowed in an invoice")
    return root

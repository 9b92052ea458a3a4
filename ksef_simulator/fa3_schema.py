"""The FA(3) XSD, compiled once, and the checks KSeF runs on an invoice file before its semantics.

The schema files are the official ones in ``vendor/ksef-docs`` (``settings.KSEF_SCHEMA_DIR``); their imports
point at http URLs on crd.gov.pl, so a resolver maps them to the local copies and nothing goes to the network.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

from django.conf import settings
from lxml import etree

FA3_NAMESPACE = "http://crd.gov.pl/wzor/2025/06/25/13775/"
FA2_NAMESPACE = "http://crd.gov.pl/wzor/2023/06/29/12648/"
_MAIN = "schemat_FA(3)_v1-0E.xsd"
# Characters KSeF refuses since 2.4.0 (weryfikacja-faktury.md): C1 controls but NEL, and noncharacters.
_DISCOURAGED = re.compile("[\x7f-\x84\x86-\x9f\ufdd0-\ufdef\ufffe\uffff]")
_XML_ENCODING = re.compile(rb"^<\?xml[^>]*encoding\s*=\s*['\"]([^'\"]+)['\"]", re.IGNORECASE)


class InvoiceFileError(ValueError):
    """The file is not an acceptable FA(3) document; the message is what KSeF puts in ``details``."""


def schema_dir() -> Path:
    """``KSEF_SCHEMA_DIR``: the repository's copy of MF's files unless the environment names another."""
    return Path(os.environ.get("KSEF_SCHEMA_DIR") or settings.KSEF_SCHEMA_DIR)


class _LocalResolver(etree.Resolver):
    """Serve every ``schemaLocation`` by its file name from the local schema directory."""

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory

    def resolve(self, system_url: str, public_id: str, context: object) -> object:
        name = system_url.rsplit("/", 1)[-1]
        for candidate in (self.directory / name, self.directory / "bazowe" / name):  # flat or MF's layout
            if candidate.is_file():
                return self.resolve_filename(str(candidate), context)
        return None


@functools.cache
def fa3_schema() -> etree.XMLSchema:
    directory = schema_dir()
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    parser.resolvers.add(_LocalResolver(directory))
    document = etree.parse(str(directory / _MAIN), parser)
    return etree.XMLSchema(document)


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_comments=False)


def parse_invoice(xml_bytes: bytes, *, system_code: str = "FA (3)") -> etree._Element:
    """Parse and XSD-validate an invoice file; raise ``InvoiceFileError`` with a KSeF-style message.

    FA (2) (accepted on TEST only) is checked for its namespace but not against its XSD, which the
    installed package does not carry.
    """
    if xml_bytes.startswith(b"\xef\xbb\xbf"):
        raise InvoiceFileError("Nieprawidłowe kodowanie: plik faktury nie może zawierać znacznika BOM.")
    declared = _XML_ENCODING.match(xml_bytes)
    if declared and declared.group(1).decode("ascii", "replace").lower().replace("_", "-") not in (
        "utf-8",
        "utf8",
    ):
        raise InvoiceFileError("Nieprawidłowe kodowanie: dozwolone jest wyłącznie kodowanie UTF-8.")
    try:
        text = xml_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvoiceFileError("Nieprawidłowe kodowanie: niepoprawna sekwencja bajtów UTF-8.") from exc
    if _DISCOURAGED.search(text):
        raise InvoiceFileError("Plik faktury zawiera niedozwolone znaki Unicode.")
    try:
        root = etree.fromstring(xml_bytes, _safe_parser())
    except etree.XMLSyntaxError as exc:
        raise InvoiceFileError(f"Nieprawidłowy XML: {exc.msg}") from exc
    if root.getroottree().docinfo.doctype:  # entities stay unexpanded, but XSD validation would crash on them
        raise InvoiceFileError("Nieprawidłowy XML: deklaracja DOCTYPE (DTD, encje) jest niedozwolona.")
    if any(isinstance(node, etree._ProcessingInstruction) for node in root.itersiblings(preceding=True)) or (
        root.xpath("//processing-instruction()")
    ):
        raise InvoiceFileError("Plik faktury nie może zawierać instrukcji przetwarzania.")
    expected = FA2_NAMESPACE if system_code == "FA (2)" else FA3_NAMESPACE
    if etree.QName(root).namespace != expected:
        raise InvoiceFileError(
            f"Dokument nie jest zgodny ze schematem {system_code}: nieoczekiwana przestrzeń nazw "
            f"'{etree.QName(root).namespace}'."
        )
    if system_code == "FA (2)":
        return root
    schema = fa3_schema()
    if not schema.validate(root):
        errors = [f"{e.line}:{e.column}: {e.message}" for e in schema.error_log]
        raise InvoiceFileError("; ".join(errors[:5]) or "Dokument nie jest zgodny ze schematem.")
    return root

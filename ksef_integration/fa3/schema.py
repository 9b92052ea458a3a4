"""Validate FA(3) XML against the official XSD, compiled once per schema directory.

The schema files are the official ones kept in the repository (``vendor/ksef-docs/faktury/schemy/FA``, MIT,
see its README), or those in ``KSEF_SCHEMA_DIR`` / the ``schema_dir`` argument. The FA(3) XSD and its base
schemas import each other through ``http://crd.gov.pl/...`` URLs; :class:`LocalSchemaResolver` maps those
imports to the local files by file name, and the parser has the network switched off, so compilation never
leaves the machine.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from ._xml import UnsafeXmlError, hardened_parser, parse_untrusted

MAIN_XSD = "schemat_FA(3)_v1-0E.xsd"
BASE_XSDS = ("StrukturyDanych_v10-0E.xsd", "ElementarneTypyDanych_v10-0E.xsd", "KodyKrajow_v10-0E.xsd")
SCHEMA_FILES = (MAIN_XSD, *BASE_XSDS)
ENV_VAR = "KSEF_SCHEMA_DIR"
# Characters KSeF refuses in any FA(3) file although XML allows them (ksef-api.md §12: C1 controls but NEL,
# and the noncharacters of every plane).
DISCOURAGED = re.compile(
    "[\x7f-\x84\x86-\x9f\ufdd0-\ufdef"
    + "".join(f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17))
    + "]"
)


class SchemaUnavailable(RuntimeError):
    """The FA(3) schema files cannot be found or compiled."""


@dataclass(frozen=True)
class SchemaError:
    """One validation problem: line in the document, element path, libxml2's message."""

    line: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.path}: {self.message}"


# The repository's copy of MF's files: <checkout>/vendor/ksef-docs/faktury/schemy/FA (MF's layout, bazowe/).
VENDORED_DIR = Path(__file__).resolve().parents[2] / "vendor" / "ksef-docs" / "faktury" / "schemy" / "FA"


def schema_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The directory to load from: ``override``, else ``$KSEF_SCHEMA_DIR``, else the repository's copy."""
    chosen = override if override is not None else os.environ.get(ENV_VAR) or None
    return Path(chosen) if chosen is not None else VENDORED_DIR


def locate(directory: Path) -> dict[str, Path]:
    """The four schema files by name: flat (the package's layout) or with a ``bazowe/`` subfolder (MF's)."""
    found: dict[str, Path] = {}
    for name in SCHEMA_FILES:
        for candidate in (directory / name, directory / "bazowe" / name):
            if candidate.is_file():
                found[name] = candidate
                break
        else:
            raise SchemaUnavailable(f"{name} not found in {directory}")
    return found


class LocalSchemaResolver(etree.Resolver):
    """Resolve the FA(3) schema imports (URL, relative or absolute path) to local files by file name.

    Anything else is refused, so a schema can never pull a document from elsewhere.
    """

    def __init__(self, files: dict[str, Path]) -> None:
        super().__init__()
        self._files = files

    def resolve(self, system_url: str | None, public_id: str | None, context: object) -> object:
        name = (system_url or "").replace("\\", "/").rsplit("/", 1)[-1]
        path = self._files.get(name)
        if path is None:
            raise SchemaUnavailable(f"schema import outside the FA(3) set refused: {system_url}")
        return self.resolve_filename(str(path), context)


_lock = threading.Lock()
_validate_lock = threading.Lock()
_cache: dict[Path, etree.XMLSchema] = {}


def get_schema(directory: str | os.PathLike[str] | None = None) -> etree.XMLSchema:
    """The compiled FA(3) schema for ``directory`` (see :func:`schema_dir`), compiled on first use only."""
    where = schema_dir(directory).resolve()
    cached = _cache.get(where)
    if cached is not None:
        return cached
    with _lock:
        cached = _cache.get(where)
        if cached is None:
            files = locate(where)
            parser = hardened_parser(remove_blank_text=False)
            parser.resolvers.add(LocalSchemaResolver(files))
            try:
                document = etree.parse(str(files[MAIN_XSD]), parser)  # hardened parser
                cached = etree.XMLSchema(document)
            except (etree.XMLSyntaxError, etree.XMLSchemaParseError) as exc:
                raise SchemaUnavailable(f"cannot compile the FA(3) schema from {where}: {exc}") from exc
            _cache[where] = cached
    return cached


def validate(
    xml: bytes | etree._Element, *, directory: str | os.PathLike[str] | None = None
) -> list[SchemaError]:
    """Schema errors in ``xml`` (FA(3) bytes or a parsed element); an empty list means valid.

    A document that is not even well-formed yields one error with the parser's message.
    """
    if isinstance(xml, bytes):
        if xml.startswith(b"\xef\xbb\xbf"):
            return [
                SchemaError(
                    line=1, path="", message="the file starts with a byte-order mark; KSeF refuses it"
                )
            ]
        try:
            doc = parse_untrusted(xml, remove_blank_text=False)
        except etree.XMLSyntaxError as exc:
            return [SchemaError(line=exc.lineno or 0, path="", message=f"not well-formed XML: {exc.msg}")]
        except UnsafeXmlError as exc:
            return [SchemaError(line=1, path="", message=str(exc))]
    else:
        doc = xml
    refused = [
        el for el in doc.iter() if DISCOURAGED.search(el.text or "") or DISCOURAGED.search(el.tail or "")
    ]
    if refused:
        return [
            SchemaError(
                line=el.sourceline or 0,
                path=_readable_path(el, el.getroottree().getpath(el)),
                message="discouraged Unicode characters (C1 controls or noncharacters); KSeF refuses them",
            )
            for el in refused
        ]
    schema = get_schema(directory)
    # One compiled schema serves every thread, but lxml keeps the last run's error log on the schema
    # object itself, so a validation and the reading of its log must not interleave with another.
    with _validate_lock:
        if schema.validate(doc):
            return []
        entries = [(e.line, e.path or "", e.message) for e in schema.error_log]
    return [
        SchemaError(line=line, path=_readable_path(doc, path), message=_short(msg))
        for line, path, msg in entries
    ]


def is_valid(xml: bytes, *, directory: str | os.PathLike[str] | None = None) -> bool:
    return not validate(xml, directory=directory)


_NS_BRACES = "{http://crd.gov.pl/wzor/2025/06/25/13775/}"


def _short(text: str) -> str:
    # Every FA(3) element is in the same namespace; spelling it out in each message only hides the point.
    return text.replace(_NS_BRACES, "")


def _readable_path(doc: etree._Element, path: str) -> str:
    """Turn libxml2's positional path (``/*/*[4]/*[2]``) into names (``/Faktura/Fa/P_2``)."""
    if not path.startswith("/"):
        return _short(path)
    try:
        found = doc.getroottree().xpath(path)
    except etree.XPathError:
        return _short(path)
    if not isinstance(found, list) or not found or not isinstance(found[0], etree._Element):
        return _short(path)
    steps = []
    el: etree._Element | None = found[0]
    while el is not None:
        name = etree.QName(el).localname
        parent = el.getparent()
        same = [] if parent is None else [s for s in parent if s.tag == el.tag]
        steps.append(f"{name}[{same.index(el) + 1}]" if len(same) > 1 else name)
        el = parent
    return "/" + "/".join(reversed(steps))

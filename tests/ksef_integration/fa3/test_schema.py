"""The XSD comes from ksef-client's package data, compiles offline once, and reports readable errors."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from ksef_integration.fa3 import schema
from ksef_integration.fa3.builder import build_invoice
from tests.official import FA_SCHEMAS

from .cases import cases

DOCS = FA_SCHEMAS  # the repository's copy of MF's files (vendor/ksef-docs), which the app reads


def package_schema_dir() -> Path:
    """Where the ``ksef-client`` package (a test dependency) installed its own copy of the FA(3) XSDs."""
    spec = importlib.util.find_spec("ksef_client")
    assert spec is not None
    assert spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "documents" / "fa3" / "schemas"


VALID = build_invoice(cases()["mixed-rates"])


def normalise(text: str) -> str:
    """Line endings, trailing whitespace and schemaLocation targets (URL vs file name) do not matter."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r'schemaLocation="[^"]*?([^/"]+)"', r'schemaLocation="\1"', text)
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


def official(name: str) -> Path:
    return DOCS / name if name == schema.MAIN_XSD else DOCS / "bazowe" / name


@pytest.mark.parametrize("name", schema.SCHEMA_FILES)
def test_our_copy_matches_the_one_another_project_ships(name: str) -> None:
    """Two copies from two sources agree: ours was not edited by mistake."""
    installed = package_schema_dir() / name
    ours = installed.read_text(encoding="utf-8")
    theirs = official(name).read_text(encoding="utf-8")
    assert normalise(ours) == normalise(theirs)
    # the normalisation must not hide real content: a one-character change is still seen
    middle = len(ours) // 2
    assert normalise(ours[:middle] + "#" + ours[middle:]) != normalise(theirs)


def test_the_app_reads_the_repository_copy() -> None:
    where = schema.schema_dir()
    assert where == schema.VENDORED_DIR == DOCS
    assert set(schema.locate(where)) == set(schema.SCHEMA_FILES)
    checkout = Path(__file__).resolve().parents[3]
    assert all(path.is_relative_to(checkout) for path in schema.locate(where).values())


def test_schema_is_compiled_once() -> None:
    assert schema.get_schema() is schema.get_schema()


def test_valid_document_has_no_errors() -> None:
    assert schema.validate(VALID) == []
    assert schema.is_valid(VALID)


def test_element_order_error_is_readable() -> None:
    broken = VALID.replace(b"<P_1>2026-02-02</P_1>\n", b"").replace(
        b"<P_2>FV/2026/02/1</P_2>", b"<P_2>FV/2026/02/1</P_2>\n    <P_1>2026-02-02</P_1>"
    )
    errors = schema.validate(broken)
    assert errors
    first = errors[0]
    assert first.line == VALID.decode().splitlines().index("    <P_1>2026-02-02</P_1>") + 1
    assert first.path.startswith("/Faktura/Fa")
    assert "P_2" in first.message
    assert "P_1" in first.message
    assert str(first).startswith(f"line {first.line}: /Faktura/Fa")


def test_bad_value_and_malformed_and_bom() -> None:
    errors = schema.validate(VALID.replace(b"<P_12>23</P_12>", b"<P_12>24</P_12>"))
    assert [(e.path, e.message.split(":")[0]) for e in errors] == [
        ("/Faktura/Fa/FaWiersz[1]/P_12", "Element 'P_12'")
    ]
    assert "'24'" in errors[0].message
    malformed = schema.validate(b"<Faktura><Fa></Faktura>")
    assert len(malformed) == 1
    assert "not well-formed" in malformed[0].message
    bom = schema.validate(b"\xef\xbb\xbf" + VALID)
    assert len(bom) == 1
    assert "byte-order mark" in bom[0].message


def test_schema_dir_override_by_env_and_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(schema.ENV_VAR, str(package_schema_dir()))  # the package's flat layout
    assert schema.schema_dir() == package_schema_dir()
    from_package = schema.get_schema()
    assert from_package is not schema.get_schema(DOCS)
    assert schema.validate(VALID) == []
    assert schema.validate(VALID, directory=DOCS) == []


def test_missing_files_and_foreign_imports_are_refused(tmp_path: Path) -> None:
    with pytest.raises(schema.SchemaUnavailable, match="not found"):
        schema.get_schema(tmp_path)
    resolver = schema.LocalSchemaResolver(schema.locate(DOCS))
    with pytest.raises(schema.SchemaUnavailable, match="refused"):
        resolver.resolve("http://example.com/evil.xsd", None, None)

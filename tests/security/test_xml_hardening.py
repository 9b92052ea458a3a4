"""Every XML we read from outside refuses entity expansion and external entities: the FA(3) parser and
validator, the import of KSeF packages, the UPO reader, and the simulator's invoice and XAdES intake.

Each entry point gets a billion-laughs bomb, a quadratic blow-up, an external entity pointing at a local
file and an external parameter entity; none may expand, read the file, or hang. The file holds a valid
value for the element that references it, so reading it would change the result, not only the message.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from accounts.models import Company
from invoices.models import Invoice
from ksef_integration.fa3.parser import Fa3ParseError, parse_invoice
from ksef_integration.fa3.schema import validate
from ksef_integration.importing.mapping import window_import
from ksef_integration.models import ImportFailure, SubjectType
from ksef_integration.sending.state import upo_acquisition_date
from ksef_simulator import fa3_schema, xades
from ksef_simulator.responses import ApiError

FA3 = "http://crd.gov.pl/wzor/2025/06/25/13775/"
UPO = "http://upo.schematy.mf.gov.pl/KSeF/v4-3"
AUTH = "http://ksef.mf.gov.pl/auth/token/2.0"
FILE_VALUE = "2026-01-02T03:04:05+00:00"  # a value the UPO reader would happily return

# root element (with namespace) and the element whose text references the entity
SHAPES = {
    "fa3": f'<Faktura xmlns="{FA3}"><Naglowek><KodFormularza>{{ref}}</KodFormularza></Naglowek></Faktura>',
    "upo": (
        f'<Potwierdzenie xmlns="{UPO}"><DataNadaniaNumeruKSeF>{{ref}}</DataNadaniaNumeruKSeF></Potwierdzenie>'
    ),
    "auth": f'<AuthTokenRequest xmlns="{AUTH}"><Challenge>{{ref}}</Challenge></AuthTokenRequest>',
}


def _laughs() -> tuple[str, str]:
    entities = '<!ENTITY a "lollollollollollollollollollol">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9)
    )
    return entities, "&j;"  # 10^9 "lol"s


def _quadratic() -> tuple[str, str]:
    return f'<!ENTITY big "{"x" * 100_000}">', "&big;" * 10_000  # 1 GB by plain repetition


def _external_file(path: Path) -> tuple[str, str]:
    return f'<!ENTITY x SYSTEM "file://{path}">', "&x;"


def _external_parameter(path: Path) -> tuple[str, str]:
    return f'<!ENTITY % p SYSTEM "file://{path}"> %p;', "&y;"


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(FILE_VALUE)
    (tmp_path / "entities.dtd").write_text(f'<!ENTITY y "{FILE_VALUE}">')
    return path


PAYLOADS: dict[str, Callable[[Path], tuple[str, str]]] = {
    "billion-laughs": lambda _: _laughs(),
    "quadratic-blowup": lambda _: _quadratic(),
    "external-file": _external_file,
    "external-parameter-entity": lambda path: _external_parameter(path.parent / "entities.dtd"),
}


def _document(shape: str, payload: str, secret_file: Path) -> bytes:
    declarations, reference = PAYLOADS[payload](secret_file)
    root = SHAPES[shape].format(ref=reference)
    name = root[1 : root.index(" ")]
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE {name} [{declarations}]>\n{root}'.encode()


def _assert_clean(text: str) -> None:
    assert FILE_VALUE not in text
    assert "lollollol" not in text
    assert "x" * 1000 not in text


@pytest.mark.parametrize("payload", sorted(PAYLOADS))
def test_client_fa3_parser_and_validator(payload: str, secret_file: Path) -> None:
    document = _document("fa3", payload, secret_file)
    with pytest.raises(Fa3ParseError) as info:
        parse_invoice(document)
    _assert_clean(str(info.value))
    errors = validate(document)
    assert errors
    _assert_clean(" ".join(e.message for e in errors))


@pytest.mark.django_db
@pytest.mark.parametrize("payload", sorted(PAYLOADS))
def test_import_of_a_ksef_package(payload: str, secret_file: Path, company_a: Company) -> None:
    """Refused without expanding anything, and kept aside ("could not be imported") with a clean reason."""
    document = _document("fa3", payload, secret_file)
    stats = window_import(
        company=company_a,
        subject_type=SubjectType.SUBJECT2,
        invoices={"5265877635-20261125-0100A0000000-AB": document},
        metadata=[],
    )
    assert (stats.created, stats.failed) == (0, 1)
    failure = ImportFailure.objects.get(company=company_a)
    _assert_clean(failure.reason)
    assert bytes(failure.xml) == document  # kept as KSeF gave it, never expanded
    assert not Invoice.objects.filter(company=company_a).exists()


@pytest.mark.parametrize("payload", sorted(PAYLOADS))
def test_client_upo_reader(payload: str, secret_file: Path) -> None:
    plain = SHAPES["upo"].format(ref=FILE_VALUE).encode()
    assert upo_acquisition_date(plain) is not None  # the control: a plain UPO is read
    assert upo_acquisition_date(_document("upo", payload, secret_file)) is None


@pytest.mark.parametrize("payload", sorted(PAYLOADS))
def test_simulator_invoice_intake(payload: str, secret_file: Path) -> None:
    with pytest.raises(fa3_schema.InvoiceFileError) as info:
        fa3_schema.parse_invoice(_document("fa3", payload, secret_file))
    _assert_clean(str(info.value))


@pytest.mark.parametrize("payload", sorted(PAYLOADS))
def test_simulator_xades_login_intake(payload: str, secret_file: Path) -> None:
    with pytest.raises(ApiError) as info:
        xades.parse_and_verify(_document("auth", payload, secret_file))
    error: Any = info.value
    assert error.status == 400
    _assert_clean(repr(vars(error)))


# --- every parser construction in the code ---------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
APPS = ["accounts", "invoices", "ksef_integration", "ksef_simulator", "ksefportal"]


def _sources() -> dict[str, str]:
    return {
        str(path.relative_to(ROOT)): path.read_text(encoding="utf-8")
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts
    }


def test_every_xml_parser_in_the_code_is_built_hardened() -> None:
    import re

    constructions = []
    for name, text in _sources().items():
        for match in re.finditer(r"etree\.XMLParser\((.*?)\)", text, re.DOTALL):
            constructions.append(name)
            assert "resolve_entities=False" in match.group(1), name
            assert "huge_tree=True" not in match.group(1), name
            assert "no_network=False" not in match.group(1), name
        # lxml's default parser resolves internal entities: every parse must name its parser.
        for match in re.finditer(r"etree\.(?:fromstring|parse|XML|iterparse)\(([^\n]*)", text):
            assert "," in match.group(1) or "parser" in match.group(1), (name, match.group(0))
        # The standard library's parsers are not hardened (defusedxml would be needed): not used at all.
        for forbidden in ("xml.etree", "xml.dom", "minidom", "xml.sax.parse", "xml.parsers.expat", "pulldom"):
            assert forbidden not in text, (name, forbidden)
    assert len(constructions) >= 7  # the known ones: FA(3), UPO, simulator intake, XAdES, schemas


def test_signxml_refuses_dtds_on_its_own_parse() -> None:
    # The simulator hands the raw body to signxml's verifier, which parses it once more.
    from signxml.exceptions import InvalidInput
    from signxml.xades import XAdESVerifier

    with pytest.raises(InvalidInput, match="DTD"):
        XAdESVerifier().get_root(b'<!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>')

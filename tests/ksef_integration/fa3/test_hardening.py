"""Outside XML is parsed without entity expansion, DTDs or network access."""

from __future__ import annotations

import re

import pytest

from ksef_integration.fa3.builder import build_invoice
from ksef_integration.fa3.parser import Fa3ParseError, parse_invoice
from ksef_integration.fa3.schema import validate

from .cases import cases

NS = "http://crd.gov.pl/wzor/2025/06/25/13775/"
VALID = build_invoice(cases()["rate-23"])

XXE = f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE Faktura [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Faktura xmlns="{NS}"><Fa><P_2>&secret;</P_2></Fa></Faktura>""".encode()

LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE Faktura [<!ENTITY a "lollollollollollollollollollol">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
    + f']>\n<Faktura xmlns="{NS}"><Fa><P_2>&j;</P_2></Fa></Faktura>'
).encode()


@pytest.mark.parametrize("payload", [XXE, LAUGHS], ids=["external-entity", "billion-laughs"])
def test_entity_documents_are_refused(payload: bytes) -> None:
    # refused either by our DTD ban or, for the bomb, already by libxml2's amplification limit
    refused = "DOCTYPE|amplification"
    with pytest.raises(Fa3ParseError, match=refused) as info:
        parse_invoice(payload)
    assert "root:" not in str(info.value)
    assert "lollol" not in str(info.value)
    errors = validate(payload)
    assert len(errors) == 1
    assert re.search(refused, errors[0].message)


def test_a_valid_invoice_with_a_doctype_is_still_refused() -> None:
    head, body = VALID.split(b"\n", 1)
    with pytest.raises(Fa3ParseError, match="DOCTYPE"):
        parse_invoice(head + b"\n<!DOCTYPE Faktura>\n" + body)


def test_malformed_and_foreign_documents_raise_parse_errors() -> None:
    with pytest.raises(Fa3ParseError, match="well-formed"):
        parse_invoice(b"<Faktura>")
    with pytest.raises(Fa3ParseError, match="root element"):
        parse_invoice(b'<Faktura xmlns="http://crd.gov.pl/wzor/2023/06/29/12648/"/>')
    with pytest.raises(Fa3ParseError, match="missing"):
        parse_invoice(VALID.replace(b"<P_2>FV/R/R23</P_2>", b""))

"""The file checks KSeF runs before semantics: encoding, characters, processing instructions, the XSD."""

from __future__ import annotations

import pytest

from ksef_simulator.fa3_schema import InvoiceFileError, fa3_schema, parse_invoice
from tests.ksef_simulator.invoices import fa3


def valid() -> bytes:
    return fa3.invoice(seller=fa3.nip(), buyer=fa3.nip(), number=fa3.number())


def test_a_valid_invoice_parses_and_the_schema_compiles_once() -> None:
    assert parse_invoice(valid()).tag.endswith("Faktura")
    assert fa3_schema() is fa3_schema()


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda x: b"\xef\xbb\xbf" + x, "BOM"),
        (lambda x: x.replace(b'encoding="UTF-8"', b'encoding="ISO-8859-2"'), "UTF-8"),
        (lambda x: x.replace(b"Warszawa", b"Warszawa\xc2\x85"[:-2] + b"\xc2\x81"), "niedozwolone znaki"),
        (lambda x: x.replace(b"Warszawa", b"Warsz\xff"), "UTF-8"),
        (lambda x: x.replace(b"<Naglowek>", b"<?pi test?><Naglowek>"), "instrukcji przetwarzania"),
        (lambda x: x.replace(b"<P_2>", b"<P_1M>x</P_1M><P_1M>y</P_1M><P_2>"), "P_1M"),
        (lambda x: x.replace(b"<P_15>123.00", b"<P_15>12.345"), "P_15"),
        (lambda x: x[:-30], "Nieprawidłowy XML"),
    ],
)
def test_bad_files_are_refused_with_a_message(mangle: object, message: str) -> None:
    with pytest.raises(InvoiceFileError) as refused:
        parse_invoice(mangle(valid()))  # type: ignore[operator]
    assert message in str(refused.value)

"""Any text lays out in the PDF: 250 line breaks in a line's name (an imported P_7) or in the buyer's name
once made reportlab raise LayoutError (a 500); the cells are now folded, nothing is lost from the page."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from accounts.models import Company
from invoices.models import Invoice, InvoiceLine
from invoices.pdf import fold
from ksef_integration.fa3.schema import validate
from ksef_integration.importing.mapping import window_import
from ksef_integration.models import SubjectType
from tests.importing.fa3_docs import faktura

pytestmark = pytest.mark.django_db

MANY_LINES = "\n".join(f"wiersz {n}" for n in range(250))


def test_250_line_breaks_in_an_imported_line_and_seller_name_lay_out(
    alice_client: Any, company_a: Company
) -> None:
    name = "\n" * 250 + "Pozycja"  # P_7 is TZnakowy512: 250 line breaks fit
    xml = faktura(
        f"""<KodWaluty>PLN</KodWaluty><P_1>2026-09-01</P_1><P_2>LB/1</P_2>
    <P_13_1>100.00</P_13_1><P_14_1>23.00</P_14_1><P_15>123.00</P_15>
    {{adnotacje}}<RodzajFaktury>VAT</RodzajFaktury>
    <FaWiersz><NrWierszaFa>1</NrWierszaFa><P_7>{name}</P_7><P_8B>1</P_8B><P_9A>100.00</P_9A>
      <P_11>100.00</P_11><P_12>23</P_12></FaWiersz>""",
        buyer_nip=company_a.nip,
        seller_name="Sprzedawca" + "\nx" * 200,
    )
    assert validate(xml) == []
    window_import(company=company_a, subject_type=SubjectType.SUBJECT2, invoices={"K-1": xml}, metadata=())
    invoice = Invoice.objects.get(company=company_a, ksef_number="K-1")
    response = alice_client.get(reverse("invoices:pdf", args=[invoice.uuid]))
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")


@pytest.mark.parametrize(
    "text",
    [MANY_LINES, "\n" * 400, "słowo " * 85, "x" * 512, ("długi wiersz " * 40 + "\n") * 30],
    ids=["250 lines", "only line breaks", "long text", "one long word", "long lines"],
)
def test_typed_names_of_any_shape_lay_out(alice_client: Any, company_a: Company, text: str) -> None:
    invoice = Invoice.objects.create(
        company=company_a, direction="sales", number="T/1", issue_date=dt.date(2026, 9, 1),
        seller_name=text[:512], buyer_name=text[:512], buyer_address_line1=text[:512],
        buyer_address_line2=text[:512], notes=text * 3,
    )  # fmt: skip
    for ordinal in range(1, 4):
        InvoiceLine.objects.create(
            invoice=invoice, ordinal=ordinal, name=text[:512], unit=text[:32], quantity=Decimal(1),
            unit_price=Decimal(1), vat_rate="23", net_value=Decimal("1.00"), vat_amount=Decimal("0.23"),
            gross_value=Decimal("1.23"),
        )  # fmt: skip
    response = alice_client.get(reverse("invoices:pdf", args=[invoice.uuid]))
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")


def test_fold_keeps_every_word_within_the_line_limit() -> None:
    folded = fold(MANY_LINES, max_lines=12)
    assert len(folded.splitlines()) == 12
    assert folded.split() == MANY_LINES.split()  # nothing dropped, only joined
    assert fold("\n\n a \n\n b \n") == "a\nb"

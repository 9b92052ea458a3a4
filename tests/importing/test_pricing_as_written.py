"""Issue 19: an imported invoice priced gross (P_9B/P_11A) or sold in a margin scheme (PMarzy, P_13_11)
shows what its issuer wrote: the parser keeps those elements, the import stores them, and the page and the
PDF print them; nothing the XML states is computed again."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from accounts.models import Company
from invoices.formatting import money, price
from invoices.models import MARGIN_RATE, MARGIN_WORDS, Invoice
from ksef_integration.fa3 import model as fa3
from ksef_integration.fa3 import parse_invoice
from ksef_integration.fa3.schema import validate
from ksef_integration.importing.mapping import window_import
from ksef_integration.models import SubjectType
from tests.importing.fa3_docs import ADNOTACJE, faktura
from tests.test_browser_send import pdf_text

pytestmark = pytest.mark.django_db

KSEF_NUMBER = "5265877635-20260901-0000000000CD-00"

# A shop's receipt-like invoice priced gross. Its issuer summed the lines' own taxes (0.19 + 0.19 + 6.90 =
# 7.28), where the portal would take 38.88 x 23/123 = 7.27 out of the rate's gross sum: the page must show
# the issuer's 7.28 and net 31.60, and the discount (P_10) and the note as written.
GROSS = """<KodWaluty>PLN</KodWaluty><P_1>2026-09-01</P_1><P_2>PAR/9/2026</P_2>
    <P_13_1>31.60</P_13_1><P_14_1>7.28</P_14_1><P_15>38.88</P_15>
    {adnotacje}<RodzajFaktury>VAT</RodzajFaktury>
    <DodatkowyOpis><Klucz>Rabat od całej faktury</Klucz><Wartosc>5% (2,05 PLN)</Wartosc></DodatkowyOpis>
    <FaWiersz><NrWierszaFa>1</NrWierszaFa><P_7>Kawa</P_7><P_8A>szt.</P_8A><P_8B>3</P_8B><P_9B>12.98</P_9B>
      <P_10>2.04</P_10><P_11A>36.90</P_11A><P_12>23</P_12></FaWiersz>
    <FaWiersz><NrWierszaFa>2</NrWierszaFa><P_7>Woda</P_7><P_8A>szt.</P_8A><P_8B>1</P_8B><P_9B>0.99</P_9B>
      <P_11A>0.99</P_11A><P_12>23</P_12></FaWiersz>
    <FaWiersz><NrWierszaFa>3</NrWierszaFa><P_7>Woda gazowana</P_7><P_8A>szt.</P_8A><P_8B>1</P_8B>
      <P_9B>0.99</P_9B><P_11A>0.99</P_11A><P_12>23</P_12></FaWiersz>"""

# An antiques dealer's invoice in the margin scheme: no rate, no tax, the price the buyer pays.
MARGIN = """<KodWaluty>PLN</KodWaluty><P_1>2026-09-02</P_1><P_2>AN/4/2026</P_2>
    <P_13_11>850.50</P_13_11><P_15>850.50</P_15>
    {adnotacje}<RodzajFaktury>VAT</RodzajFaktury>
    <FaWiersz><NrWierszaFa>1</NrWierszaFa><P_7>Zegar kominkowy</P_7><P_8A>szt.</P_8A><P_8B>1</P_8B>
      <P_9B>850.50</P_9B><P_11A>850.50</P_11A></FaWiersz>"""
MARGIN_ADNOTACJE = ADNOTACJE.replace(
    "<PMarzy><P_PMarzyN>1</P_PMarzyN></PMarzy>",
    "<PMarzy><P_PMarzy>1</P_PMarzy><P_PMarzy_3_3>1</P_PMarzy_3_3></PMarzy>",
)


def _flat(text: str) -> str:
    """The PDF draws the grouping space as a space and may wrap long words."""
    return " ".join(text.replace("\u00a0", " ").split())


def _import(company: Company, xml: bytes) -> Invoice:
    assert validate(xml) == [], "the hand-written document must be schema-valid"
    stats = window_import(
        company=company, subject_type=SubjectType.SUBJECT2, invoices={KSEF_NUMBER: xml}, metadata=()
    )
    assert (stats.created, stats.failed) == (1, 0)
    return Invoice.objects.prefetch_related("lines").get(company=company, ksef_number=KSEF_NUMBER)


def test_a_gross_priced_invoice_shows_its_gross_prices_and_stated_totals(
    alice_client: Any, company_a: Company
) -> None:
    xml = faktura(GROSS, buyer_nip=company_a.nip)
    parsed = parse_invoice(xml)
    assert [(x.unit_price_gross, x.gross_value, x.net_value, x.unit_price) for x in parsed.lines] == [
        (Decimal("12.98"), Decimal("36.90"), None, None),
        (Decimal("0.99"), Decimal("0.99"), None, None),
        (Decimal("0.99"), Decimal("0.99"), None, None),
    ]
    assert parsed.totals == fa3.Totals(
        rates=(fa3.RateTotal("1", Decimal("31.60"), Decimal("7.28")),), gross=Decimal("38.88")
    )

    invoice = _import(company_a, xml)
    assert invoice.prices_gross
    assert invoice.pricing == "gross"
    lines = sorted(invoice.lines.all(), key=lambda line: line.ordinal)
    assert [(x.unit_price_gross, x.gross_value, x.discount) for x in lines] == [
        (Decimal("12.98"), Decimal("36.90"), Decimal("2.04")),
        (Decimal("0.99"), Decimal("0.99"), None),
        (Decimal("0.99"), Decimal("0.99"), None),
    ]
    assert [(t.vat_rate, t.net, t.vat) for t in invoice.rate_totals()] == [
        ("23", Decimal("31.60"), Decimal("7.28"))
    ], "P_13_1/P_14_1 as written, not 31.61/7.27 from the gross sum"

    html = alice_client.get(reverse("invoices:detail", args=[invoice.uuid])).content.decode()
    assert 'id="annotation-gross-prices"' in html
    assert f'<td class="num">{price(Decimal("12.98"))}</td>' in html  # P_9B in the price column
    assert money(Decimal("36.90")) in html
    assert money(Decimal("7.28")) in html
    assert money(Decimal("7.27")) not in html
    assert "5% (2,05 PLN)" in html  # the issuer's DodatkowyOpis
    text = _flat(pdf_text(alice_client.get(reverse("invoices:pdf", args=[invoice.uuid])).content))
    assert price(Decimal("12.98")) in text
    assert money(Decimal("7.28")) in text
    assert money(Decimal("31.60")) in text


def test_a_margin_scheme_invoice_shows_its_scheme_and_p_13_11(alice_client: Any, company_a: Company) -> None:
    xml = faktura(MARGIN.replace("{adnotacje}", MARGIN_ADNOTACJE), buyer_nip=company_a.nip)
    parsed = parse_invoice(xml)
    assert parsed.annotations.margin == fa3.MarginScheme.ANTIQUES
    assert [(x.vat_rate, x.unit_price_gross, x.gross_value) for x in parsed.lines] == [
        (None, Decimal("850.50"), Decimal("850.50"))
    ]
    assert parsed.totals == fa3.Totals(
        rates=(fa3.RateTotal("11", Decimal("850.50")),), gross=Decimal("850.50")
    )

    invoice = _import(company_a, xml)
    assert invoice.margin_scheme == "antiques"
    assert invoice.pricing == "margin"
    line = invoice.lines.get()
    assert (line.vat_rate, line.unit_price_gross, line.gross_value, line.vat_amount) == (
        MARGIN_RATE,
        Decimal("850.50"),
        Decimal("850.50"),
        Decimal("0.00"),
    ), "a line of the margin scheme has no rate: not shown as exempt"
    assert [(t.vat_rate, t.net) for t in invoice.rate_totals()] == [(MARGIN_RATE, Decimal("850.50"))]

    html = alice_client.get(reverse("invoices:detail", args=[invoice.uuid])).content.decode()
    words = MARGIN_WORDS["antiques"]
    assert words == "procedura marży - przedmioty kolekcjonerskie i antyki"
    assert words in html
    assert 'id="annotation-margin"' in html
    assert money(Decimal("850.50")) in html
    text = _flat(pdf_text(alice_client.get(reverse("invoices:pdf", args=[invoice.uuid])).content))
    assert words in text
    assert money(Decimal("850.50")) in text

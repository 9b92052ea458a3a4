"""An imported invoice shows what its issuer wrote: one hand-written FA(3) document of each kind.

Each row names, for every expected value, why it is what it is. The page must show P_15 as the gross, the
per-rate table from P_13_x/P_14_x (and P_14_xW as the VAT in PLN), the amount to pay from Rozliczenie, and
the document's own title and badge; the portal computes nothing that the XML states.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import translation

from accounts.models import Company
from invoices.formatting import money
from invoices.models import Invoice
from invoices.totals import DueKind
from ksef_integration.fa3.schema import validate
from ksef_integration.importing.mapping import window_import
from ksef_integration.models import SubjectType
from tests.importing.fa3_docs import faktura

pytestmark = pytest.mark.django_db

KSEF_NUMBER = "5265877635-20260901-0000000000AB-00"
ADVANCE_KSEF = "5265877635-20260202-00000000ABCD-92"

# (rate shown, net, VAT, VAT in PLN) per P_13_x group, in document order
Row = tuple[str, str, str, str | None]


@dataclass(frozen=True)
class Case:
    name: str
    fa: str
    kind: str
    rows: tuple[Row, ...]
    gross: str
    due: str
    due_kind: DueKind
    why: dict[str, str] = field(default_factory=dict)


LINE_23 = """<FaWiersz><NrWierszaFa>{n}</NrWierszaFa><P_7>{name}</P_7><P_8A>szt.</P_8A><P_8B>{qty}</P_8B>
      <P_9A>{price}</P_9A><P_11>{net}</P_11><P_12>23</P_12></FaWiersz>"""


def line(n: int, net: str, *, name: str = "Stół dębowy", qty: str = "1", extra: str = "") -> str:
    return LINE_23.format(n=n, name=name, qty=qty, price=net.lstrip("-"), net=net).replace(
        "<P_12>23</P_12>", f"<P_12>23</P_12>{extra}"
    )


CASES = [
    Case(
        name="VAT",
        fa=f"""<KodWaluty>PLN</KodWaluty><P_1>2026-09-01</P_1><P_2>FV/1/09/2026</P_2><P_6>2026-09-01</P_6>
    <P_13_1>99.99</P_13_1><P_14_1>23.01</P_14_1><P_15>123.01</P_15>
    {{adnotacje}}<RodzajFaktury>VAT</RodzajFaktury>
    {line(1, "33.33")}{line(2, "33.33")}{line(3, "33.33")}""",
        kind="VAT",
        rows=(("23", "99.99", "23.01", None),),
        gross="123.01",
        due="123.01",
        due_kind=DueKind.DUE,
        why={
            "rows": "the issuer rounded VAT per line (3 x 7.67 = 23.01); computed from the sum it would be "
            "23.00, so the table must show P_14_1 as written",
            "gross": "P_15 as written (123.01), not 99.99 + 23.00 recomputed",
        },
    ),
    Case(
        name="KOR",
        fa=f"""<KodWaluty>PLN</KodWaluty><P_1>2026-09-02</P_1><P_2>KOR/1/09/2026</P_2>
    <P_13_1>-100.00</P_13_1><P_14_1>-23.00</P_14_1><P_15>-123.00</P_15>
    {{adnotacje}}<RodzajFaktury>KOR</RodzajFaktury><PrzyczynaKorekty>Zwrot towaru</PrzyczynaKorekty>
    <TypKorekty>1</TypKorekty>
    <DaneFaKorygowanej><DataWystFaKorygowanej>2026-09-01</DataWystFaKorygowanej>
      <NrFaKorygowanej>FV/1/09/2026</NrFaKorygowanej><NrKSeFN>1</NrKSeFN></DaneFaKorygowanej>
    {line(1, "200.00", extra="<StanPrzed>1</StanPrzed>")}{line(1, "100.00")}""",
        kind="KOR",
        rows=(("23", "-100.00", "-23.00", None),),
        gross="-123.00",
        due="-123.00",
        due_kind=DueKind.DIFFERENCE,
        why={
            "rows": "a correction's P_13_1/P_14_1 are the differences (after - before) as written",
            "due": "a correction shows the difference to settle, P_15",
        },
    ),
    Case(
        name="ZAL",
        fa="""<KodWaluty>PLN</KodWaluty><P_1>2026-09-03</P_1><P_2>ZAL/1/09/2026</P_2>
    <P_13_1>406.50</P_13_1><P_14_1>93.50</P_14_1><P_15>500.00</P_15>
    {adnotacje}<RodzajFaktury>ZAL</RodzajFaktury>""",
        kind="ZAL",
        rows=(("23", "406.50", "93.50", None),),
        gross="500.00",
        due="500.00",
        due_kind=DueKind.DUE,
        why={
            "rows": "an advance invoice has no lines; the table can only come from P_13_1/P_14_1",
            "gross": "the advance received, P_15",
        },
    ),
    Case(
        name="ROZ",
        fa=f"""<KodWaluty>PLN</KodWaluty><P_1>2026-09-20</P_1><P_2>ROZ/1/09/2026</P_2>
    <P_13_1>593.50</P_13_1><P_14_1>136.50</P_14_1><P_15>730.00</P_15>
    {{adnotacje}}<RodzajFaktury>ROZ</RodzajFaktury>
    <FakturaZaliczkowa><NrKSeFFaZaliczkowej>{ADVANCE_KSEF}</NrKSeFFaZaliczkowej></FakturaZaliczkowa>
    {line(1, "1000.00", name="Meble kuchenne (całe zamówienie)")}""",
        kind="ROZ",
        rows=(("23", "593.50", "136.50", None),),
        gross="730.00",
        due="730.00",
        due_kind=DueKind.DUE,
        why={
            "rows": "the lines describe the whole contract (1000.00 + 230.00); the settlement is what is "
            "left after the advance (1000.00 - 406.50), as P_13_1/P_14_1 say",
            "gross": "P_15, what is left to pay, not 1230.00 from the lines",
        },
    ),
    Case(
        name="UPR",
        fa="""<KodWaluty>PLN</KodWaluty><P_1>2026-09-04</P_1><P_2>PAR/77/2026</P_2><P_15>123.00</P_15>
    {adnotacje}<RodzajFaktury>UPR</RodzajFaktury>
    <FaWiersz><NrWierszaFa>1</NrWierszaFa><P_7>Paliwo</P_7><P_8B>20</P_8B><P_9B>6.15</P_9B>
      <P_11A>123.00</P_11A><P_12>23</P_12></FaWiersz>""",
        kind="UPR",
        rows=(),
        gross="123.00",
        due="123.00",
        due_kind=DueKind.DUE,
        why={
            "rows": "a simplified invoice states no P_13_x/P_14_x; no per-rate row is invented",
            "gross": "P_15 is its only amount (Σ P_13 + Σ P_14 would be 0.00)",
        },
    ),
    Case(
        name="KOR_ZAL",
        fa="""<KodWaluty>PLN</KodWaluty><P_1>2026-09-05</P_1><P_2>KOR/ZAL/1/2026</P_2>
    <P_13_1>-200.00</P_13_1><P_14_1>-46.00</P_14_1><P_15>-246.00</P_15>
    {adnotacje}<RodzajFaktury>KOR_ZAL</RodzajFaktury>
    <PrzyczynaKorekty>Częściowy zwrot zaliczki</PrzyczynaKorekty>
    <DaneFaKorygowanej><DataWystFaKorygowanej>2026-09-03</DataWystFaKorygowanej>
      <NrFaKorygowanej>ZAL/1/09/2026</NrFaKorygowanej><NrKSeFN>1</NrKSeFN></DaneFaKorygowanej>""",
        kind="KOR_ZAL",
        rows=(("23", "-200.00", "-46.00", None),),
        gross="-246.00",
        due="-246.00",
        due_kind=DueKind.DIFFERENCE,
        why={
            "kind": "a correction of an advance invoice is titled as such, not only 'KOR'",
            "rows": "the differences as written",
        },
    ),
    Case(
        name="KOR_ROZ",
        fa="""<KodWaluty>PLN</KodWaluty><P_1>2026-09-21</P_1><P_2>KOR/ROZ/1/2026</P_2>
    <P_13_1>-50.00</P_13_1><P_14_1>-11.50</P_14_1><P_15>-61.50</P_15>
    {adnotacje}<RodzajFaktury>KOR_ROZ</RodzajFaktury>
    <PrzyczynaKorekty>Rabat posprzedażowy</PrzyczynaKorekty>
    <DaneFaKorygowanej><DataWystFaKorygowanej>2026-09-20</DataWystFaKorygowanej>
      <NrFaKorygowanej>ROZ/1/09/2026</NrFaKorygowanej><NrKSeFN>1</NrKSeFN></DaneFaKorygowanej>""",
        kind="KOR_ROZ",
        rows=(("23", "-50.00", "-11.50", None),),
        gross="-61.50",
        due="-61.50",
        due_kind=DueKind.DIFFERENCE,
        why={
            "rows": "a lump-sum correction has no lines at all: the table exists only in P_13_1/P_14_1",
        },
    ),
    Case(
        name="EUR with P_14_1W",
        fa=f"""<KodWaluty>EUR</KodWaluty><P_1>2026-09-06</P_1><P_2>EX/5/2026</P_2><P_6>2026-09-06</P_6>
    <P_13_1>200.00</P_13_1><P_14_1>46.00</P_14_1><P_14_1W>196.65</P_14_1W><P_15>246.00</P_15>
    {{adnotacje}}<RodzajFaktury>VAT</RodzajFaktury>
    {line(1, "100.00", extra="<KursWaluty>4.2500</KursWaluty>")}
    {line(2, "100.00", extra="<KursWaluty>4.3000</KursWaluty>")}""",
        kind="VAT",
        rows=(("23", "200.00", "46.00", "196.65"),),
        gross="246.00",
        due="246.00",
        due_kind=DueKind.DUE,
        why={
            "rows": "the lines carry two exchange rates (4.25 and 4.30): VAT in PLN is 97.75 + 98.90 = "
            "196.65 as P_14_1W says; one rate for the whole invoice would give 195.50",
        },
    ),
    Case(
        name="VAT with Rozliczenie",
        fa=f"""<KodWaluty>PLN</KodWaluty><P_1>2026-09-07</P_1><P_2>FV/9/09/2026</P_2><P_6>2026-09-07</P_6>
    <P_13_1>1000.00</P_13_1><P_14_1>230.00</P_14_1><P_15>1230.00</P_15>
    {{adnotacje}}<RodzajFaktury>VAT</RodzajFaktury>
    {line(1, "1000.00")}
    <Rozliczenie>
      <Obciazenia><Kwota>50.00</Kwota><Powod>Kaucja za palety</Powod></Obciazenia>
      <SumaObciazen>50.00</SumaObciazen>
      <Odliczenia><Kwota>200.00</Kwota><Powod>Nadpłata z faktury FV/3/08/2026</Powod></Odliczenia>
      <SumaOdliczen>200.00</SumaOdliczen>
      <DoZaplaty>1080.00</DoZaplaty>
    </Rozliczenie>""",
        kind="VAT",
        rows=(("23", "1000.00", "230.00", None),),
        gross="1230.00",
        due="1080.00",
        due_kind=DueKind.DUE,
        why={
            "due": "Rozliczenie adds a 50.00 deposit and deducts a 200.00 overpayment: DoZaplaty 1080.00 is "
            "what is to be paid, not P_15",
        },
    ),
    Case(
        name="ROZ overpaid (DoRozliczenia)",
        fa=f"""<KodWaluty>PLN</KodWaluty><P_1>2026-09-22</P_1><P_2>ROZ/2/09/2026</P_2>
    <P_13_1>-56.91</P_13_1><P_14_1>-13.09</P_14_1><P_15>-70.00</P_15>
    {{adnotacje}}<RodzajFaktury>ROZ</RodzajFaktury>
    <FakturaZaliczkowa><NrKSeFFaZaliczkowej>{ADVANCE_KSEF}</NrKSeFFaZaliczkowej></FakturaZaliczkowa>
    {line(1, "349.59")}
    <Rozliczenie><DoRozliczenia>70.00</DoRozliczenia></Rozliczenie>""",
        kind="ROZ",
        rows=(("23", "-56.91", "-13.09", None),),
        gross="-70.00",
        due="70.00",
        due_kind=DueKind.TO_SETTLE,
        why={
            "rows": "the advances exceeded the final price: the settlement's groups are negative, as written",
            "due": "DoRozliczenia: 70.00 is to be settled (returned), not paid",
        },
    ),
]


def _amount(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_imported_invoice_shows_what_its_issuer_wrote(
    case: Case, alice_client: Any, company_a: Company
) -> None:
    xml = faktura(case.fa, buyer_nip=company_a.nip)
    assert validate(xml) == [], f"{case.name}: the hand-written document must be schema-valid"
    stats = window_import(
        company=company_a, subject_type=SubjectType.SUBJECT2, invoices={KSEF_NUMBER: xml}, metadata=()
    )
    assert (stats.created, stats.failed) == (1, 0), case.name
    invoice = Invoice.objects.get(company=company_a, ksef_number=KSEF_NUMBER)
    assert invoice.document_kind == case.kind, case.why.get("kind", "RodzajFaktury as written")

    response = alice_client.get(reverse("invoices:detail", args=[invoice.uuid]))
    assert response.status_code == 200
    html = response.content.decode()
    rows = tuple(
        (t.vat_rate, f"{t.net:.2f}", f"{t.vat:.2f}", None if t.vat_pln is None else f"{t.vat_pln:.2f}")
        for t in response.context["rate_totals"]
    )
    assert rows == case.rows, case.why.get("rows", "P_13_x/P_14_x as written")
    summary = response.context["summary"]
    assert summary.gross == Decimal(case.gross), case.why.get("gross", "P_15 as written")
    assert (summary.due, summary.due_kind) == (Decimal(case.due), case.due_kind), case.why.get(
        "due", "P_15 is the amount to pay when there is no Rozliczenie"
    )
    # what the page prints: the title and badge of the kind, P_15, the amount due, P_14_xW
    assert f'data-kind="{case.kind}"' in html
    assert invoice.title in html
    assert (case.kind == "VAT") == ("badge--kind" not in html)
    assert f"<strong>{money(Decimal(case.gross))}</strong>" in html
    assert money(Decimal(case.due), invoice.currency) in html
    for _rate, net, vat, vat_pln in case.rows:
        assert money(Decimal(net)) in html
        assert money(Decimal(vat)) in html
        if vat_pln is not None:
            assert money(Decimal(vat_pln)) in html
    # the list shows P_15 and the badge; the PDF and the XML answer
    listing = alice_client.get(reverse("invoices:list") + "?direction=purchase").content.decode()
    assert money(Decimal(case.gross), invoice.currency) in listing
    if case.kind != "VAT":
        assert f'<span class="badge">{case.kind}</span>' in listing
    assert alice_client.get(reverse("invoices:pdf", args=[invoice.uuid])).status_code == 200
    xml_page = alice_client.get(reverse("ksef_integration:invoice_xml", args=[invoice.uuid]))
    assert xml_page.status_code == 200
    assert xml_page.content == xml


@pytest.mark.parametrize(
    ("kind", "title"),
    [
        ("VAT", "Faktura VAT"),
        ("KOR", "Faktura korygująca"),
        ("ZAL", "Faktura zaliczkowa"),
        ("ROZ", "Faktura rozliczeniowa"),
        ("UPR", "Faktura uproszczona"),
        ("KOR_ZAL", "Faktura korygująca zaliczkową"),
        ("KOR_ROZ", "Faktura korygująca rozliczeniową"),
    ],
)
def test_every_kind_has_its_english_title(kind: str, title: str) -> None:
    """The English titles (the msgids); the Polish ones in the second column come with the translations
    file of this change (helpers' JSON), so this test checks the English, which holds before the merge."""
    english = {
        "VAT": "VAT invoice",
        "KOR": "Correcting invoice",
        "ZAL": "Advance invoice",
        "ROZ": "Settlement invoice",
        "UPR": "Simplified invoice",
        "KOR_ZAL": "Correcting advance invoice",
        "KOR_ROZ": "Correcting settlement invoice",
    }
    invoice = Invoice(number="A/1", kind="VAT", stated_kind=kind)
    with translation.override("en"):
        assert invoice.title == f"{english[kind]} A/1"


def test_a_line_whose_quantity_times_price_no_column_holds_is_stored(company_a: Company) -> None:
    """Large P_8B and P_9A and no P_11: the product (10^21) is no line value any column can hold (10^16);
    the line is stored with 0.00 and the invoice's totals are P_13_1/P_15 as written. (The XSD allows up to
    10^30; values SQLite's floats can read back exactly are used so the test means the same on both.)"""
    xml = faktura(
        """<KodWaluty>PLN</KodWaluty><P_1>2026-09-01</P_1><P_2>MAX/1</P_2>
    <P_13_1>1000.00</P_13_1><P_14_1>230.00</P_14_1><P_15>1230.00</P_15>
    {adnotacje}<RodzajFaktury>VAT</RodzajFaktury>
    <FaWiersz><NrWierszaFa>1</NrWierszaFa><P_7>Wszystko</P_7><P_8B>100000000</P_8B>
      <P_9A>10000000000000</P_9A><P_12>23</P_12></FaWiersz>""",
        buyer_nip=company_a.nip,
    )
    assert validate(xml) == []
    stats = window_import(
        company=company_a, subject_type=SubjectType.SUBJECT2, invoices={KSEF_NUMBER: xml}, metadata=()
    )
    assert (stats.created, stats.failed) == (1, 0)
    invoice = Invoice.objects.get(ksef_number=KSEF_NUMBER)
    line = invoice.lines.get()
    assert (line.net_value, line.quantity) == (Decimal("0.00"), Decimal("100000000"))
    assert invoice.summary().gross == Decimal("1230.00")

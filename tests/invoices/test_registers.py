"""Rejestry VAT: each row's KSeF number or JPK_VAT(3) marker, the warnings, totals, periods, downloads."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st
from lxml import html as lxml_html
from openpyxl import load_workbook

from accounts.models import Company, Role
from invoices import registers
from invoices.models import (
    Direction,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    KsefOfflineMode,
    KsefStatus,
)
from invoices.registers import Level, Period, PeriodError, filing_deadline, register_build
from invoices.totals import line_vat
from tests.conftest import add_member
from tests.factories import valid_nip
from tests.invoices.factories import invoice_make, ksef_number_for

pytestmark = pytest.mark.django_db

WAW = ZoneInfo("Europe/Warsaw")
NOVEMBER = Period.month(2026, 11)
TODAY = dt.date(2026, 12, 1)  # November's JPK not filed yet (due 2026-12-28)


def at(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=WAW)


def add_lines(invoice: Invoice, *lines: tuple[str, str], before: tuple[tuple[str, str], ...] = ()) -> Invoice:
    """Lines at (rate, net); ``before`` are a correction's lines before the correction."""
    for is_before, group in ((False, lines), (True, before)):
        for ordinal, (rate, net_text) in enumerate(group, start=1):
            net = Decimal(net_text)
            vat = line_vat(net, rate)
            InvoiceLine.objects.create(
                invoice=invoice, ordinal=ordinal, name="Usługa", quantity=Decimal(1), unit_price=net,
                vat_rate=rate, net_value=net, vat_amount=vat, gross_value=net + vat,
                before_correction=is_before,
            )  # fmt: skip
    return invoice


# Each case: the invoice's situation (fields), the expected KSeF number or marker, the warning level expected
# (None: no warning), and why.
N = "N"  # stands for "the invoice's own KSeF number"
CASES: list[tuple[str, dict[str, Any], str, Level | None, str]] = [
    (
        "online accepted",
        {"ksef_status": KsefStatus.ACCEPTED, "ksef_acquisition_date": at(2026, 11, 2)},
        N, None, "numbered before filing: NrKSeF",
    ),
    (
        "offline24 without a number",
        {"ksef_status": KsefStatus.OFFLINE, "ksef_offline_mode": KsefOfflineMode.OFFLINE24},
        "DI", Level.CHECK, "offline24 without a number is DI (not OFF); the JPK must be corrected later",
    ),
    (
        "unavailability without a number",
        {"ksef_status": KsefStatus.OFFLINE, "ksef_offline_mode": KsefOfflineMode.UNAVAILABILITY},
        "DI", Level.CHECK, "art. 106nh: like offline24, DI",
    ),
    (
        "failure mode without a number",
        {"ksef_status": KsefStatus.OFFLINE, "ksef_offline_mode": KsefOfflineMode.FAILURE},
        "OFF", Level.INFO, "OFF is only for the failure mode (art. 106nf ust. 1)",
    ),
    (
        "offline24 numbered within the period",
        {
            "ksef_status": KsefStatus.ACCEPTED, "ksef_offline_mode": KsefOfflineMode.OFFLINE24,
            "ksef_acquisition_date": at(2026, 11, 21),
        },
        N, None, "numbered before filing: NrKSeF, whatever the mode",
    ),
    (
        "offline24 numbered late on the deadline day",
        {
            "ksef_status": KsefStatus.ACCEPTED, "ksef_offline_mode": KsefOfflineMode.OFFLINE24,
            "ksef_acquisition_date": at(2026, 12, 28, 23, 30),
        },
        N, None, "the deadline (25 Dec is a holiday, 27 a Sunday → 28 Dec) counts in Polish time",
    ),
    (
        "offline24 numbered after the filing deadline",
        {
            "ksef_status": KsefStatus.ACCEPTED, "ksef_offline_mode": KsefOfflineMode.OFFLINE24,
            "ksef_acquisition_date": at(2026, 12, 29, 0, 30),
        },
        N, Level.ERROR, "the filed JPK carried DI: korekta JPK potrzebna",
    ),
    (
        "failure mode numbered after the filing deadline",
        {
            "ksef_status": KsefStatus.ACCEPTED, "ksef_offline_mode": KsefOfflineMode.FAILURE,
            "ksef_acquisition_date": at(2027, 1, 5),
        },
        N, Level.INFO, "the filed JPK carried OFF, which needs no correction",
    ),
    (
        "issued outside KSeF to a consumer",
        {"ksef_status": KsefStatus.NOT_SENT, "buyer_nip": "", "buyer_name": "Jan Kowalski"},
        "BFK", None, "B2C invoice never in KSeF: BFK",
    ),
    (
        "issued outside KSeF to a company",
        {"ksef_status": KsefStatus.NOT_SENT},
        "BFK", Level.CHECK, "BFK, but a B2B invoice outside KSeF must be allowed to be",
    ),
    (
        "waiting for KSeF",
        {"ksef_status": KsefStatus.QUEUED},
        "", Level.ERROR, "no lawful marker for an invoice on its way: it must get its number first",
    ),
    (
        "rejected by KSeF",
        {"ksef_status": KsefStatus.REJECTED},
        "", Level.ERROR, "it will not be in KSeF as it is",
    ),
    (
        "a correction, accepted",
        {
            "kind": InvoiceKind.KOR, "ksef_status": KsefStatus.ACCEPTED,
            "ksef_acquisition_date": at(2026, 11, 25), "corrected_number": "FV/7/10/2026",
        },
        N, Level.INFO, "listed with the corrected invoice's number",
    ),
    (
        "purchase imported from KSeF",
        {
            "direction": Direction.PURCHASE, "ksef_status": KsefStatus.ACCEPTED,
            "ksef_acquisition_date": at(2026, 11, 3), "stated_kind": "VAT",
        },
        N, None, "its KSeF number",
    ),
    (
        "purchase typed by hand from a Polish seller",
        {"direction": Direction.PURCHASE, "ksef_status": KsefStatus.NOT_SENT},
        "BFK", Level.CHECK, "BFK, but a Polish seller usually issues in KSeF: check it",
    ),
    (
        "purchase from a foreign seller",
        {
            "direction": Direction.PURCHASE, "ksef_status": KsefStatus.NOT_SENT, "seller_nip": "",
            "seller_foreign_id": "DE123456789", "seller_country_code": "DE",
        },
        "BFK", None, "a foreign invoice is outside KSeF by nature",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("situation", "fields", "expected", "level", "why"), CASES, ids=[c[0] for c in CASES]
)
def test_each_row_carries_its_ksef_number_or_the_marker_jpk_requires(
    company_a: Company, situation: str, fields: dict[str, Any], expected: str, level: Level | None, why: str
) -> None:
    fields = dict(fields)
    direction = fields.get("direction", Direction.SALES)
    if direction == Direction.PURCHASE:
        fields.setdefault("seller_name", "Dostawca sp. z o.o.")
        fields.setdefault("seller_nip", valid_nip())
        fields.setdefault("buyer_name", company_a.name)
        fields.setdefault("buyer_nip", company_a.nip)
    numbered = fields.get("ksef_status") == KsefStatus.ACCEPTED
    issuer = fields.get("seller_nip") or company_a.nip
    ksef_number = ksef_number_for(issuer, day="20261102") if numbered else None
    invoice = invoice_make(company_a, issue_date=dt.date(2026, 11, 2), ksef_number=ksef_number, **fields)
    add_lines(invoice, ("23", "100.00"))

    register = register_build(company=company_a, direction=direction, period=NOVEMBER, today=TODAY)

    assert [r.number for r in register.rows] == [invoice.number], why
    assert register.rows[0].ksef == (ksef_number if expected == N else expected), why
    assert [w.level for w in register.warnings] == ([level] if level else []), why
    for warning in register.warnings:
        assert warning.invoice_number == invoice.number
        assert warning.invoice_uuid == str(invoice.uuid)


def test_the_correction_warning_names_the_corrected_invoice(company_a: Company) -> None:
    invoice_make(
        company_a, kind=InvoiceKind.KOR, corrected_number="FV/7/10/2026",
        corrected_ksef_number=ksef_number_for(company_a.nip, day="20261015"),
    )  # fmt: skip
    register = register_build(company=company_a, direction=Direction.SALES, period=NOVEMBER, today=TODAY)
    assert register.rows[0].corrected_number == "FV/7/10/2026"
    assert any("FV/7/10/2026" in w.message for w in register.warnings)


def test_an_offline24_invoice_still_without_a_number_after_the_deadline_is_an_error(
    company_a: Company,
) -> None:
    invoice_make(company_a, ksef_status=KsefStatus.OFFLINE, ksef_offline_mode=KsefOfflineMode.OFFLINE24)
    late = register_build(
        company=company_a, direction=Direction.SALES, period=NOVEMBER, today=dt.date(2026, 12, 29)
    )
    assert [w.level for w in late.warnings] == [Level.ERROR]


@pytest.mark.parametrize(
    ("month", "deadline", "why"),
    [
        (dt.date(2026, 10, 1), dt.date(2026, 11, 25), "a Wednesday: the 25th itself"),
        (dt.date(2026, 11, 1), dt.date(2026, 12, 28), "25-26 Dec holidays, 27 a Sunday"),
        (dt.date(2026, 3, 1), dt.date(2026, 4, 27), "25 April 2026 is a Saturday"),
        (dt.date(2026, 4, 1), dt.date(2026, 5, 25), "a Monday"),
        (dt.date(2027, 2, 1), dt.date(2027, 3, 25), "a Thursday"),
        (dt.date(2026, 12, 1), dt.date(2027, 1, 25), "over the year's end"),
    ],
)
def test_the_filing_deadline(month: dt.date, deadline: dt.date, why: str) -> None:
    assert filing_deadline(month) == deadline, why


def test_totals_per_rate_of_a_month_in_pln(company_a: Company) -> None:
    add_lines(invoice_make(company_a, number="FV/1/11/2026"), ("23", "100.00"), ("8", "50.00"))
    add_lines(invoice_make(company_a, number="FV/2/11/2026"), ("23", "200.00"), ("zw", "70.00"))
    add_lines(
        invoice_make(company_a, number="FV/3/11/2026", currency="EUR", exchange_rate=Decimal("4.25")),
        ("23", "10.00"),
    )
    add_lines(  # a correction lowering a 23% line from 100 to 60
        invoice_make(company_a, number="FK/1/11/2026", kind=InvoiceKind.KOR, corrected_number="FV/1/11/2026"),
        ("23", "60.00"), before=(("23", "100.00"),),
    )  # fmt: skip
    add_lines(invoice_make(company_a, number="FV/9/12/2026", issue_date=dt.date(2026, 12, 1)), ("23", "999"))

    register = register_build(company=company_a, direction=Direction.SALES, period=NOVEMBER, today=TODAY)
    totals = {t.vat_rate: (t.net, t.vat) for t in register.totals()}

    # 23%: 100 + 200 + 42.50 (10 EUR x 4.25) - 40; VAT 23 + 46 + 9.78 (42.50 x 23%, rounded) - 9.20
    assert totals == {
        "23": (Decimal("302.50"), Decimal("69.58")),
        "8": (Decimal("50.00"), Decimal("4.00")),
        "zw": (Decimal("70.00"), Decimal("0.00")),
    }
    assert register.net == Decimal("422.50")
    assert register.vat == Decimal("73.58")
    assert register.gross == Decimal("496.08")


def test_an_imported_purchase_counts_its_stated_amounts(company_a: Company) -> None:
    stated = {
        "rates": [{"rate": "23", "net": "1000.00", "vat": "230.01", "vat_pln": None}],
        "gross": "1230.01",
    }
    invoice_make(
        company_a, direction=Direction.PURCHASE, stated_kind="VAT", stated_totals=stated,
        seller_name="Dostawca", seller_nip=valid_nip(), ksef_status=KsefStatus.ACCEPTED,
        ksef_number=ksef_number_for(company_a.nip), ksef_acquisition_date=at(2026, 11, 4),
    )  # fmt: skip
    register = register_build(company=company_a, direction=Direction.PURCHASE, period=NOVEMBER, today=TODAY)
    assert [(t.vat_rate, t.net, t.vat) for t in register.totals()] == [
        ("23", Decimal("1000.00"), Decimal("230.01"))
    ]


def test_a_foreign_currency_invoice_without_a_rate_is_flagged(company_a: Company) -> None:
    invoice_make(company_a, currency="EUR", buyer_nip="", ksef_status=KsefStatus.NOT_SENT)
    register = register_build(company=company_a, direction=Direction.SALES, period=NOVEMBER, today=TODAY)
    assert [w.level for w in register.warnings] == [Level.ERROR]
    assert "EUR" in register.warnings[0].message


def test_quarter_boundaries(company_a: Company) -> None:
    def sale(number: str, sale_date: dt.date, issue_date: dt.date | None = None) -> None:
        invoice_make(company_a, number=number, sale_date=sale_date, issue_date=issue_date or sale_date)

    sale("S-0930", dt.date(2026, 9, 30), issue_date=dt.date(2026, 10, 2))  # sold in Q3, invoiced in Q4
    sale("S-1001", dt.date(2026, 10, 1))
    sale("S-1231", dt.date(2026, 12, 31))
    sale("S-0101", dt.date(2027, 1, 1))

    def purchase(number: str, acquired: dt.datetime | None, issue_date: dt.date) -> None:
        invoice_make(
            company_a, number=number, direction=Direction.PURCHASE, seller_name="Dostawca",
            seller_nip=valid_nip(),
            issue_date=issue_date, ksef_acquisition_date=acquired,
            ksef_number=(
                ksef_number_for(company_a.nip, technical=f"0100A0B0{number[-4:]}") if acquired else None
            ),
        )  # fmt: skip

    purchase("Z-1231", at(2026, 12, 31, 23, 59), dt.date(2026, 12, 31))  # 22:59 UTC, in Q4
    purchase("Z-0101", at(2027, 1, 1, 0, 30), dt.date(2026, 12, 31))  # 2026-12-31 23:30 UTC, received in Q1
    purchase("Z-0930", at(2026, 10, 1, 0, 10), dt.date(2026, 9, 30))  # issued in Q3, received in Q4
    purchase("Z-1002", None, dt.date(2026, 10, 2))  # typed by hand: by its issue date

    q4 = Period.parse("2026-Q4")
    assert (q4.start, q4.end) == (dt.date(2026, 10, 1), dt.date(2026, 12, 31))
    sales = register_build(company=company_a, direction=Direction.SALES, period=q4, today=TODAY)
    assert [r.number for r in sales.rows] == ["S-1001", "S-1231"]
    purchases = register_build(company=company_a, direction=Direction.PURCHASE, period=q4, today=TODAY)
    assert [r.number for r in purchases.rows] == ["Z-0930", "Z-1002", "Z-1231"]
    q3 = register_build(company=company_a, direction=Direction.SALES, period=Period.parse("2026-q3"))
    assert [r.number for r in q3.rows] == ["S-0930"]


def test_a_quarter_checks_each_row_against_its_own_months_deadline(company_a: Company) -> None:
    # October's JPK was due 2026-11-25: a number given on 11-26 is late for an October sale, in time for
    # a November one.
    for number, day in (("OCT", dt.date(2026, 10, 20)), ("NOV", dt.date(2026, 11, 20))):
        invoice_make(
            company_a, number=number, issue_date=day, ksef_status=KsefStatus.ACCEPTED,
            ksef_offline_mode=KsefOfflineMode.OFFLINE24, ksef_acquisition_date=at(2026, 11, 26),
            ksef_number=ksef_number_for(company_a.nip, technical=f"0100A0B0C{number}"[:12]),
        )  # fmt: skip
    register = register_build(company=company_a, direction=Direction.SALES, period=Period.quarter(2026, 4))
    assert [(w.invoice_number, w.level) for w in register.warnings] == [("OCT", Level.ERROR)]


@given(year=st.integers(2000, 2100), month=st.integers(1, 12))
def test_a_month_code_parses_back(year: int, month: int) -> None:
    period = Period.month(year, month)
    assert Period.parse(period.code) == period
    assert Period.parse(f"{month}/{year}") == period
    assert period.end.month == month
    assert (period.end + dt.timedelta(days=1)).day == 1


@given(year=st.integers(2000, 2100), quarter=st.integers(1, 4))
def test_a_quarter_code_parses_back(year: int, quarter: int) -> None:
    period = Period.quarter(year, quarter)
    assert Period.parse(period.code) == period
    assert Period.parse(f"Q{quarter}/{year}") == period
    assert len(period.month_starts()) == 3


@pytest.mark.parametrize(
    "text", ["", "2026-13", "2026-00", "2026-Q5", "2026-Q0", "listopad", "0000-01", "2026/11"]
)
def test_what_is_no_period_is_refused(text: str) -> None:
    with pytest.raises(PeriodError):
        Period.parse(text)


# --- the page and the downloads ---------------------------------------------------------------------------


def _november_mix(company: Company) -> None:
    add_lines(
        invoice_make(
            company, number="FV/1/11/2026", ksef_status=KsefStatus.ACCEPTED,
            ksef_number=ksef_number_for(company.nip), ksef_acquisition_date=at(2026, 11, 2),
            buyer_name="Zakład Usług Różnych Łęcki",
        ),
        ("23", "1234.56"), ("8", "100.00"),
    )  # fmt: skip
    add_lines(
        invoice_make(
            company, number="FV/2/11/2026", ksef_status=KsefStatus.OFFLINE,
            ksef_offline_mode=KsefOfflineMode.OFFLINE24, issue_date=dt.date(2026, 11, 5),
        ),
        ("23", "10.00"),
    )  # fmt: skip
    add_lines(
        invoice_make(company, number="FV/3/11/2026", buyer_nip="", buyer_name="Jan Kowalski",
                     issue_date=dt.date(2026, 11, 9)),
        ("zw", "40.00"),
    )  # fmt: skip


def _page_rows(content: bytes) -> list[list[str]]:
    tree = lxml_html.fromstring(content)
    rows = tree.xpath('//table[@id="register-table"]/tbody/tr')
    return [["".join(td.itertext()).strip() for td in row.xpath("./td")] for row in rows]


def _norm(text: str) -> str:
    return text.replace("\xa0", "").replace(" ", "")


def test_the_page_csv_and_xlsx_show_the_same_rows(alice_client: Any, company_a: Company) -> None:
    _november_mix(company_a)
    url = reverse("invoices:registers")
    page = alice_client.get(url, {"direction": "sales", "month": "2026-11"})
    assert page.status_code == 200
    page_rows = _page_rows(page.content)
    assert len(page_rows) == 3
    markers = [row[7] for row in page_rows]
    assert markers == [ksef_number_for(company_a.nip), "DI", "BFK"]

    csv_response = alice_client.get(
        reverse("invoices:registers_csv"), {"direction": "sales", "period": "2026-11"}
    )
    assert csv_response.status_code == 200
    assert csv_response["Content-Type"].startswith("text/csv")
    assert 'filename="rejestr-vat-sprzedaz-2026-11.csv"' in csv_response["Content-Disposition"]
    assert csv_response.content.startswith(b"\xef\xbb\xbf")  # the BOM Polish Excel needs to read UTF-8
    table = list(csv.reader(io.StringIO(csv_response.content.decode("utf-8-sig")), delimiter=";"))
    headers, csv_rows = table[0], table[1:]
    assert headers[7] == page.context["headers"][7]
    assert [[_norm(c) for c in row] for row in csv_rows] == [[_norm(c) for c in row] for row in page_rows]
    assert csv_rows[0][headers.index(page.context["headers"][10])] == "1234,56"  # decimal comma

    xlsx_response = alice_client.get(
        reverse("invoices:registers_xlsx"), {"direction": "sales", "period": "2026-11"}
    )
    assert xlsx_response.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx_response.content)).worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == headers
    expected = registers.register_cells(page.context["register"])
    assert len(values) - 1 == len(expected) == len(csv_rows)
    for got, want, shown in zip(values[1:], expected, page_rows, strict=True):
        for g, w, s in zip(got, want, shown, strict=True):
            if isinstance(w, Decimal):
                assert Decimal(str(g)).quantize(Decimal("0.01")) == w
                assert _norm(s) == f"{w:.2f}".replace(".", ",")
            elif isinstance(w, dt.date):
                assert g.date() == w
                assert s == w.isoformat()
            elif w in ("", None):
                assert g in ("", None)
                assert s == ""
            else:
                assert g == w
                assert s == str(w)


def test_the_page_shows_totals_and_warnings(alice_client: Any, company_a: Company) -> None:
    _november_mix(company_a)
    page = alice_client.get(reverse("invoices:registers"), {"direction": "sales", "month": "2026-11"})
    totals = {t.vat_rate: t for t in page.context["totals"]}
    assert totals["23"].net == Decimal("1244.56")
    assert totals["zw"].net == Decimal("40.00")
    text = page.content.decode()
    assert 'id="register-warnings"' in text
    assert "FV/2/11/2026" in text.split('id="register-warnings"')[1].split("</section>")[0]


def test_a_viewer_reads_the_registers(client: Any, company_a: Company) -> None:
    _november_mix(company_a)
    client.force_login(add_member(company_a, Role.VIEWER, "viewer@example.com").user)
    for name in ("invoices:registers", "invoices:registers_csv", "invoices:registers_xlsx"):
        response = client.get(reverse(name), {"direction": "purchase", "quarter": "2026-Q4"})
        assert response.status_code == 200, name


def test_another_companys_invoices_never_appear(
    alice_client: Any, company_a: Company, company_b: Company
) -> None:
    _november_mix(company_a)
    invoice_make(company_b, number="BETA/1/11/2026", ksef_status=KsefStatus.NOT_SENT)
    invoice_make(
        company_b, number="BETA/Z/1", direction=Direction.PURCHASE, seller_name="X", seller_nip=company_a.nip
    )
    for direction in ("sales", "purchase"):
        params = {"direction": direction, "period": "2026-11"}
        for name in ("invoices:registers", "invoices:registers_csv"):
            body = alice_client.get(reverse(name), params).content.decode("utf-8-sig")
            assert "BETA" not in body
        xlsx = alice_client.get(reverse("invoices:registers_xlsx"), params).content
        cells = [
            c
            for row in load_workbook(io.BytesIO(xlsx)).worksheets[0].iter_rows(values_only=True)
            for c in row
        ]
        assert not any("BETA" in str(c) for c in cells)


@pytest.mark.parametrize(
    "params",
    [
        {"month": "2026-13"}, {"month": "abc"}, {"quarter": "2026-Q9"}, {"period": "x" * 5000},
        {"month": "2026-11\x00"}, {"direction": "nonsense", "month": "99999-01"},
    ],
)  # fmt: skip
def test_bad_period_input_gets_a_message_never_a_500(alice_client: Any, params: dict[str, str]) -> None:
    page = alice_client.get(reverse("invoices:registers"), params)
    assert page.status_code == 200
    assert page.context["error"]
    assert b'id="register-error"' in page.content
    for name in ("invoices:registers_csv", "invoices:registers_xlsx"):
        download = alice_client.get(reverse(name), params, follow=True)
        assert download.status_code == 200
        assert any(
            "not a month or a quarter" in str(m) or "miesiąc" in str(m) for m in download.context["messages"]
        )


def test_without_a_period_the_previous_month_is_shown(alice_client: Any) -> None:
    page = alice_client.get(reverse("invoices:registers"))
    assert page.status_code == 200
    assert not page.context["error"]
    assert page.context["register"].period == Period.previous_month(dt.date.today())  # noqa: DTZ011


def test_documents_link_to_the_registers(alice_client: Any) -> None:
    page = alice_client.get(reverse("invoices:list"), {"direction": "purchase"})
    assert f'href="{reverse("invoices:registers")}?direction=purchase"'.encode() in page.content

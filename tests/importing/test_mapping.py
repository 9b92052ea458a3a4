"""FA(3) → invoices: the parser's features we do not issue ourselves, idempotent upserts, own invoices."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from accounts.models import Company
from invoices.models import Contractor, Direction, Invoice, InvoiceKind, InvoiceLine, KsefStatus
from invoices.services import InvoiceData, LineData, PartyData, invoice_issue
from ksef_integration.fa3.parser import parse_invoice
from ksef_integration.importing.mapping import window_import
from ksef_integration.models import ImportedDocument, ImportFailure, SubjectType, Submission
from ksef_integration.sending.mapping import invoice_xml_build
from ksef_simulator.services_invoices import fa3_build

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).resolve().parent.parent / "ksef_integration" / "fa3" / "samples"


def sample(name: str) -> bytes:
    return (SAMPLES / f"{name}.xml").read_bytes()


def number(i: int) -> str:
    return f"5265877635-20260301-0000000000{i:02d}-00"


def test_features_we_do_not_issue_are_imported(company_a: Company) -> None:
    files = {
        number(1): sample("vat_eur_podmiot3"),
        number(2): sample("kor_before_after"),
        number(3): sample("zal_advance"),
        number(4): sample("vat_attachment_transport"),
        number(5): sample("kor_zal_eur"),
    }
    stats = window_import(company=company_a, subject_type=SubjectType.SUBJECT2, invoices=files, metadata=())
    assert stats.created == 5
    by_number = {i.ksef_number: i for i in Invoice.objects.filter(company=company_a)}

    eur = by_number[number(1)]
    assert eur.currency == "EUR"
    assert eur.exchange_rate is not None
    assert eur.exchange_rate > 0
    assert eur.direction == Direction.PURCHASE
    assert eur.ksef_status == KsefStatus.ACCEPTED
    assert eur.is_new
    assert eur.lines.count() == 2
    parsed = parse_invoice(files[number(1)])
    assert parsed.totals is not None
    assert eur.total_gross == parsed.totals.gross  # P_15 as written

    kor = by_number[number(2)]
    assert kor.kind == InvoiceKind.KOR
    assert kor.corrected_number
    assert kor.lines.filter(before_correction=True).exists()
    assert kor.lines.filter(before_correction=False).exists()

    assert by_number[number(3)].kind == InvoiceKind.ZAL
    assert by_number[number(5)].kind == InvoiceKind.KOR
    assert by_number[number(5)].currency == "EUR"
    # the seller became a contractor, matched by NIP
    assert Contractor.objects.filter(company=company_a, nip=eur.seller_nip).count() == 1
    assert eur.contractor is not None
    assert eur.contractor.nip == eur.seller_nip
    # the original XML is kept byte for byte
    assert bytes(ImportedDocument.objects.get(invoice=eur).xml) == files[number(1)]


def test_correction_difference_lines_may_be_negative(company_a: Company) -> None:
    xml = fa3_build(
        seller_nip="5265877635", buyer_nip=company_a.nip, number="X/1", issue_date=dt.date(2026, 9, 1),
        net=Decimal("100.00"),
    )  # fmt: skip
    xml = xml.replace(b"<P_8B>1</P_8B>", b"<P_8B>-1</P_8B>")
    xml = xml.replace(b"<P_11>100.00</P_11>", b"<P_11>-100.00</P_11>")
    window_import(
        company=company_a, subject_type=SubjectType.SUBJECT2, invoices={number(9): xml}, metadata=()
    )
    line = InvoiceLine.objects.get(invoice__ksef_number=number(9))
    assert line.quantity == Decimal(-1)
    assert line.allows_negative
    assert line.net_value == Decimal("-100.00")
    assert line.vat_amount == Decimal("-23.00")


def test_importing_twice_changes_nothing(company_a: Company) -> None:
    files = {number(1): sample("vat_eur_podmiot3"), number(2): sample("kor_before_after")}
    window_import(company=company_a, subject_type=SubjectType.SUBJECT2, invoices=files, metadata=())
    before = list(Invoice.objects.order_by("id").values_list("id", "updated_at"))
    lines = InvoiceLine.objects.count()
    stats = window_import(company=company_a, subject_type=SubjectType.SUBJECT2, invoices=files, metadata=())
    assert (stats.created, stats.unchanged) == (0, 2)
    assert list(Invoice.objects.order_by("id").values_list("id", "updated_at")) == before
    assert InvoiceLine.objects.count() == lines


def _our_sale(company: Company, number_text: str | None = None) -> Invoice:
    return invoice_issue(
        company=company,
        user=None,
        data=InvoiceData(
            party=PartyData(name="Odbiorca", nip="5265877635"),
            lines=[LineData(name="Usługa", quantity=Decimal(1), unit_price=Decimal("10.00"), vat_rate="23")],
            issue_date=dt.date(2026, 11, 2),
        ),
    )


def test_subject1_recognises_our_own_sales_invoice_by_the_xml_we_sent(company_a: Company) -> None:
    """Ours is known by identity: the SHA-256 of the XML the submission sent (KSeF returns those bytes)."""
    ours = _our_sale(company_a)
    built = invoice_xml_build(ours)
    Submission.objects.create(invoice=ours, company=company_a, xml=built.xml, xml_sha256_b64=built.sha256_b64)
    elsewhere = fa3_build(
        seller_nip=company_a.nip, buyer_nip="7740001454", number="GOV/1/2026",
        issue_date=dt.date(2026, 11, 3), net=Decimal("50.00"),
    )  # fmt: skip
    files = {number(1): built.xml, number(2): elsewhere}
    stats = window_import(company=company_a, subject_type=SubjectType.SUBJECT1, invoices=files, metadata=())
    assert (stats.created, stats.recognised) == (1, 1)
    ours.refresh_from_db()
    assert ours.ksef_number == number(1)
    assert ours.ksef_status == KsefStatus.ACCEPTED
    assert ours.stated_kind == ""  # still the portal's own invoice, with computed totals
    assert Invoice.objects.filter(company=company_a, direction=Direction.SALES).count() == 2
    other = Invoice.objects.get(ksef_number=number(2))
    assert other.direction == Direction.SALES
    assert not other.is_new
    assert other.contractor is not None
    assert other.contractor.nip == "7740001454"
    # and a second import of the same window recognises both by KSeF number
    again = window_import(company=company_a, subject_type=SubjectType.SUBJECT1, invoices=files, metadata=())
    assert (again.created, again.unchanged) == (0, 2)


def test_subject1_recognises_our_own_sales_invoice_by_its_submissions_ksef_number(company_a: Company) -> None:
    ours = _our_sale(company_a)
    built = invoice_xml_build(ours)
    Submission.objects.create(invoice=ours, company=company_a, ksef_number=number(1))
    stats = window_import(
        company=company_a, subject_type=SubjectType.SUBJECT1, invoices={number(1): built.xml}, metadata=()
    )
    assert (stats.created, stats.recognised) == (0, 1)
    ours.refresh_from_db()
    assert ours.ksef_number == number(1)


def test_a_foreign_document_with_our_number_is_a_separate_invoice_with_a_warning(
    alice_client: Any, company_a: Company
) -> None:
    """Issued elsewhere with the number of our local, not yet sent invoice: it is not taken for ours."""
    ours = _our_sale(company_a)
    foreign = fa3_build(
        seller_nip=company_a.nip, buyer_nip="5265877635", number=ours.number, issue_date=dt.date(2026, 11, 2),
        net=Decimal("10.00"),
    )  # fmt: skip
    stats = window_import(
        company=company_a, subject_type=SubjectType.SUBJECT1, invoices={number(1): foreign}, metadata=()
    )
    assert (stats.created, stats.recognised, stats.failed) == (1, 0, 0)
    ours.refresh_from_db()
    assert ours.ksef_number is None
    assert ours.ksef_status == KsefStatus.NOT_SENT
    assert not ImportedDocument.objects.filter(invoice=ours).exists()
    other = Invoice.objects.get(ksef_number=number(1))
    assert other.pk != ours.pk
    assert other.number == ours.number
    page = alice_client.get(reverse("invoices:detail", args=[other.uuid]))
    assert 'id="same-number-warning"' in page.content.decode()
    assert (
        'id="same-number-warning"'
        not in alice_client.get(reverse("invoices:detail", args=[ours.uuid])).content.decode()
    )


def test_an_unreadable_invoice_is_kept_aside_and_the_rest_is_stored(company_a: Company) -> None:
    good = fa3_build(
        seller_nip="5265877635", buyer_nip=company_a.nip, number="OK/1", issue_date=dt.date(2026, 9, 1),
        net=Decimal("100.00"),
    )  # fmt: skip
    stats = window_import(
        company=company_a,
        subject_type=SubjectType.SUBJECT2,
        invoices={number(1): b"<x/>", number(2): good},
        metadata=(),
    )
    assert (stats.created, stats.failed) == (1, 1)
    failure = ImportFailure.objects.get(company=company_a)
    assert failure.ksef_number == number(1)
    assert bytes(failure.xml) == b"<x/>"
    assert "not a readable FA(3) invoice" in failure.reason
    assert Invoice.objects.get(company=company_a).ksef_number == number(2)


def test_imported_purchase_is_new_until_opened(alice_client: Any, company_a: Company) -> None:
    window_import(
        company=company_a,
        subject_type=SubjectType.SUBJECT2,
        invoices={number(1): sample("vat_eur_podmiot3")},
        metadata=(),
    )
    invoice = Invoice.objects.get(ksef_number=number(1))
    listing = alice_client.get(reverse("invoices:list") + "?direction=purchase")
    assert "badge--new" in listing.content.decode()
    assert alice_client.get(reverse("invoices:detail", args=[invoice.uuid])).status_code == 200
    invoice.refresh_from_db()
    assert not invoice.is_new


def test_the_parser_reads_the_fa3_features_we_do_not_issue() -> None:
    """Podmiot3, a foreign currency, KOR, ZAL and Zalacznik are read, not only tolerated."""
    from ksef_integration.fa3.model import InvoiceKind as Fa3Kind
    from ksef_integration.fa3.parser import parse_invoice

    eur = parse_invoice(sample("vat_eur_podmiot3"))
    assert eur.third_parties, "Podmiot3 was dropped"
    assert all(party.role is not None or party.other_role for party in eur.third_parties)
    assert eur.currency == "EUR"
    assert eur.exchange_rate is not None

    kor = parse_invoice(sample("kor_before_after"))
    assert kor.kind == Fa3Kind.KOR
    assert kor.correction is not None

    zal = parse_invoice(sample("zal_advance"))
    assert zal.kind == Fa3Kind.ZAL

    kor_zal = parse_invoice(sample("kor_zal_eur"))
    assert kor_zal.kind in (Fa3Kind.KOR_ZAL, Fa3Kind.KOR)
    assert kor_zal.currency == "EUR"
    assert kor_zal.correction is not None

    attached = parse_invoice(sample("vat_attachment_transport"))
    assert attached.attachment, "Zalacznik was dropped"
    assert any(block.tables or block.paragraphs for block in attached.attachment)


def test_a_paid_invoice_is_imported_as_paid(company_a: Company) -> None:
    """Zaplacono + DataZaplaty are what the issuer wrote: the purchase invoice shows it paid on that day."""
    from tests.importing.fa3_docs import faktura

    fa = """<KodWaluty>PLN</KodWaluty><P_1>2026-11-02</P_1><P_2>ZK/7/2026</P_2>
    <P_13_1>100.00</P_13_1><P_14_1>23.00</P_14_1><P_15>123.00</P_15>{adnotacje}<RodzajFaktury>VAT</RodzajFaktury>
    <FaWiersz><NrWierszaFa>1</NrWierszaFa><P_7>Deski</P_7><P_8B>1</P_8B><P_9A>100.00</P_9A><P_11>100.00</P_11>
      <P_12>23</P_12></FaWiersz>
    <Platnosc><Zaplacono>1</Zaplacono><DataZaplaty>2026-11-01</DataZaplaty><FormaPlatnosci>1</FormaPlatnosci>
    </Platnosc>"""
    stats = window_import(
        company=company_a,
        subject_type=SubjectType.SUBJECT2,
        invoices={number(7): faktura(fa, buyer_nip=company_a.nip)},
        metadata=(),
    )
    assert stats.created == 1
    invoice = Invoice.objects.get(company=company_a, direction=Direction.PURCHASE)
    assert invoice.paid_on == dt.date(2026, 11, 1)


def test_a_billing_period_is_imported_as_written(company_a: Company) -> None:
    from tests.importing.fa3_docs import faktura

    fa = """<KodWaluty>PLN</KodWaluty><P_1>2026-11-02</P_1><P_2>ABO/10/2026</P_2>
    <OkresFa><P_6_Od>2026-10-01</P_6_Od><P_6_Do>2026-10-31</P_6_Do></OkresFa>
    <P_13_1>100.00</P_13_1><P_14_1>23.00</P_14_1><P_15>123.00</P_15>{adnotacje}<RodzajFaktury>VAT</RodzajFaktury>
    <FaWiersz><NrWierszaFa>1</NrWierszaFa><P_7>Abonament</P_7><P_8B>1</P_8B><P_9A>100.00</P_9A>
      <P_11>100.00</P_11><P_12>23</P_12></FaWiersz>"""
    window_import(
        company=company_a,
        subject_type=SubjectType.SUBJECT2,
        invoices={number(8): faktura(fa, buyer_nip=company_a.nip)},
        metadata=(),
    )
    invoice = Invoice.objects.get(company=company_a, direction=Direction.PURCHASE)
    assert (invoice.period_from, invoice.period_to) == (dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert invoice.sale_date is None


def test_discounts_gtu_and_annotations_are_imported_as_written(alice_client: Any, company_a: Company) -> None:
    """P_10 (a line's discount), GTU and P_16/P_17 (metoda kasowa, samofakturowanie) as the issuer wrote
    them, shown on the invoice page; P_11 is the issuer's value after the discount, not recomputed."""
    from tests.importing.fa3_docs import ADNOTACJE, faktura

    annotations = ADNOTACJE.replace("<P_16>2</P_16>", "<P_16>1</P_16>")
    annotations = annotations.replace("<P_17>2</P_17>", "<P_17>1</P_17>")
    fa = """<KodWaluty>PLN</KodWaluty><P_1>2026-11-02</P_1><P_2>R/9/2026</P_2>
    <P_13_1>90.00</P_13_1><P_14_1>20.70</P_14_1><P_15>110.70</P_15>{adnotacje}<RodzajFaktury>VAT</RodzajFaktury>
    <FaWiersz><NrWierszaFa>1</NrWierszaFa><P_7>Doradztwo</P_7><P_8B>1</P_8B><P_9A>100.00</P_9A>
      <P_10>10.004</P_10><P_11>90.00</P_11><P_12>23</P_12><GTU>GTU_12</GTU></FaWiersz>"""
    window_import(
        company=company_a,
        subject_type=SubjectType.SUBJECT2,
        invoices={number(9): faktura(fa.replace("{adnotacje}", annotations), buyer_nip=company_a.nip)},
        metadata=(),
    )
    invoice = Invoice.objects.get(company=company_a, direction=Direction.PURCHASE)
    (line,) = invoice.lines.all()
    assert (line.discount, line.gtu, line.net_value) == (Decimal("10.00"), "GTU_12", Decimal("90.00"))
    assert line.discount_percent is None  # the issuer states an amount, not a percent
    assert invoice.cash_accounting
    assert invoice.self_billing
    page = alice_client.get(reverse("invoices:detail", args=[invoice.uuid])).content.decode()
    assert "<td>GTU_12</td>" in page
    assert 'id="annotation-cash-accounting"' in page
    assert 'id="annotation-self-billing"' in page

"""Property: any schema-valid FA(3) document imports into a visible invoice or a visible "could not be
imported" row, and the invoice after it in the same window still arrives; every invoice that imported
answers 200 on its page, its PDF and its XML download.

Documents are generated across every RodzajFaktury, currency, annotation and extreme value the XSD allows
(16 integer digits in amounts and rates, 512-character texts full of line breaks, KursWaluty of any size,
zero or negative), built with the FA(3) builder and kept only if the official XSD accepts them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django.urls import reverse
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from accounts.models import Company
from invoices.models import Invoice
from ksef_integration.fa3 import model as fa3
from ksef_integration.fa3.builder import build_invoice
from ksef_integration.fa3.schema import validate
from ksef_integration.importing.mapping import window_import
from ksef_integration.models import ImportFailure, SubjectType
from ksef_simulator.services_invoices import fa3_build

pytestmark = pytest.mark.django_db

SELLER_NIP = "5265877635"
MAX_AMOUNT = Decimal("9999999999999999.99")  # TKwotowy: 16 digits before the point, 2 after
MAX_QUANTITY = Decimal("9999999999999999.999999")  # TIlosci (P_8B, KursWaluty)
MAX_PRICE = Decimal("99999999999999.99999999")  # TKwotowy2 (P_9A, P_9B)


def _decimals(limit: Decimal, places: int, *, negative: bool = True) -> st.SearchStrategy[Decimal]:
    low = -limit if negative else Decimal(0)
    edges = [limit, Decimal(0), Decimal(1).scaleb(-places)] + ([-limit] if negative else [])
    return st.one_of(
        st.sampled_from(edges),
        st.decimals(min_value=low, max_value=limit, places=places, allow_nan=False, allow_infinity=False),
    )


amounts = _decimals(MAX_AMOUNT, 2)
small_amounts = st.decimals(min_value=-100000, max_value=100000, places=2)
money = st.one_of(small_amounts, amounts)
# Texts as a reader of XML gets them: any printable character, Polish letters, and many line breaks.
text_chars = st.sampled_from(list("abcxyzĄĘŁŃÓŚŹŻąęłńóśźż 0123456789-/.,&<>\"'\n\n\n\t"))


def texts(max_size: int) -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(text_chars, min_size=1, max_size=max_size),
        st.just("\n" * (max_size - 1) + "x"),
        st.just(("słowo " * max_size)[:max_size]),
    ).filter(lambda t: t.strip() != "")


exchange_rates = st.one_of(
    st.sampled_from(
        [Decimal("99999999.123456"), MAX_QUANTITY, Decimal("0.000001"), Decimal("4.2512"), Decimal(0)]
    ),
    _decimals(MAX_QUANTITY, 6),
)


@st.composite
def lines(draw: st.DrawFn, *, correction: bool) -> fa3.Line:
    return fa3.Line(
        name=draw(st.none() | texts(512)),
        quantity=draw(st.none() | _decimals(MAX_QUANTITY, 6)),
        unit=draw(st.none() | texts(256)),
        unit_price=draw(st.none() | _decimals(MAX_PRICE, 8)),
        unit_price_gross=draw(st.none() | _decimals(MAX_PRICE, 8)),
        net_value=draw(money),
        gross_value=draw(st.none() | money),
        vat_amount=draw(st.none() | money),
        vat_rate=draw(st.none() | st.sampled_from(fa3.VatRate)),
        before_correction=correction and draw(st.booleans()),
    )


@st.composite
def rate_totals(draw: st.DrawFn, *, foreign: bool) -> tuple[fa3.RateTotal, ...]:
    buckets = draw(st.lists(st.sampled_from(fa3.BUCKETS), unique=True, max_size=4))
    out = []
    for bucket in (b for b in fa3.BUCKETS if b in buckets):  # schema order
        taxed = bucket in fa3.TAXED_BUCKETS
        out.append(
            fa3.RateTotal(
                bucket=bucket,
                net=draw(money),
                vat=draw(money) if taxed or (bucket == "5" and draw(st.booleans())) else None,
                vat_pln=draw(st.none() | money) if taxed and foreign else None,
            )
        )
    return tuple(out)


@st.composite
def settlements(draw: st.DrawFn) -> str:
    def entry(name: str) -> str:
        reason = draw(st.sampled_from(["Kaucja", "Zaliczka"]))
        return f"<{name}><Kwota>{draw(money):f}</Kwota><Powod>{reason}</Powod></{name}>"

    charges = "".join(entry("Obciazenia") for _ in range(draw(st.integers(0, 2))))
    deductions = "".join(entry("Odliczenia") for _ in range(draw(st.integers(0, 2))))
    end = draw(st.sampled_from(["DoZaplaty", "DoRozliczenia", None]))
    tail = f"<{end}>{draw(money):f}</{end}>" if end else ""
    return (
        '<Rozliczenie xmlns="http://crd.gov.pl/wzor/2025/06/25/13775/">'
        f"{charges}<SumaObciazen>{draw(money):f}</SumaObciazen>{deductions}{tail}</Rozliczenie>"
    )


@st.composite
def documents(draw: st.DrawFn, buyer_nip: str) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(fa3.InvoiceKind))
    currency = draw(st.sampled_from(["PLN", "EUR", "USD", "CHF"]))
    foreign = currency != "PLN"
    subject = draw(st.sampled_from([SubjectType.SUBJECT2, SubjectType.SUBJECT1]))
    company_is_seller = subject == SubjectType.SUBJECT1
    correction = None
    if kind.is_correction:
        correction = fa3.Correction(
            corrected=(
                fa3.CorrectedInvoice(
                    issue_date=dt.date(2026, 8, 1), number=draw(texts(256)), ksef_number=None
                ),
            ),
            reason=draw(st.none() | texts(256)),
        )
    exemption = draw(st.none() | st.sampled_from(list(fa3.ExemptionBasis)))
    annotations = fa3.Annotations(
        cash_accounting=draw(st.booleans()),
        self_billing=draw(st.booleans()),
        reverse_charge=draw(st.booleans()),
        split_payment=draw(st.booleans()),
        exemption=None if exemption is None else fa3.Exemption(basis=exemption, text=draw(texts(256))),
        simplified_triangular=draw(st.booleans()),
        margin=draw(st.none() | st.sampled_from(list(fa3.MarginScheme))),
    )
    invoice = fa3.Invoice(
        number=draw(texts(256)),
        issue_date=dt.date(2026, 9, 1),
        created_at=dt.datetime(2026, 9, 1, 10, tzinfo=dt.UTC),
        seller=fa3.Seller(
            nip=buyer_nip if company_is_seller else SELLER_NIP,
            name=draw(texts(512)),
            address=fa3.Address(line1=draw(texts(512)), line2=draw(st.none() | texts(512))),
        ),
        buyer=fa3.Buyer(
            tax_id=fa3.Nip(SELLER_NIP if company_is_seller else buyer_nip),
            name=draw(st.none() | texts(512)),
            address=draw(st.none() | st.builds(fa3.Address, line1=texts(512))),
        ),
        lines=tuple(draw(st.lists(lines(correction=kind.is_correction), max_size=3))),
        kind=kind,
        currency=currency,
        exchange_rate=draw(exchange_rates) if foreign else None,
        annotations=annotations,
        totals=fa3.Totals(rates=draw(rate_totals(foreign=foreign)), gross=draw(money)),
        correction=correction,
        settlement_xml=draw(st.none() | settlements()),
    )
    try:
        xml = build_invoice(invoice)
    except ValueError:  # e.g. a line net the builder refuses; not a document anyone can send
        assume(False)
    return subject, xml


def _next_invoice(buyer_nip: str, subject: str) -> bytes:
    seller, buyer = (buyer_nip, "7740001454") if subject == SubjectType.SUBJECT1 else (SELLER_NIP, buyer_nip)
    return fa3_build(
        seller_nip=seller,
        buyer_nip=buyer,
        number="NEXT/1",
        issue_date=dt.date(2026, 9, 2),
        net=Decimal("10.00"),
    )


@pytest.fixture
def company(company_a: Company) -> Company:
    return company_a


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
@given(data=st.data())
def test_any_valid_invoice_imports_visibly_and_never_blocks_the_next(
    data: st.DataObject, company: Company, alice_client: Any, admin_client: Any
) -> None:
    subject, xml = data.draw(documents(company.nip))
    assume(validate(xml) == [])
    first, after = "5265877635-20260901-000000000001-00", "5265877635-20260901-000000000002-00"
    savepoint = transaction.savepoint()  # each example starts from the same empty company
    try:
        stats = window_import(
            company=company,
            subject_type=subject,
            invoices={first: xml, after: _next_invoice(company.nip, subject)},
            metadata=(),
        )
        assert stats.created + stats.failed == 2
        assert Invoice.objects.filter(company=company, ksef_number=after).exists(), "the next one arrived"
        invoice = Invoice.objects.filter(company=company, ksef_number=first).first()
        failed = ImportFailure.objects.filter(ksef_number=first).values_list("reason", flat=True).first()
        event("imported" if invoice else f"kept aside: {(failed or '')[:40]}")
        if invoice is None:
            failure = ImportFailure.objects.get(company=company, ksef_number=first)
            assert bytes(failure.xml) == xml
            assert failure.reason
            changelist = admin_client.get(reverse("admin:ksef_integration_importfailure_changelist"))
            assert first in changelist.content.decode()
        else:
            assert not ImportFailure.objects.filter(ksef_number=first).exists()
            for name in ("invoices:detail", "invoices:pdf", "ksef_integration:invoice_xml"):
                response = alice_client.get(reverse(name, args=[invoice.uuid]))
                assert response.status_code == 200, name
            assert (
                alice_client.get(reverse("invoices:list") + f"?direction={invoice.direction}").status_code
                == 200
            )
    finally:
        transaction.savepoint_rollback(savepoint)

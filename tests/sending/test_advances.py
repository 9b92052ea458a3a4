"""Issue 19: an advance invoice (ZAL) and the final invoice that settles it (ROZ), as one story typed into
Wystaw, sent to the simulator over real HTTP, downloaded back from KSeF and read again.

The amounts are worked out by hand below, from the rules in invoices/advances.py: the advance is split over
the order's rates in proportion to their gross values, the tax taken out of each share (art. 106f ust. 1
pkt 3); the final invoice states its lines' totals less the advance's, and P_15 what is left to pay.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from lxml import etree

from accounts.models import Company
from invoices import services
from invoices.errors import InvoiceInvalid
from invoices.models import Invoice, InvoiceKind, KsefStatus
from ksef_integration.connect.session import ksef_client_for
from ksef_integration.fa3 import parse_invoice
from ksef_integration.models import SubmissionStatus as S
from tests.sending.test_fa3_cases import NS, _form, _line, stored_at_once  # noqa: F401 - fixture by name
from tests.sending.test_send_simulator import (
    connected,  # noqa: F401 - the fixture stored_at_once uses
    run,
)

pytestmark = pytest.mark.django_db(transaction=True)

# The order: 10,000 net at 23 % (12,300 gross) and 1,000 net at 8 % (1,080 gross): 13,380 gross in all.
ORDER = [
    _line(name="Meble kuchenne na wymiar", quantity="1", unit_price="10000", vat_rate="23"),
    _line(name="Montaż w lokalu mieszkalnym", quantity="1", unit_price="1000", vat_rate="8"),
]


def _typed(**extra: str) -> dict[str, str]:
    from tests.sending.test_fa3_cases import Case

    return _form(Case("", extra, {}, "", lines=ORDER))


def _texts(root: Any, path: str) -> list[str]:
    return [el.text for el in root.xpath(path, namespaces=NS)]


def _download(company: Company, invoice: Invoice) -> bytes:
    assert invoice.ksef_number
    return ksef_client_for(company=company).invoices.invoice_download(ksef_number=invoice.ksef_number)


@pytest.mark.usefixtures("stored_at_once")
def test_advance_then_final_invoice_reach_ksef_with_the_advance_deducted(
    company_a: Company, alice_client: Any
) -> None:
    # 1. The advance invoice: 5,000 PLN received on a 13,380 PLN order.
    response = alice_client.post(reverse("invoices:issue"), _typed(kind="ZAL", advance_amount="5 000,00"))
    assert response.status_code == 302, response.context["form"].errors if response.context else ""
    advance = Invoice.objects.get(company=company_a)
    assert advance.kind == InvoiceKind.ZAL
    assert advance.number.startswith("FZ/1/")
    # 23 %: 5,000 x 12,300 / 13,380 = 4,596.41, tax 4,596.41 x 23/123 = 859.49; 8 %: the rest, 403.59,
    # tax 403.59 x 8/108 = 29.90.
    assert (advance.total_net, advance.total_vat, advance.total_gross) == (
        Decimal("4110.61"),
        Decimal("889.39"),
        Decimal("5000.00"),
    )
    assert run(advance).status == S.ACCEPTED
    advance.refresh_from_db()
    root = etree.fromstring(_download(company_a, advance))
    assert _texts(root, "//fa:RodzajFaktury") == ["ZAL"]
    assert _texts(root, "//fa:P_13_1") == ["3736.92"]
    assert _texts(root, "//fa:P_14_1") == ["859.49"]
    assert _texts(root, "//fa:P_13_2") == ["373.69"]
    assert _texts(root, "//fa:P_14_2") == ["29.90"]
    assert _texts(root, "//fa:P_15") == ["5000.00"]
    assert _texts(root, "//fa:Zamowienie/fa:WartoscZamowienia") == ["13380.00"]
    assert _texts(root, "//fa:ZamowienieWiersz/fa:P_7Z") == [line["name"] for line in ORDER]
    assert _texts(root, "//fa:ZamowienieWiersz/fa:P_11NettoZ") == ["10000.00", "1000.00"]
    assert _texts(root, "//fa:ZamowienieWiersz/fa:P_11VatZ") == ["2300.00", "80.00"]
    assert root.xpath("//fa:FaWiersz", namespaces=NS) == [], "an advance invoice has no lines of a sale"

    detail = reverse("invoices:detail", kwargs={"invoice_uuid": advance.uuid})
    page = alice_client.get(detail).content.decode()
    assert "Faktura zaliczkowa" in page
    assert "13\u00a0380,00" in page  # the order's value is shown beside the advance

    # 2. The final invoice for the whole order settles it.
    form = alice_client.get(reverse("invoices:issue")).content.decode()
    assert str(advance.uuid) in form
    assert advance.number in form
    response = alice_client.post(reverse("invoices:issue"), _typed(kind="ROZ", advances=str(advance.uuid)))
    assert response.status_code == 302, response.context["form"].errors if response.context else ""
    final = Invoice.objects.get(company=company_a, kind=InvoiceKind.ROZ)
    assert final.number.startswith("FV/1/"), "a final invoice is numbered in the main series"
    advance.refresh_from_db()
    assert advance.settled_by_id == final.pk
    # 23 %: 10,000 - 3,736.92 = 6,263.08 net, 2,300 - 859.49 = 1,440.51 tax; 8 %: 626.31 and 50.10.
    assert (final.total_net, final.total_vat, final.total_gross) == (
        Decimal("6889.39"),
        Decimal("1490.61"),
        Decimal("8380.00"),
    )
    assert run(final).status == S.ACCEPTED
    final.refresh_from_db()
    downloaded = _download(company_a, final)
    root = etree.fromstring(downloaded)
    assert _texts(root, "//fa:RodzajFaktury") == ["ROZ"]
    assert _texts(root, "//fa:P_13_1") == ["6263.08"]
    assert _texts(root, "//fa:P_14_1") == ["1440.51"]
    assert _texts(root, "//fa:P_13_2") == ["626.31"]
    assert _texts(root, "//fa:P_14_2") == ["50.10"]
    assert _texts(root, "//fa:P_15") == ["8380.00"], "P_15 of a final invoice is what is left to pay"
    assert _texts(root, "//fa:FakturaZaliczkowa/fa:NrKSeFFaZaliczkowej") == [advance.ksef_number]
    assert _texts(root, "//fa:FaWiersz/fa:P_11") == ["10000.00", "1000.00"], "the lines are the whole sale"
    parsed = parse_invoice(downloaded)
    assert [ref.ksef_number for ref in parsed.advance_invoices] == [advance.ksef_number]

    page = alice_client.get(reverse("invoices:detail", kwargs={"invoice_uuid": final.uuid})).content.decode()
    assert "Faktura rozliczeniowa" in page
    assert advance.number in page
    assert advance.ksef_number in page
    pdf = alice_client.get(reverse("invoices:pdf", kwargs={"invoice_uuid": final.uuid}))
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")

    # 3. The advance is settled: it is no longer offered, and settling it again is refused.
    form = alice_client.get(reverse("invoices:issue")).content.decode()
    assert str(advance.uuid) not in form
    with pytest.raises(InvoiceInvalid) as refused:
        services.invoice_issue(
            company=company_a,
            user=None,
            data=_data(kind=InvoiceKind.ROZ, advances=(advance.uuid,)),
        )
    assert [(issue.field, issue.message) for issue in refused.value.issues] == [
        ("advances", f"Faktura zaliczkowa {advance.number} jest już rozliczona.")
    ]


def _data(**overrides: Any) -> services.InvoiceData:
    from tests.invoices.factories import issue_data

    lines = [
        services.LineData(name="Meble", quantity=Decimal(1), unit_price=Decimal(10000), vat_rate="23"),
        services.LineData(name="Montaż", quantity=Decimal(1), unit_price=Decimal(1000), vat_rate="8"),
    ]
    return issue_data(lines=lines, idempotency_key=uuid.uuid4(), **overrides)


def test_a_final_invoice_waits_for_the_advance_s_ksef_number(
    connected: Any,  # noqa: F811 - the imported fixture
) -> None:
    company = connected.company
    advance = services.invoice_issue(
        company=company, user=None, data=_data(kind=InvoiceKind.ZAL, advance_amount=Decimal(1000))
    )
    advance.refresh_from_db()
    assert advance.ksef_status == KsefStatus.QUEUED  # queued for KSeF, no number yet
    with pytest.raises(InvoiceInvalid) as refused:
        services.invoice_issue(
            company=company, user=None, data=_data(kind=InvoiceKind.ROZ, advances=(advance.uuid,))
        )
    assert refused.value.issues[0].field == "advances"
    assert "w drodze do KSeF" in refused.value.issues[0].message
    assert not Invoice.objects.filter(kind=InvoiceKind.ROZ).exists()


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (Decimal("13380.01"), "Zaliczka nie może być większa niż wartość zamówienia"),
        (Decimal("0"), "Zaliczka musi być większa od zera"),
    ],
)
def test_an_advance_outside_the_order_s_value_is_refused(
    company_a: Company, amount: Decimal, message: str
) -> None:
    with pytest.raises(InvoiceInvalid) as refused:
        services.invoice_issue(
            company=company_a, user=None, data=_data(kind=InvoiceKind.ZAL, advance_amount=amount)
        )
    assert refused.value.issues[0].field == "advance_amount"
    assert refused.value.issues[0].message.startswith(message)
    assert not Invoice.objects.filter(company=company_a).exists()

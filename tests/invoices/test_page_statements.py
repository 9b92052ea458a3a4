"""Statement budgets of the pages most people open (the bench_webmix mix): a page that starts asking the
database more on every view fails here. The counts are the page's own statements plus the session's user
and membership (2, see accounts)."""

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Company
from invoices import services
from invoices.models import Invoice, InvoiceKind
from tests.factories import active_connection
from tests.invoices.factories import invoice_make, issue_data
from tests.statements import page_statements

pytestmark = pytest.mark.django_db


def _statements(client: Any, url: str) -> list[str]:
    client.get(url)  # the document and whatever else is kept are in the cache now
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return [sql[:160] for sql in page_statements(captured)]


def test_a_sales_invoice_page(alice_client: Any, company_a: Company) -> None:
    active_connection(company_a)
    invoice = services.invoice_issue(company=company_a, user=None, data=issue_data())
    statements = _statements(alice_client, reverse("invoices:detail", kwargs={"invoice_uuid": invoice.uuid}))
    # The invoice (with whether anything corrects it), its lines, its submission, an imported original,
    # the connection (what the send button says).
    assert len(statements) <= 7, statements


def test_corrections_are_read_only_when_there_are_some(alice_client: Any, company_a: Company) -> None:
    original = invoice_make(company_a, number="FV/1/2026")
    url = reverse("invoices:detail", kwargs={"invoice_uuid": original.uuid})
    without = _statements(alice_client, url)
    correction = invoice_make(
        company_a,
        number="KOR/1/2026",
        kind=InvoiceKind.KOR,
        corrected_invoice=original,
        corrected_number="FV/1/2026",
    )
    html = alice_client.get(url).content.decode()
    assert f'href="{reverse("invoices:detail", kwargs={"invoice_uuid": correction.uuid})}"' in html
    assert "KOR/1/2026" in html
    assert len(_statements(alice_client, url)) == len(without) + 1
    assert Invoice.objects.filter(corrected_invoice=original).count() == 1

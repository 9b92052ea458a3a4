"""The inbox's page statement (payments.inbox.inbox_page, written out in SQL): every filter lists what its
rule says, page after page, and the page costs the same number of statements whatever its rows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Company, Membership, Role
from invoices.models import Invoice
from invoices.selectors import Cursor
from payments import inbox
from payments.models import InboxSettings, PurchaseEntry, PurchaseSeen, PurchaseStatus
from tests.conftest import add_member
from tests.payments.inbox_helpers import purchase_invoice

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 12, 5)
OPEN = {"new", "pending", "accepted", "in_file"}

# number, status (None: no entry yet), seller name, seller NIP, issue day offset, due day offset (None: no
# due date), seen by the reader
INVOICES: list[tuple[str, str | None, str, str, int, int | None, bool]] = [
    ("FZ/1", None, "Alfa 50% Sp. z o.o.", "5260250274", -1, 13, False),
    ("FZ/2", "new", "Alfa 5000 sp. z o.o.", "5260250274", -1, -2, True),
    ("FZ/3", "pending", "Beta_X S.A.", "1234563218", -1, 3, False),
    ("FZ/4", "accepted", "BetaXX S.A.", "1234563218", -3, -1, False),
    ("FZ/5", "in_file", "Gamma", "9876543210", -3, None, True),
    ("FZ/6", "paid", "gamma", "9876543210", -5, -4, False),
    ("FZ/7", "rejected", "Alfa 50% Sp. z o.o.", "5260250274", -5, -3, False),
    ("FZ/8", None, "Delta \\ Omega", "5260250274", -5, -3, True),
    ("FZ/9", "accepted", "Delta", "1234563218", -8, 6, False),
    ("FZ/10", "new", "Epsilon", "9876543210", -8, 0, False),
]


def _build(company: Company) -> list[Invoice]:
    made = []
    for number, status, name, nip, issued, due, _seen in INVOICES:
        invoice = purchase_invoice(
            company,
            number=number,
            seller_name=name,
            seller_nip=nip,
            issue_date=TODAY + dt.timedelta(days=issued),
            due_date=None if due is None else TODAY + dt.timedelta(days=due),
        )
        if status is not None:
            PurchaseEntry.objects.create(
                invoice=invoice,
                company=company,
                status=status,
                reject_reason="Nie nasza" if status == "rejected" else "",
                paid_on=TODAY if status == "paid" else None,
            )
        made.append(invoice)
    return made


def _expected(invoices: list[Invoice], member: Membership, filters: inbox.InboxFilters) -> list[str]:
    """What the rules say, computed in Python from the rows (newest first, ties by id)."""
    seen = set(PurchaseSeen.objects.filter(membership=member).values_list("invoice_id", flat=True))
    listed = []
    for invoice in sorted(invoices, key=lambda i: (i.issue_date, i.pk), reverse=True):
        entry = PurchaseEntry.objects.filter(invoice=invoice).first()
        status = entry.status if entry else "new"
        text = filters.seller.strip()
        digits = text.replace("-", "").replace(" ", "")
        checks = [
            filters.status == "all" or (status == filters.status if filters.status else status != "rejected"),
            not text
            or (
                invoice.seller_nip.startswith(digits)
                if digits.isdigit()
                else text.lower() in invoice.seller_name.lower()
            ),
            filters.due != "overdue"
            or (invoice.due_date is not None and invoice.due_date < TODAY and status in OPEN),
            filters.due != "soon"
            or (
                invoice.due_date is not None
                and TODAY <= invoice.due_date <= TODAY + dt.timedelta(days=7)
                and status in OPEN
            ),
            not filters.unread or (invoice.pk not in seen and invoice.created_at >= member.created_at),
        ]
        if all(checks):
            listed.append(invoice.number)
    return listed


def _all_pages(member: Membership, filters: inbox.InboxFilters) -> list[inbox.InboxRowView]:
    rows: list[inbox.InboxRowView] = []
    after: Cursor | None = None
    for _ in range(10):
        page = inbox.inbox_page(membership=member, filters=filters, after=after, page_size=3, today=TODAY)
        rows += page.rows
        if page.next_cursor is None:
            return rows
        after = page.next_cursor
    raise AssertionError("the pages never ended")


CASES = [
    ("the default view: everything but rejected", inbox.InboxFilters()),
    ("everything", inbox.InboxFilters(status="all")),
    ("new: no entry, or an entry back to new", inbox.InboxFilters(status="new")),
    ("one status with an entry", inbox.InboxFilters(status="accepted")),
    ("rejected only when asked", inbox.InboxFilters(status="rejected")),
    ("overdue: due before today and still open", inbox.InboxFilters(due="overdue")),
    ("due within 7 days, today included", inbox.InboxFilters(due="soon")),
    ("a name fragment, any case", inbox.InboxFilters(seller="alfa")),
    ("% in the name is a character, not a wildcard", inbox.InboxFilters(seller="50%")),
    ("_ in the name is a character, not a wildcard", inbox.InboxFilters(seller="Beta_")),
    ("a backslash in the name is a character", inbox.InboxFilters(seller="\\")),
    ("the start of a NIP, with dashes", inbox.InboxFilters(seller="123-456")),
    ("digits inside a NIP do not match", inbox.InboxFilters(seller="3456")),
    ("unread by this reader, new ones only", inbox.InboxFilters(status="all", unread=True)),
    ("filters combine", inbox.InboxFilters(status="all", seller="gamma", due="overdue")),
]


@pytest.mark.parametrize(("reason", "filters"), CASES, ids=[case[0] for case in CASES])
def test_every_filter_lists_what_its_rule_says(
    reason: str, filters: inbox.InboxFilters, company_a: Company
) -> None:
    member = add_member(company_a, Role.ACCOUNTANT, "ksiegowa@example.com")
    Membership.objects.filter(pk=member.pk).update(created_at=timezone.now() - dt.timedelta(days=1))
    member.refresh_from_db()
    invoices = _build(company_a)
    # an invoice that arrived before the member joined is never unread for them
    Invoice.objects.filter(pk=invoices[-1].pk).update(created_at=timezone.now() - dt.timedelta(days=2))
    invoices[-1].refresh_from_db()
    for invoice, spec in zip(invoices, INVOICES, strict=True):
        if spec[6]:
            PurchaseSeen.objects.create(membership=member, invoice=invoice)
    expected = _expected(invoices, member, filters)
    rows = _all_pages(member, filters)
    assert [view.row.number for view in rows] == expected, reason
    by_number = {invoice.number: invoice for invoice in invoices}
    for view in rows:  # each row's values, as the ORM reads them
        invoice = by_number[view.row.number]
        entry = PurchaseEntry.objects.filter(invoice=invoice).first()
        assert view.row.uuid == str(invoice.uuid)
        assert view.row.total_gross == invoice.total_gross == Decimal("1230.00")
        assert view.row.issue_date == invoice.issue_date
        assert view.row.due_date == invoice.due_date
        assert view.row.status == (entry.status if entry else "new")
        assert view.row.reject_reason == (entry.reject_reason if entry else None)
        assert view.row.paid_on == (entry.paid_on if entry else None)
        assert view.unread == view.row.unread
        assert view.unread == (
            not PurchaseSeen.objects.filter(membership=member, invoice=invoice).exists()
            and invoice.created_at >= member.created_at
        )
        assert view.overdue == (
            invoice.due_date is not None and invoice.due_date < TODAY and view.row.status in OPEN
        )


def test_the_approver_comes_with_the_rows_and_with_an_empty_page(company_a: Company) -> None:
    owner = Membership.objects.get(company=company_a, role=Role.OWNER)
    approver = add_member(company_a, Role.ACCOUNTANT, "zatwierdza@example.com")
    other = add_member(company_a, Role.ACCOUNTANT, "ksiegowa@example.com")
    purchase_invoice(company_a, number="FZ/A/1")
    assert inbox.inbox_page(membership=other, filters=inbox.InboxFilters()).approver is None
    InboxSettings.objects.create(company=company_a, approver=approver)
    for filters in (inbox.InboxFilters(), inbox.InboxFilters(seller="nobody sells this")):
        page = inbox.inbox_page(membership=other, filters=filters)
        assert page.approver == inbox.Approver(approver.pk, "zatwierdza@example.com")
        assert inbox.may_accept_with(approver, page.approver)
        assert not inbox.may_accept_with(other, page.approver)
        assert inbox.may_accept_with(owner, page.approver)


def _statements(client: Any, query: str) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("payments:inbox") + query)
    assert response.status_code == 200
    return [query["sql"] for query in captured.captured_queries]


def test_the_page_statement_budget_does_not_grow_with_its_rows(alice_client: Any, company_a: Company) -> None:
    """The inbox's own cost is one statement for its rows, the approver and each reader's "seen" marker,
    whatever the number of rows: 1 row and 50 rows cost the same statements, and only an empty page reads
    the approver apart."""
    InboxSettings.objects.create(
        company=company_a, approver=Membership.objects.get(company=company_a, role=Role.OWNER)
    )
    purchase_invoice(company_a, number="FZ/B/0", seller_name="Jedyny")
    one = _statements(alice_client, "?seller=Jedyny")
    for n in range(1, 60):
        invoice = purchase_invoice(company_a, number=f"FZ/B/{n}", issue_date=dt.date(2026, 10, 1 + n % 28))
        if n % 3 == 0:
            PurchaseEntry.objects.create(invoice=invoice, company=company_a, status=PurchaseStatus.ACCEPTED)
    fifty = _statements(alice_client, "")
    empty = _statements(alice_client, "?seller=nikt")
    assert len(fifty) == len(one)
    reading_invoices = [sql for sql in fifty if "invoices_invoice" in sql]
    assert len(reading_invoices) == 1
    assert all("payments_inboxsettings" not in sql for sql in fifty if sql not in reading_invoices)
    assert len(empty) == len(fifty) + 1  # the approver, read apart when there is no row to carry it
    assert len(fifty) <= 4  # the session's user and membership, the page, at most one more


def _page(client: Any, query: str = "") -> str:
    response = client.get(reverse("payments:inbox") + query)
    assert response.status_code == 200
    return str(response.content.decode())


def test_the_kept_content_follows_the_approver_the_reader_and_the_query(
    alice_client: Any, company_a: Company
) -> None:
    """The page's content is kept (payments.inbox_cache) under what it shows: a new approver, another
    reader's rights, another query or pager never get content rendered for someone else; each request gets
    its own CSRF field, and a query that spells the rows' place cannot move them."""
    purchase_invoice(company_a, number="FZ/C/1", seller_name="Kowalski")
    accountant = add_member(company_a, Role.ACCOUNTANT, "ksiegowa@example.com")
    other_client = Client()
    other_client.force_login(accountant.user)
    before = _page(alice_client)
    assert "zatwierdza@example.com" not in before
    assert 'id="bulk-accept"' in _page(other_client)  # no approver: accountants accept too
    approver = add_member(company_a, Role.ACCOUNTANT, "zatwierdza@example.com")
    InboxSettings.objects.create(company=company_a, approver=approver)
    assert "zatwierdza@example.com" in _page(alice_client)
    assert 'id="bulk-accept"' in _page(alice_client)  # the owner still accepts
    assert 'id="bulk-accept"' not in _page(other_client)  # the accountant no longer does
    tokens = {
        page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
        for page in (_page(alice_client), _page(other_client))
    }
    assert len(tokens) == 2
    tricky = _page(alice_client, "?seller=%3C!--inbox%3Arows--%3E")
    assert "<!--inbox:" not in tricky
    assert "&lt;!--inbox:rows--&gt;" in tricky  # the query, shown escaped in the filter panel
    assert 'data-number="FZ/C/1"' not in tricky  # nobody's name contains it
    kowalski = _page(alice_client, "?seller=Kowal")
    assert kowalski.count('data-number="FZ/C/1"') == 1
    assert 'value="Kowal"' in kowalski

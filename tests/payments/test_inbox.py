"""The purchase inbox and paying without KSeF: per-person unread marker, roles, the approver, bulk actions
with what they skip, filters, pagination and a constant query count, pay-file refusals, bad statements."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Company, Role
from invoices.models import Invoice
from payments import inbox, paying
from payments.models import InboxSettings, PaymentFile, PurchaseEntry, PurchaseEvent, PurchaseSeen
from tests.conftest import add_member
from tests.payments.inbox_helpers import SELLER_ACCOUNT, mt940_for, purchase_invoice
from tests.payments.transfers.helpers import PAYER_NRB

pytestmark = pytest.mark.django_db

INBOX = "payments:inbox"


def _client(company: Company, role: str, email: str) -> tuple[Client, Any]:
    membership = add_member(company, role, email)
    client = Client()
    client.force_login(membership.user)
    return client, membership


def _act(client: Any, invoices: list[Invoice], action: str, **extra: str) -> Any:
    data = {"invoice": [str(i.uuid) for i in invoices], "action": action, **extra}
    return client.post(reverse("payments:inbox_action"), data)


def _status(invoice: Invoice) -> str:
    entry = PurchaseEntry.objects.filter(invoice=invoice).first()
    return entry.status if entry else "new"


def _page(client: Any, query: str = "") -> str:
    response = client.get(reverse(INBOX) + query)
    assert response.status_code == 200
    return str(response.content.decode())


def test_unread_is_per_person(alice_client: Any, company_a: Company) -> None:
    accountant, _ = _client(company_a, Role.ACCOUNTANT, "ksiegowa@example.com")
    invoice = purchase_invoice(company_a, number="FZ/U/1")
    assert "inbox-row--unread" in _page(alice_client)
    assert "inbox-row--unread" in _page(accountant)
    alice_client.get(reverse("invoices:detail", kwargs={"invoice_uuid": invoice.uuid}))
    assert "inbox-row--unread" not in _page(alice_client)  # alice opened it
    assert "inbox-row--unread" in _page(accountant)  # still unread for the accountant
    assert 'data-number="FZ/U/1"' not in _page(alice_client, "?unread=on")
    assert 'data-number="FZ/U/1"' in _page(accountant, "?unread=on")
    assert PurchaseSeen.objects.count() == 1
    # Someone who joins later does not inherit the company's past as "unread".
    newcomer, _ = _client(company_a, Role.ACCOUNTANT, "nowy@example.com")
    assert "inbox-row--unread" not in _page(newcomer)
    assert 'data-number="FZ/U/1"' in _page(newcomer)


def test_a_viewer_sees_but_cannot_act(company_a: Company) -> None:
    invoice = purchase_invoice(company_a)
    viewer, _ = _client(company_a, Role.VIEWER, "podglad@example.com")
    page = _page(viewer)
    assert invoice.number in page
    assert 'name="invoice"' not in page  # no checkboxes, no actions
    assert _act(viewer, [invoice], "accept").status_code == 403
    detail = viewer.get(reverse("invoices:detail", kwargs={"invoice_uuid": invoice.uuid})).content.decode()
    assert 'id="purchase-status"' in detail
    assert 'id="purchase-accept"' not in detail
    url = reverse("payments:invoice_action", kwargs={"invoice_uuid": invoice.uuid})
    assert viewer.post(url, {"action": "comment", "text": "x"}).status_code == 403
    assert viewer.post(reverse("payments:pay"), {"invoice": [str(invoice.uuid)]}).status_code == 403
    assert viewer.post(reverse("payments:statement")).status_code == 403
    assert not PurchaseEntry.objects.exists()
    assert not PurchaseEvent.objects.exists()


def test_bulk_actions_apply_where_they_can_and_say_what_they_skipped(
    alice_client: Any, company_a: Company
) -> None:
    a, b, c = (purchase_invoice(company_a, number=f"FZ/B/{n}") for n in (1, 2, 3))
    _act(alice_client, [a], "pending")
    response = _act(alice_client, [a, b, c], "pending")  # a is already awaiting approval
    assert [_status(i) for i in (a, b, c)] == ["pending", "pending", "pending"]
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("FZ/B/1" in m for m in messages)
    _act(alice_client, [a, b], "accept")
    assert _act(alice_client, [c], "reject").status_code == 302  # no reason: refused as a whole
    assert _status(c) == "pending"
    _act(alice_client, [a, b, c], "reject", reject_reason="  nie   dotyczy nas ")
    assert [_status(i) for i in (a, b, c)] == ["rejected", "rejected", "rejected"]
    entry = PurchaseEntry.objects.get(invoice=a)
    assert entry.reject_reason == "nie dotyczy nas"
    assert entry.changed_by is not None
    assert entry.changed_by.email == "alice@example.com"
    _act(alice_client, [b], "restore")
    assert _status(b) == "new"
    _act(alice_client, [b], "paid")
    paid = PurchaseEntry.objects.get(invoice=b)
    assert paid.status == "paid"
    assert paid.paid_on == timezone.localdate()
    kinds = list(PurchaseEvent.objects.filter(invoice=a).values_list("status", flat=True))
    assert kinds == ["pending", "accepted", "rejected"]


def test_the_approver_accepts_others_send_to_approval(alice_client: Any, company_a: Company) -> None:
    invoice = purchase_invoice(company_a)
    accountant, accountant_m = _client(company_a, Role.ACCOUNTANT, "ksiegowa@example.com")
    approver, approver_m = _client(company_a, Role.ACCOUNTANT, "zatwierdza@example.com")
    settings_url = reverse("payments:settings")
    assert accountant.post(settings_url, {"approver": approver_m.pk}).status_code == 403  # owner only
    alice_client.post(settings_url, {"approver": approver_m.pk})
    assert InboxSettings.objects.get(company=company_a).approver == approver_m
    _act(accountant, [invoice], "accept")
    assert _status(invoice) == "new"  # not theirs to accept
    assert 'id="bulk-accept"' not in _page(accountant)
    _act(accountant, [invoice], "pending")
    _act(approver, [invoice], "accept")
    assert _status(invoice) == "accepted"
    assert accountant_m.pk != approver_m.pk


def test_filters_status_seller_due_and_overdue_highlight(alice_client: Any, company_a: Company) -> None:
    today = timezone.localdate()
    late = purchase_invoice(company_a, number="FZ/F/late", due_date=today - dt.timedelta(days=3))
    purchase_invoice(company_a, number="FZ/F/soon", due_date=today + dt.timedelta(days=2))
    purchase_invoice(
        company_a, number="FZ/F/other", seller_name="Inny Dostawca", seller_nip="1234563218", due_date=None
    )
    page = _page(alice_client, "?due=overdue")
    assert 'data-number="FZ/F/late"' in page
    assert "inbox-row--overdue" in page
    assert 'data-number="FZ/F/soon"' not in page
    assert 'data-number="FZ/F/soon"' in _page(alice_client, "?due=soon")
    by_nip = _page(alice_client, "?seller=123456")
    assert 'data-number="FZ/F/other"' in by_nip
    assert 'data-number="FZ/F/late"' not in by_nip
    assert 'data-number="FZ/F/other"' in _page(alice_client, "?seller=inny")
    _act(alice_client, [late], "paid")
    assert 'data-number="FZ/F/late"' not in _page(alice_client, "?due=overdue")  # paid is not overdue
    assert 'data-number="FZ/F/late"' in _page(alice_client, "?status=paid")


def test_kept_rows_follow_every_change_and_each_reader(alice_client: Any, company_a: Company) -> None:
    """The rows are kept (payments.inbox_cache) under what they show: a status change, the approver's
    rights or another reader never get a page rendered before."""
    viewer, _ = _client(company_a, Role.VIEWER, "podglad@example.com")  # both see the invoices unread
    invoice = purchase_invoice(company_a, number="FZ/K/1", gross="1234567.50")
    other = purchase_invoice(company_a, number="FZ/K/2")
    page = _page(alice_client)
    assert 'purchase-status--new">' in page
    assert "1\xa0234\xa0567,50 PLN" in page  # Polish money, as the Dokumenty list shows it
    assert f'value="{invoice.uuid}"' in page
    assert 'name="invoice"' not in _page(viewer)  # alice's kept rows (with checkboxes) are not the viewer's
    _act(alice_client, [invoice], "reject", reject_reason="Nie zamawialiśmy")
    assert 'data-number="FZ/K/1"' not in _page(alice_client)
    rejected = _page(alice_client, "?status=rejected")
    assert 'data-number="FZ/K/1"' in rejected
    assert "Nie zamawialiśmy" in rejected
    assert 'data-number="FZ/K/2"' not in rejected
    _act(alice_client, [invoice], "restore")  # back to "new", now with an entry
    new = _page(alice_client, "?status=new")
    assert 'data-number="FZ/K/1"' in new
    assert 'data-number="FZ/K/2"' in new  # no entry at all: new too
    assert 'data-number="FZ/K/1"' not in _page(alice_client, "?status=rejected")
    _act(alice_client, [other], "accept")
    accepted = _page(alice_client, "?status=accepted")
    assert 'data-number="FZ/K/2"' in accepted
    assert 'data-number="FZ/K/1"' not in accepted
    assert 'data-number="FZ/K/2"' not in _page(alice_client, "?status=new")


def test_pagination_and_a_constant_number_of_queries(alice_client: Any, company_a: Company) -> None:
    start = dt.date(2026, 1, 1)
    invoices = [
        purchase_invoice(company_a, number=f"FZ/P/{n:03d}", issue_date=start + dt.timedelta(days=n % 40))
        for n in range(120)
    ]
    _act(alice_client, invoices[:30], "accept")
    with CaptureQueriesContext(connection) as empty:
        _page(alice_client, "?status=all&seller=FZ")  # no seller matches: an empty page
    with CaptureQueriesContext(connection) as fifty:
        first = _page(alice_client)
    assert first.count('class="inbox-row') == 50
    assert len(fifty) <= len(empty) + 1  # the rows cost one query, whatever their number
    seen = set()
    html = first
    for _ in range(5):
        seen |= {
            line.split('data-number="')[1].split('"')[0] for line in html.split("\n") if "data-number" in line
        }
        if 'rel="next"' not in html:
            break
        next_query = html.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
        html = _page(alice_client, next_query)
    assert len(seen) == 120  # every invoice once, over three pages


def test_pay_refuses_clearly_and_changes_nothing(alice_client: Any, company_a: Company) -> None:
    no_account = purchase_invoice(company_a, number="FZ/N/1", bank_account="")
    euro = purchase_invoice(company_a, number="FZ/N/2", currency="EUR", exchange_rate="4.2500")
    new = purchase_invoice(company_a, number="FZ/N/3")
    _act(alice_client, [no_account, euro], "accept")
    data = {
        "invoice": [str(i.uuid) for i in (no_account, euro, new)],
        "confirm": "1",
        "payer_account": PAYER_NRB,
        "execution_date": timezone.localdate().isoformat(),
        "file_format": "elixir",
    }
    html = alice_client.post(reverse("payments:pay"), data).content.decode()
    problems = html.split('id="pay-problems"')[1].split("</div>")[0]
    assert "FZ/N/1" in problems
    assert "FZ/N/2" in problems
    assert "EUR" in problems
    assert "FZ/N/3" in html.split('id="pay-not-ready"')[1]  # not accepted yet: left out
    assert not PaymentFile.objects.exists()
    assert [_status(i) for i in (no_account, euro)] == ["accepted", "accepted"]
    bad = {**data, "payer_account": "12 3456", "execution_date": "2020-01-01"}
    html = alice_client.post(reverse("payments:pay"), bad).content.decode()
    assert html.count("field--error") >= 2


def test_pay_file_download_and_mark_paid_by_hand(alice_client: Any, company_a: Company) -> None:
    a, b = purchase_invoice(company_a, gross="100.00"), purchase_invoice(company_a, gross="250.50")
    _act(alice_client, [a, b], "accept")
    membership = company_a.memberships.get()
    payment_file = paying.payment_file_create(
        membership=membership,
        invoices=inbox.purchases_by_uuid(company=company_a, uuids=[a.uuid, b.uuid]),
        payer_account=PAYER_NRB,
        execution_date=timezone.localdate(),
        file_format="elixir",
    )
    assert payment_file.transfer_count == 2
    assert str(payment_file.total) == "350.50"
    page = alice_client.get(
        reverse("payments:file", kwargs={"file_uuid": payment_file.uuid})
    ).content.decode()
    assert 'id="file-paid"' in page
    download = alice_client.get(reverse("payments:file_download", kwargs={"file_uuid": payment_file.uuid}))
    assert download.content == bytes(payment_file.content)
    alice_client.post(
        reverse("payments:inbox_action"),
        {"invoice": [str(a.uuid), str(b.uuid)], "action": "paid", "next": page and "/dokumenty/do-zaplaty/"},
    )
    assert [_status(a), _status(b)] == ["paid", "paid"]


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"Data;Kwota;Tytul\r\n2026-12-01;-100,00;FV 1\r\n", "MT940"),
        (
            b"<?xml version='1.0'?><Document xmlns='urn:iso:std:iso:20022:tech:xsd:pain.001.001.03'/>",
            "pain.001",
        ),
        (b"<Document><unclosed>", "XML"),
        (b"", "statement"),
        (b"\x00\xff\xfe garbage \x89PNG", "MT940"),
    ],
    ids=["csv", "pain001", "broken-xml", "empty", "binary"],
)
def test_a_bad_statement_gets_a_message_never_a_500(
    alice_client: Any, company_a: Company, data: bytes, needle: str
) -> None:
    upload = SimpleUploadedFile("wyciag.txt", data)
    response = alice_client.post(reverse("payments:statement"), {"statement": upload})
    assert response.status_code == 200
    html = response.content.decode()
    assert "field--error" in html
    assert 'id="statement-report"' not in html


def test_a_statement_too_large_is_refused(alice_client: Any, company_a: Company) -> None:
    upload = SimpleUploadedFile("wyciag.sta", b":20:X\r\n" + b"x" * (paying.STATEMENT_MAX_BYTES + 1))
    html = alice_client.post(reverse("payments:statement"), {"statement": upload}).content.decode()
    assert "5 MB" in html


def test_partial_payment_is_listed_not_marked(alice_client: Any, company_a: Company) -> None:
    invoice = purchase_invoice(company_a, gross="500.00")
    _act(alice_client, [invoice], "accept")
    from payments.transfers import Order

    order = Order(
        payer_nrb=PAYER_NRB, payer_name="Alfa", payer_address=(), payee_nrb=SELLER_ACCOUNT,
        payee_name="Młyn Zbożowy S.A.", payee_address=(), amount=20000, currency="PLN",
        execution_date=timezone.localdate(), remittance=invoice.ksef_number or "",
    )  # fmt: skip
    upload = SimpleUploadedFile("wyciag.sta", mt940_for([order], booked=timezone.localdate()))
    html = alice_client.post(reverse("payments:statement"), {"statement": upload}).content.decode()
    assert "statement-row--partial" in html
    assert "200,00" in html
    assert _status(invoice) == "accepted"


def test_other_companys_invoices_and_files_do_not_exist(
    alice_client: Any, company_a: Company, company_b: Company, bob: Any
) -> None:
    theirs = purchase_invoice(company_b, number="FZ/BETA/1")
    _act(alice_client, [theirs], "accept")  # silently not found
    assert not PurchaseEntry.objects.exists()
    assert "FZ/BETA/1" not in _page(alice_client, "?status=all")
    html = alice_client.post(reverse("payments:pay"), {"invoice": [str(theirs.uuid)]}).content.decode()
    assert "FZ/BETA/1" not in html
    url = reverse("payments:invoice_action", kwargs={"invoice_uuid": theirs.uuid})
    assert alice_client.post(url, {"action": "accept"}).status_code == 404
    bob_client = Client()
    bob_client.force_login(bob)
    _act(bob_client, [theirs], "accept")
    payment_file = paying.payment_file_create(
        membership=company_b.memberships.get(),
        invoices=inbox.purchases_by_uuid(company=company_b, uuids=[theirs.uuid]),
        payer_account=PAYER_NRB,
        execution_date=timezone.localdate(),
        file_format="pain001",
    )
    for name in ("payments:file", "payments:file_download"):
        assert alice_client.get(reverse(name, kwargs={"file_uuid": payment_file.uuid})).status_code == 404


def test_comments_and_history_on_the_invoice_page(alice_client: Any, company_a: Company) -> None:
    invoice = purchase_invoice(company_a)
    url = reverse("payments:invoice_action", kwargs={"invoice_uuid": invoice.uuid})
    alice_client.post(url, {"action": "comment", "text": "Zapytać Jana, czy to jego zamówienie"})
    alice_client.post(url, {"action": "accept"})
    detail = alice_client.get(
        reverse("invoices:detail", kwargs={"invoice_uuid": invoice.uuid})
    ).content.decode()
    assert "Zapytać Jana, czy to jego zamówienie" in detail
    assert "purchase-status--accepted" in detail
    assert 'id="whitelist"' in detail  # the white-list card is still there

"""One transfer for several invoices of one seller, titled with the collective identifier KSeF (the simulator,
over real HTTP) issues in the worker's task; the fallback to KSeF numbers when KSeF refuses; MPP invoices
never merged; the statement matcher pays every invoice of the identifier; and the client's four operations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import Company, User
from ksef_integration.connect import services as connect_services
from ksef_integration.connect.session import ksef_client_for
from ksef_integration.ksef.collective import CollectiveInvoice, collective_identifier_is_valid
from ksef_integration.ksef.errors import KsefRejected
from ksef_simulator import services_core
from ksef_simulator.conf import config_update
from ksef_simulator.services_invoices import invoice_store_incoming
from payments import inbox, paying, queue, transfers
from payments.models import CollectiveTransfer, PaymentFile, PaymentFileStatus, PurchaseEntry, PurchaseStatus
from tests.ksef_simulator.invoices import fa3
from tests.payments.inbox_helpers import mt940_for, purchase_invoice
from tests.payments.transfers.helpers import PAYER_NRB, nrb

pytestmark = pytest.mark.django_db(transaction=True)

SELLER_ACCOUNT = nrb("1020296", "5555000011112222")


@pytest.fixture
def connected(live_server: Any, company_a: Company, alice: User) -> Iterator[Company]:
    """Company A connected to the simulator (over HTTP) with a token that may read invoices."""
    config_update(token_activation_delay=0, auth_delay=0)
    with override_settings(KSEF_API_URL=f"{live_server.url}/ksef-sim/v2"):
        _, token = services_core.token_generate(
            nip=company_a.nip, permissions=["InvoiceRead", "InvoiceWrite"], description="KSeF Portal"
        )
        connect_services.connection_connect_token(company=company_a, user=alice, raw_token=token)
        yield company_a


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    sent: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(queue, "publish", lambda name, args: sent.append((name, args)))
    return sent


def _in_ksef(company: Company, seller: str, gross: str, **fields: Any) -> Any:
    """A purchase invoice KSeF has (its seller sent it to the simulator) as importing stores it, accepted."""
    number = invoice_store_incoming(
        xml_bytes=fa3.invoice(seller=seller, buyer=company.nip, number=fa3.number(), gross=gross)
    )
    invoice = purchase_invoice(
        company, gross=gross, seller_nip=seller, ksef_number=number, bank_account=SELLER_ACCOUNT, **fields
    )
    PurchaseEntry.objects.create(invoice=invoice, company=company, status=PurchaseStatus.ACCEPTED)
    return invoice


def _accepted(company: Company, **fields: Any) -> Any:
    invoice = purchase_invoice(company, **fields)
    PurchaseEntry.objects.create(invoice=invoice, company=company, status=PurchaseStatus.ACCEPTED)
    return invoice


def _pay(
    company: Company, invoices: list[Any], *, file_format: str = "pain001", collective: bool = True
) -> PaymentFile:
    return paying.payment_file_create(
        membership=company.memberships.get(),
        invoices=inbox.purchases_by_uuid(company=company, uuids=[i.uuid for i in invoices]),
        payer_account=PAYER_NRB,
        execution_date=timezone.localdate(),
        file_format=file_format,
        collective=collective,
    )


def _orders(payment_file: PaymentFile) -> list[transfers.Order]:
    payment_file.refresh_from_db()
    data = bytes(payment_file.content)
    if payment_file.format == "pain001":
        return transfers.pain001_parse(data)
    return [
        transfers.Order(
            payer_nrb=r.payer_nrb,
            payer_name=r.payer_lines[0],
            payer_address=(),
            payee_nrb=r.payee_nrb,
            payee_name=r.payee_lines[0],
            payee_address=(),
            amount=r.amount,
            currency="PLN",
            execution_date=r.execution_date,
            remittance=r.title,
            split_payment=r.classification == "53",
        )
        for r in transfers.elixir_parse(data)
    ]


# The worker's and the simulator's writes at once: SQLite answers "database is locked".
@pytest.mark.usefixtures("postgres_and_redis")
def test_one_transfer_titled_with_the_identifier_pays_both_after_the_statement(
    connected: Company, alice_client: Any, published: list[Any]
) -> None:
    seller = fa3.nip()
    first = _in_ksef(connected, seller, "123.00")
    second = _in_ksef(connected, seller, "246.00")
    mpp = _accepted(
        connected, seller_nip=seller, split_payment=True, bank_account=SELLER_ACCOUNT, gross="1230.00"
    )
    other = _accepted(connected, gross="50.00")

    payment_file = _pay(connected, [first, second, mpp, other])
    assert payment_file.status == PaymentFileStatus.PREPARING
    assert published == [(queue.COLLECTIVE_IDENTIFIERS, (payment_file.pk,))]
    page = alice_client.get(
        reverse("payments:file", kwargs={"file_uuid": payment_file.uuid})
    ).content.decode()
    assert 'id="file-preparing"' in page
    assert 'id="file-download"' not in page
    early = alice_client.get(reverse("payments:file_download", kwargs={"file_uuid": payment_file.uuid}))
    assert early.status_code == 302  # not a half-made file

    assert paying.collective_identifiers_run(payment_file_id=payment_file.pk) == "ready"
    row = CollectiveTransfer.objects.get(payment_file=payment_file)
    assert row.state == CollectiveTransfer.State.ISSUED
    assert collective_identifier_is_valid(row.identifier)
    assert row.identifier.startswith(seller)
    orders = _orders(payment_file)
    assert payment_file.transfer_count == len(orders) == 3  # the pair merged; MPP and the other one alone
    merged = [o for o in orders if o.remittance == row.identifier]
    assert [o.amount for o in merged] == [36900]
    assert sum(1 for o in orders if o.split_payment) == 1
    # KSeF knows which invoices the identifier stands for (listed by identifier and by invoice).
    client = ksef_client_for(company=connected)
    listed = {(i.ksef_number, i.amount) for i in client.collective.invoices(numbers=[row.identifier])}
    assert listed == {(first.ksef_number, Decimal("123.00")), (second.ksef_number, Decimal("246.00"))}
    assert [s.number for s in client.collective.of_invoice(ksef_number=first.ksef_number)] == [row.identifier]
    now = dt.datetime.now(dt.UTC)
    found = list(
        client.collective.query(
            created_from=now - dt.timedelta(days=1), created_to=now + dt.timedelta(days=1)
        )
    )
    assert [(s.number, s.invoice_count, s.created_in_current_context) for s in found] == [
        (row.identifier, 2, True)
    ]

    statement = mt940_for(orders, booked=timezone.localdate())
    response = alice_client.post(
        reverse("payments:statement"), {"statement": SimpleUploadedFile("wyciag.sta", statement)}
    )
    html = response.content.decode()
    assert html.count("statement-row--paid") == 4, html
    statuses = dict(PurchaseEntry.objects.filter(company=connected).values_list("invoice_id", "status"))
    assert {statuses[i.pk] for i in (first, second, mpp, other)} == {PurchaseStatus.PAID}


# The worker's and the simulator's writes at once: SQLite answers "database is locked".
@pytest.mark.usefixtures("postgres_and_redis")
def test_when_ksef_refuses_the_titles_list_the_numbers_four_per_transfer(
    connected: Company, alice_client: Any, published: list[Any]
) -> None:
    """Five invoices of one seller KSeF does not have for this company (71001): the file is still made,
    two transfers (4 + 1 numbers), and the page says why."""
    invoices = [_accepted(connected, gross=f"{100 + n}.00", bank_account=SELLER_ACCOUNT) for n in range(5)]
    payment_file = _pay(connected, invoices, file_format="elixir")
    assert paying.collective_identifiers_run(payment_file_id=payment_file.pk) == "ready"
    row = CollectiveTransfer.objects.get(payment_file=payment_file)
    assert (row.state, row.identifier) == (CollectiveTransfer.State.REFUSED, "")
    assert "KSeF" in row.message
    orders = _orders(payment_file)
    by_id = {i.pk: i for i in invoices}
    grouped = [by_id[pk] for pk in row.invoice_ids]  # in the order they were selected
    assert [o.amount for o in orders] == [
        sum(int(i.total_gross * 100) for i in grouped[:4]),
        int(grouped[4].total_gross * 100),
    ]
    assert orders[0].remittance == "".join(i.ksef_number for i in grouped[:4])
    assert orders[1].remittance == grouped[4].ksef_number
    page = alice_client.get(
        reverse("payments:file", kwargs={"file_uuid": payment_file.uuid})
    ).content.decode()
    assert 'id="file-download"' in page
    assert row.message.split("(")[0].strip()[:20] in page

    statement = mt940_for(orders, booked=timezone.localdate())
    alice_client.post(reverse("payments:statement"), {"statement": SimpleUploadedFile("w.sta", statement)})
    assert set(PurchaseEntry.objects.filter(company=connected).values_list("status", flat=True)) == {"paid"}


def test_busy_or_slow_ksef_is_asked_again_then_the_numbers_are_used(
    company_a: Company, published: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from invoices import collective

    asked: list[int] = []

    def later(company_id: int, invoices: Any) -> collective.CollectiveAnswer:
        asked.append(company_id)
        raise collective.CollectiveLater("busy", countdown=15)

    previous = collective.set_collective_issuer(later)
    try:
        invoices = [_accepted(company_a, gross="10.00") for _ in range(2)]
        payment_file = _pay(company_a, invoices)
        with pytest.raises(collective.CollectiveLater):
            paying.collective_identifiers_run(payment_file_id=payment_file.pk)
        payment_file.refresh_from_db()
        assert payment_file.status == PaymentFileStatus.PREPARING
        assert paying.collective_identifiers_run(payment_file_id=payment_file.pk, give_up=True) == "ready"
    finally:
        collective.set_collective_issuer(previous)
    assert asked == [company_a.pk, company_a.pk]
    (order,) = _orders(payment_file)
    row = CollectiveTransfer.objects.get(payment_file=payment_file)
    assert row.state == CollectiveTransfer.State.REFUSED
    assert sorted(order.remittance[i : i + 35] for i in (0, 35)) == sorted(i.ksef_number for i in invoices)
    assert paying.collective_identifiers_run(payment_file_id=payment_file.pk) == "not preparing"


def test_without_one_transfer_for_all_nothing_is_asked(company_a: Company, published: list[Any]) -> None:
    invoices = [_accepted(company_a, gross="10.00") for _ in range(2)]
    payment_file = _pay(company_a, invoices, collective=False)
    assert (payment_file.status, payment_file.transfer_count) == (PaymentFileStatus.READY, 2)
    assert published == []


def test_the_pay_page_offers_one_transfer_and_says_mpp_is_never_merged(
    alice_client: Any, company_a: Company
) -> None:
    invoices = [_accepted(company_a, gross="10.00") for _ in range(2)]
    mpp = _accepted(company_a, split_payment=True)
    html = alice_client.post(
        reverse("payments:pay"), {"invoice": [str(i.uuid) for i in (*invoices, mpp)]}
    ).content.decode()
    assert 'id="id_collective"' in html
    assert 'id="pay-mpp-note"' in html
    lone = alice_client.post(reverse("payments:pay"), {"invoice": [str(invoices[0].uuid)]}).content.decode()
    assert 'id="id_collective"' not in lone


def test_the_client_refuses_what_ksef_would_and_reports_ksefs_refusal(connected: Company) -> None:
    seller = fa3.nip()
    first, second = _in_ksef(connected, seller, "10.00"), _in_ksef(connected, seller, "20.00")
    other = _in_ksef(connected, fa3.nip(), "30.00")
    client = ksef_client_for(company=connected)
    with pytest.raises(ValueError, match=r"2\.\.500"):
        client.collective.generate(invoices=[CollectiveInvoice(first.ksef_number)])
    with pytest.raises(ValueError, match="once"):
        client.collective.generate(invoices=[CollectiveInvoice(first.ksef_number)] * 2)
    with pytest.raises(KsefRejected) as refused:
        client.collective.generate(
            invoices=[CollectiveInvoice(first.ksef_number), CollectiveInvoice(other.ksef_number)]
        )
    assert refused.value.code == 71004
    number = client.collective.generate(
        invoices=[
            CollectiveInvoice(first.ksef_number, Decimal("10.00"), "PLN", "FV 1"),
            CollectiveInvoice(second.ksef_number),
        ]
    )
    assert collective_identifier_is_valid(number)
    assert not collective_identifier_is_valid(number[:-1] + ("0" if number[-1] != "0" else "1"))
    with pytest.raises(ValueError, match=r"1\.\.10"):
        list(client.collective.invoices(numbers=[number] * 11))


def test_a_eur_invoice_is_paid_in_eur_with_pain001_and_refused_in_elixir(
    alice_client: Any, company_a: Company
) -> None:
    euro = _accepted(
        company_a,
        gross="410.00",
        currency="EUR",
        exchange_rate="4.2500",
        bank_account="DE89370400440532013000",
    )
    zloty = _accepted(company_a, gross="100.00")
    with pytest.raises(paying.PayError) as refused:
        _pay(company_a, [euro, zloty], file_format="elixir", collective=False)
    assert [(i.number if i else None) for i, _ in refused.value.problems] == [euro.number, euro.number]
    assert PaymentFile.objects.count() == 0
    payment_file = _pay(company_a, [euro, zloty], collective=False)
    assert payment_file.totals == {"EUR": "410.00", "PLN": "100.00"}
    orders = {o.currency: o for o in _orders(payment_file)}
    assert (orders["EUR"].amount, orders["EUR"].payee_iban) == (41000, "DE89370400440532013000")
    page = alice_client.get(
        reverse("payments:file", kwargs={"file_uuid": payment_file.uuid})
    ).content.decode()
    assert "410,00 EUR" in page or "410.00 EUR" in page

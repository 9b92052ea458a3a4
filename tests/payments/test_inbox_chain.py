"""The whole chain with real objects: purchase invoices imported from the simulator over HTTP → accepted
(two) and rejected as not ours (one) → the white list checked (one account off the list blocks, the owner's
override lets it through) → a pay file (pain.001 validated against the XSD, Elixir-O parsed back) → the
bank's MT940 statement of those transfers imported → the invoices paid."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import Company
from invoices.models import Invoice
from ksef_integration.importing.services import company_import
from ksef_integration.models import KsefConnection
from ksef_simulator import services_core, services_invoices
from ksef_simulator.conf import config_update
from ksef_simulator.whitelist import accounts_for
from payments import transfers
from payments.models import PaymentFile, PurchaseEntry, PurchaseEvent, PurchaseStatus
from payments.transfers.titles import mpp_title_parse
from tests.payments.conftest import ACTIVE_NIP, FOREIGN_ACCOUNT
from tests.payments.inbox_helpers import mt940_for
from tests.payments.transfers.helpers import PAYER_NRB, nrb

pytestmark = pytest.mark.django_db(transaction=True)

ISSUE = dt.date(2026, 11, 20)
ON_LIST = accounts_for(ACTIVE_NIP)[0]
OWN_ACCOUNT = nrb(
    "1090101", "0000000012345678"
)  # FOREIGN_ACCOUNT is PAYER_NRB: paying it from there is refused


@pytest.fixture
def connected(
    live_server: Any, alice_client: Any, company_a: Company, wl_url: str
) -> Iterator[KsefConnection]:
    config_update(
        token_activation_delay=0, auth_delay=0, invoice_processing_delay=0, permanent_storage_lag=0, hwm_lag=0
    )
    with override_settings(KSEF_API_URL=f"{live_server.url}/ksef-sim/v2"):
        _, token = services_core.token_generate(
            nip=company_a.nip, permissions=["InvoiceRead", "InvoiceWrite"], description="portal"
        )
        assert alice_client.post("/uslugi-dodatkowe/ksef/token/", {"token": token}).status_code == 302
        connection = KsefConnection.objects.get(company=company_a)
        connection.import_start_date = dt.date(2026, 8, 1)
        connection.save(update_fields=["import_start_date"])
        yield connection


def seller_xml(buyer_nip: str, number: str, *, net: str, account: str, split: bool = False) -> bytes:
    """A purchase invoice as its seller stores it in KSeF: due in 14 days, paid by transfer to ``account``."""
    xml = services_invoices.fa3_build(
        seller_nip=ACTIVE_NIP, buyer_nip=buyer_nip, number=number, issue_date=ISSUE, net=Decimal(net)
    )
    due = ISSUE + dt.timedelta(days=14)
    payment = (
        f"<Platnosc><TerminPlatnosci><Termin>{due:%Y-%m-%d}</Termin></TerminPlatnosci>"
        f"<FormaPlatnosci>6</FormaPlatnosci><RachunekBankowy><NrRB>{account}</NrRB></RachunekBankowy></Platnosc>"
    ).encode()
    xml = xml.replace(b"</FaWiersz>", b"</FaWiersz>" + payment, 1)
    if split:
        xml = xml.replace(b"<P_18A>2</P_18A>", b"<P_18A>1</P_18A>")
    return xml


def _uuids(*invoices: Invoice) -> list[str]:
    return [str(invoice.uuid) for invoice in invoices]


def _status(invoice: Invoice) -> str:
    entry = PurchaseEntry.objects.filter(invoice=invoice).first()
    return entry.status if entry else PurchaseStatus.NEW


def test_import_accept_reject_whitelist_pay_and_statement(
    connected: KsefConnection, alice_client: Any, company_a: Company
) -> None:
    nip = company_a.nip
    xmls = {
        "FZ/1": seller_xml(nip, "FZ/1", net="1000.00", account=ON_LIST),
        "FZ/2": seller_xml(nip, "FZ/2", net="20000.00", account=ON_LIST, split=True),  # MPP, above 15,000
        "FZ/3": seller_xml(nip, "FZ/3", net="400.00", account=ON_LIST),
        "FZ/4": seller_xml(nip, "FZ/4", net="16000.00", account=FOREIGN_ACCOUNT),  # not on the list
    }
    for xml in xmls.values():
        services_invoices.invoice_store_incoming(xml_bytes=xml)
    assert company_import(company_id=company_a.pk).status == "succeeded"
    by_number = {i.number: i for i in Invoice.objects.filter(company=company_a)}
    one, two, three, four = (by_number[n] for n in ("FZ/1", "FZ/2", "FZ/3", "FZ/4"))
    assert two.split_payment
    assert two.bank_account == ON_LIST
    assert two.due_date == dt.date(2026, 12, 4)

    page = alice_client.get(reverse("payments:inbox")).content.decode()
    assert all(f'data-number="{n}"' in page for n in xmls)
    assert page.count("inbox-row--unread") == 4  # nobody has opened them
    assert page.count("purchase-status--new") == 4  # no entry rows exist yet: "nowa" by default
    assert not PurchaseEntry.objects.exists()

    action = reverse("payments:inbox_action")
    alice_client.post(action, {"invoice": _uuids(one, two, four), "action": "accept"})
    alice_client.post(
        action, {"invoice": _uuids(three), "action": "reject", "reject_reason": "nie dotyczy nas"}
    )
    assert [_status(i) for i in (one, two, three, four)] == ["accepted", "accepted", "rejected", "accepted"]
    rejected = PurchaseEvent.objects.select_related("user").get(invoice=three)
    assert rejected.user is not None
    assert (rejected.status, rejected.text, rejected.user.email) == (
        "rejected",
        "nie dotyczy nas",
        "alice@example.com",
    )
    page = alice_client.get(reverse("payments:inbox")).content.decode()
    assert 'data-number="FZ/3"' not in page  # hidden by default, but kept
    page = alice_client.get(reverse("payments:inbox") + "?status=rejected").content.decode()
    assert 'data-number="FZ/3"' in page
    assert "nie dotyczy nas" in page
    assert 'data-number="FZ/1"' not in page

    # The white list: FZ/2's account is on it, FZ/4's is not.
    for invoice in (two, four):
        alice_client.post(reverse("payments:whitelist_check", kwargs={"invoice_uuid": invoice.uuid}))

    pay = reverse("payments:pay")
    form = alice_client.post(pay, {"invoice": _uuids(one, two, four)}).content.decode()
    assert 'id="pay-blocked"' in form
    assert "FZ/4" in form.split('id="pay-blocked"')[1].split("</div>")[0]
    assert "FZ/4" not in form.split('id="pay-invoices"')[1].split("</table>")[0]
    today = timezone.localdate()
    response = alice_client.post(
        pay,
        {
            "invoice": _uuids(one, two, four),
            "confirm": "1",
            "payer_account": f"PL{PAYER_NRB}",
            "execution_date": today.isoformat(),
            "file_format": "pain001",
        },
    )
    assert response.status_code == 302, _problems(response.content.decode())
    payment_file = PaymentFile.objects.get()
    assert response["Location"] == reverse("payments:file", kwargs={"file_uuid": payment_file.uuid})
    assert [_status(i) for i in (one, two, four)] == ["in_file", "in_file", "accepted"]  # FZ/4 left out

    download = alice_client.get(reverse("payments:file_download", kwargs={"file_uuid": payment_file.uuid}))
    assert download["Content-Disposition"] == f'attachment; filename="{payment_file.filename}"'
    transfers.pain001_validate(download.content)  # the official XSD
    orders = {o.remittance: o for o in transfers.pain001_parse(download.content)}
    assert len(orders) == 2
    plain = orders[one.ksef_number or ""]  # the KSeF number is the whole title
    assert (plain.amount, plain.payee_nrb, plain.payer_nrb) == (123000, ON_LIST, PAYER_NRB)
    (mpp_order,) = (o for o in orders.values() if o.split_payment)
    mpp = mpp_title_parse(mpp_order.remittance)
    assert (mpp.vat, mpp.seller_nip, mpp.invoice) == (460000, ACTIVE_NIP, two.ksef_number)
    assert mpp_order.amount == 2460000

    booked = today
    statement = mt940_for(list(orders.values()), booked=booked, references=["BR1", "BR2"])
    report = alice_client.post(reverse("payments:statement"), {"statement": _upload(statement)})
    assert report.status_code == 200
    html = report.content.decode()
    assert html.count("statement-row--paid") == 2
    assert html.count("statement-row--unmatched") == 1  # the incoming payment
    for invoice in (one, two):
        entry = PurchaseEntry.objects.get(invoice=invoice)
        assert entry.status == PurchaseStatus.PAID
        assert entry.paid_on == booked
        assert entry.paid_reference in ("BR1", "BR2")
    # The same statement again changes nothing and says they were paid before.
    again = alice_client.post(
        reverse("payments:statement"), {"statement": _upload(statement)}
    ).content.decode()
    assert again.count("statement-row--already_paid") == 2

    # The owner allows paying FZ/4 anyway; then it goes into an Elixir-O file.
    override = reverse("payments:whitelist_override", kwargs={"invoice_uuid": four.uuid})
    alice_client.post(override, {"reason": "Rachunek potwierdzony telefonicznie u dostawcy"})
    response = alice_client.post(
        pay,
        {
            "invoice": _uuids(four),
            "confirm": "1",
            "payer_account": OWN_ACCOUNT,
            "execution_date": today.isoformat(),
            "file_format": "elixir",
        },
    )
    assert response.status_code == 302, _problems(response.content.decode())
    elixir = PaymentFile.objects.get(format="elixir")
    (record,) = transfers.elixir_parse(bytes(elixir.content))
    assert record.title == four.ksef_number
    assert record.payee_nrb == FOREIGN_ACCOUNT
    assert _status(four) == "in_file"


def _upload(data: bytes) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("wyciag.sta", data, content_type="application/octet-stream")


def _problems(html: str) -> str:
    return (
        html.split('id="pay-problems"')[1].split("</div>")[0] if 'id="pay-problems"' in html else html[-3000:]
    )

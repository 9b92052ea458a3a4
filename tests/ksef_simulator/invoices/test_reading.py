"""Reading: metadata queries with every filter, paging and the HWM; downloading one invoice."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from ksef_simulator import invoice_queries, processing
from ksef_simulator.api.common_invoices import parse_datetime
from ksef_simulator.models import SimInvoice
from ksef_simulator.services_invoices import InvoiceRejected, invoice_store_incoming, invoices_generate
from tests.ksef_simulator.invoices import fa3
from tests.ksef_simulator.invoices.conftest import HWM_LAG, STORAGE_LAG, Clock, Ksef, sha
from tests.ksef_simulator.invoices.openapi import assert_valid
from tests.ksef_simulator.invoices.test_online import assert_error


def query(party: Ksef, filters: dict[str, Any], params: str = "") -> dict[str, Any]:
    response = party.post(f"/invoices/query/metadata{params}", filters, schema="InvoiceQueryFilters")
    assert response.status_code == 200, response.content
    assert_valid("QueryInvoicesMetadataResponse", response.json())
    return dict(response.json())


def window(clock: Clock, date_type: str = "PermanentStorage", **extra: Any) -> dict[str, Any]:
    return {"dateType": date_type, "from": (clock.now - dt.timedelta(days=1)).isoformat(), **extra}


def test_buyer_sees_a_sent_invoice_after_permanent_storage(seller: Ksef, buyer: Ksef, clock: Clock) -> None:
    xml = fa3.invoice(
        seller=seller.nip, buyer=buyer.nip, number=fa3.number(), net="200.00", vat="46.00", gross="246.00"
    )
    session = seller.open_online()
    reference = seller.send_ok(session, xml)
    filters = {"subjectType": "Subject2", "dateRange": window(clock)}
    assert query(buyer, filters)["invoices"] == []
    clock.advance()
    ksef_number = seller.invoice_status(session, reference)["ksefNumber"]
    found = query(buyer, filters)
    assert [i["ksefNumber"] for i in found["invoices"]] == [ksef_number]
    meta = found["invoices"][0]
    assert meta["seller"]["nip"] == seller.nip
    assert meta["buyer"]["identifier"] == {"type": "Nip", "value": buyer.nip}
    assert (meta["netAmount"], meta["vatAmount"], meta["grossAmount"]) == (200, 46, 246)
    assert meta["invoiceHash"] == sha(xml)
    assert meta["invoiceType"] == "Vat"
    assert meta["formCode"] == {"systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA"}
    assert found["permanentStorageHwmDate"] is not None
    assert (
        query(seller, {"subjectType": "Subject1", "dateRange": window(clock)})["invoices"][0]["ksefNumber"]
        == ksef_number
    )
    assert query(seller, {"subjectType": "Subject2", "dateRange": window(clock)})["invoices"] == []

    downloaded = buyer.get(f"/invoices/ksef/{ksef_number}")
    assert downloaded.status_code == 200
    assert downloaded.content == xml
    assert downloaded["x-ms-meta-hash"] == sha(xml)


def day(moment: dt.datetime) -> dt.date:
    """The Warsaw day of an acquisition moment: a stored invoice's P_1 is not later (ksef-api.md §12.3)."""
    return processing.warsaw_date(moment)


def test_download_before_storage_is_21165_and_strangers_get_21164(
    client: Client, buyer: Ksef, clock: Clock
) -> None:
    seller_nip = fa3.nip()
    ksef_number = invoice_store_incoming(
        xml_bytes=fa3.invoice(seller=seller_nip, buyer=buyer.nip, number=fa3.number()), acquisition=clock.now
    )
    assert_error(buyer.get(f"/invoices/ksef/{ksef_number}"), 21165)
    clock.advance(STORAGE_LAG * 2)
    assert buyer.get(f"/invoices/ksef/{ksef_number}").status_code == 200
    stranger = Ksef(client=client, nip=fa3.nip(), permissions=["InvoiceRead"])
    assert_error(stranger.get(f"/invoices/ksef/{ksef_number}"), 21164)
    writer = Ksef(client=client, nip=buyer.nip, permissions=["InvoiceWrite"])
    assert writer.get(f"/invoices/ksef/{ksef_number}").status_code == 403


def test_third_party_and_filters(buyer: Ksef, client: Client, clock: Clock) -> None:
    third = Ksef(client=client, nip=fa3.nip(), permissions=["InvoiceRead"])
    seller_a, seller_b = fa3.nip(), fa3.nip()
    when = clock.now - dt.timedelta(hours=1)
    plain = invoice_store_incoming(
        xml_bytes=fa3.invoice(seller=seller_a, buyer=buyer.nip, number="A/1", issue=day(when)),
        acquisition=when,
    )
    euro = invoice_store_incoming(
        xml_bytes=fa3.invoice(
            seller=seller_b,
            buyer=buyer.nip,
            number="B/1",
            currency="EUR",
            net="1000.00",
            vat="230.00",
            gross="1230.00",
            kind="ZAL",
            issue=day(when),
        ),
        acquisition=when,
    )
    with_third = invoice_store_incoming(
        xml_bytes=fa3.invoice(
            seller=seller_b, buyer=buyer.nip, number="B/2", third=third.nip, issue=day(when)
        ),
        acquisition=when,
    )

    def numbers(**filters: Any) -> set[str]:
        body = {"subjectType": "Subject2", "dateRange": window(clock), **filters}
        return {i["ksefNumber"] for i in query(buyer, body)["invoices"]}

    assert numbers() == {plain, euro, with_third}
    assert numbers(sellerNip=seller_b) == {euro, with_third}
    assert numbers(currencyCodes=["EUR"]) == {euro}
    assert numbers(invoiceTypes=["Zal"]) == {euro}
    assert numbers(invoiceNumber="A/1") == {plain}
    assert numbers(ksefNumber=plain) == {plain}
    assert numbers(amount={"type": "Brutto", "from": 1000}) == {euro}
    assert numbers(amount={"type": "Netto", "to": 100.0}) == {plain, with_third}
    assert numbers(amount={"type": "Vat", "from": 200, "to": 300}) == {euro}
    assert numbers(buyerIdentifier={"type": "Nip", "value": buyer.nip}) == {plain, euro, with_third}
    assert numbers(buyerIdentifier={"type": "None"}) == set()
    assert numbers(invoicingMode="Online") == {plain, euro, with_third}
    assert numbers(invoicingMode="Offline") == set()
    assert numbers(isSelfInvoicing=False, hasAttachment=False, formType="FA") == {plain, euro, with_third}
    assert numbers(formType="PEF") == set()
    third_view = query(third, {"subjectType": "Subject3", "dateRange": window(clock)})["invoices"]
    assert [i["ksefNumber"] for i in third_view] == [with_third]
    assert third_view[0]["thirdSubjects"][0]["identifier"] == {"type": "Nip", "value": third.nip}
    assert third.get(f"/invoices/ksef/{with_third}").status_code == 200


def test_paging_is_by_page_index_and_sorting(buyer: Ksef, clock: Clock) -> None:
    base = clock.now - dt.timedelta(hours=5)
    stored = [
        invoice_store_incoming(
            xml_bytes=fa3.invoice(seller=fa3.nip(), buyer=buyer.nip, number=f"P/{i}", issue=day(base)),
            acquisition=base + dt.timedelta(minutes=i),
        )
        for i in range(12)
    ]
    filters = {"subjectType": "Subject2", "dateRange": window(clock)}
    first = query(buyer, filters, "?pageSize=10&pageOffset=0")
    second = query(buyer, filters, "?pageSize=10&pageOffset=1")
    assert (first["hasMore"], first["isTruncated"]) == (True, False)
    assert (second["hasMore"], second["isTruncated"]) == (False, False)
    assert [i["ksefNumber"] for i in first["invoices"] + second["invoices"]] == stored
    descending = query(buyer, filters, "?pageSize=10&sortOrder=Desc")
    assert [i["ksefNumber"] for i in descending["invoices"]] == stored[::-1][:10]
    assert_error(buyer.post("/invoices/query/metadata?pageSize=5", filters), 21405)
    assert_error(buyer.post("/invoices/query/metadata?sortOrder=Up", filters), 21405)


def test_truncation_at_the_cap(buyer: Ksef, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(invoice_queries, "MAX_RESULTS", 15)
    base = clock.now - dt.timedelta(hours=5)
    for i in range(20):
        invoice_store_incoming(
            xml_bytes=fa3.invoice(seller=fa3.nip(), buyer=buyer.nip, number=f"T/{i}", issue=day(base)),
            acquisition=base + dt.timedelta(minutes=i),
        )
    filters = {"subjectType": "Subject2", "dateRange": window(clock)}
    second = query(buyer, filters, "?pageSize=10&pageOffset=1")
    assert len(second["invoices"]) == 5
    assert (second["hasMore"], second["isTruncated"]) == (True, True)


def test_hwm_restriction_and_21183(buyer: Ksef, clock: Clock) -> None:
    recent = invoice_store_incoming(
        xml_bytes=fa3.invoice(
            seller=fa3.nip(), buyer=buyer.nip, number=fa3.number(), issue=day(clock.now - STORAGE_LAG)
        ),
        acquisition=clock.now - STORAGE_LAG,
    )
    older = invoice_store_incoming(
        xml_bytes=fa3.invoice(
            seller=fa3.nip(),
            buyer=buyer.nip,
            number=fa3.number(),
            issue=day(clock.now - dt.timedelta(minutes=5)),
        ),
        acquisition=clock.now - dt.timedelta(minutes=5),
    )
    restricted = {
        "subjectType": "Subject2",
        "dateRange": window(clock, restrictToPermanentStorageHwmDate=True),
    }
    body = query(buyer, restricted)
    assert [i["ksefNumber"] for i in body["invoices"]] == [older]
    hwm = dt.datetime.fromisoformat(body["permanentStorageHwmDate"])
    assert abs((clock.now - HWM_LAG) - hwm) < dt.timedelta(seconds=1)
    unrestricted = {"subjectType": "Subject2", "dateRange": window(clock)}
    assert {i["ksefNumber"] for i in query(buyer, unrestricted)["invoices"]} == {older, recent}
    beyond = {
        "subjectType": "Subject2",
        "dateRange": {
            "dateType": "PermanentStorage",
            "from": clock.now.isoformat(),
            "restrictToPermanentStorageHwmDate": True,
        },
    }
    assert_error(buyer.post("/invoices/query/metadata", beyond), 21183)
    assert (
        query(buyer, {"subjectType": "Subject2", "dateRange": window(clock, "Invoicing")})[
            "permanentStorageHwmDate"
        ]
        is None
    )


def test_date_types(buyer: Ksef, clock: Clock) -> None:
    issued = dt.date(2026, 3, 10)
    accepted = dt.datetime(2026, 3, 12, 22, 30, tzinfo=dt.UTC)  # 23:30 in Warsaw, still 12 March
    number = invoice_store_incoming(
        xml_bytes=fa3.invoice(seller=fa3.nip(), buyer=buyer.nip, number=fa3.number(), issue=issued),
        acquisition=accepted,
    )

    def found(date_type: str, start: str, end: str) -> bool:
        body = {"subjectType": "Subject2", "dateRange": {"dateType": date_type, "from": start, "to": end}}
        return number in {i["ksefNumber"] for i in query(buyer, body)["invoices"]}

    assert found("Issue", "2026-03-10T00:00:00+01:00", "2026-03-10T23:59:59+01:00")
    assert not found("Issue", "2026-03-11T00:00:00+01:00", "2026-03-12T00:00:00+01:00")
    assert found("Invoicing", "2026-03-12T23:00:00+01:00", "2026-03-12T23:59:00+01:00")
    assert not found("Invoicing", "2026-03-12T23:00:00Z", "2026-03-12T23:59:00Z")
    assert found("PermanentStorage", "2026-03-12T22:30:00Z", "2026-03-12T22:31:00Z")
    meta = query(
        buyer,
        {
            "subjectType": "Subject2",
            "dateRange": {"dateType": "Issue", "from": "2026-03-01T00:00:00Z", "to": "2026-03-31T00:00:00Z"},
        },
    )
    assert meta["invoices"][0]["invoicingMode"] == "Offline"  # P_1 two days before acceptance


def test_dates_without_offset_are_warsaw_time() -> None:
    # Sent over HTTP such a date would break the recorded contract (format date-time), but KSeF takes it.
    winter = parse_datetime("2026-01-10T12:00:00", "from")
    summer = parse_datetime("2026-07-10T12:00:00", "from")
    assert (winter.hour, summer.hour) == (11, 10)
    assert parse_datetime("2026-01-10T12:00:00Z", "from").hour == 12


def test_window_over_100_days_is_rejected(buyer: Ksef, clock: Clock) -> None:
    body = {
        "subjectType": "Subject2",
        "dateRange": {"dateType": "Issue", "from": "2026-01-01T00:00:00Z", "to": "2026-04-15T00:00:00Z"},
    }
    assert_error(buyer.post("/invoices/query/metadata", body), 21405)
    assert_error(buyer.post("/invoices/query/metadata", {"dateRange": body["dateRange"]}), 21405)


def test_generated_invoices_are_valid_and_spread(buyer: Ksef, clock: Clock) -> None:
    start = processing.warsaw_date(clock.now) - dt.timedelta(days=20)
    numbers = invoices_generate(
        buyer_nip=buyer.nip,
        count=30,
        date_from=start,
        date_to=start + dt.timedelta(days=10),
        sellers=5,
        seed=7,
    )
    assert len(set(numbers)) == 30
    clock.advance(STORAGE_LAG + HWM_LAG + dt.timedelta(seconds=5))  # KSeF took them now: let it process them
    body = {"subjectType": "Subject2", "dateRange": {"dateType": "Issue", "from": f"{start}T00:00:00+00:00"}}
    listed = query(buyer, body, "?pageSize=50")["invoices"]
    assert len(listed) == 30
    assert 1 < len({i["seller"]["nip"] for i in listed}) <= 5
    assert len({i["issueDate"] for i in listed}) > 3


def test_store_incoming_refuses_invalid_and_duplicate_files(clock: Clock) -> None:
    xml = fa3.invoice(seller=fa3.nip(), buyer=fa3.nip(), number=fa3.number())
    invoice_store_incoming(xml_bytes=xml)
    with pytest.raises(InvoiceRejected) as duplicate:
        invoice_store_incoming(xml_bytes=xml)
    assert duplicate.value.status == 440
    with pytest.raises(InvoiceRejected) as invalid:
        invoice_store_incoming(xml_bytes=xml.replace(b"<P_2>", b"<P_2x/><P_2>"))
    assert invalid.value.status == 450


def test_generated_invoices_are_stored_when_generated_whatever_their_issue_day(
    buyer: Ksef, clock: Clock
) -> None:
    """At 21:40 Warsaw time, invoices issued today and earlier are acquired and stored from now on: KSeF never
    stores an invoice in the past, where an import that already passed that moment would never see it."""
    warsaw_evening = dt.datetime.combine(
        processing.warsaw_date(clock.now), dt.time(21, 40), tzinfo=processing.WARSAW
    ).astimezone(dt.UTC)
    clock.now = warsaw_evening
    start = processing.warsaw_date(clock.now) - dt.timedelta(days=3)
    numbers = invoices_generate(
        buyer_nip=buyer.nip, count=20, date_from=start, date_to=start + dt.timedelta(days=3), seed=3
    )
    stored = SimInvoice.objects.filter(ksef_number__in=numbers)
    assert stored.count() == 20
    assert all(invoice.received_at >= warsaw_evening for invoice in stored)
    assert all(
        invoice.permanent_storage_date >= warsaw_evening
        for invoice in stored
        if invoice.permanent_storage_date
    )
    assert all(
        (invoice.ksef_number or "").split("-")[1] == f"{processing.warsaw_date(warsaw_evening):%Y%m%d}"
        for invoice in stored
    )

"""Collective identifiers and entity authorizations over plain HTTP, with request bodies checked against
the spec's schemas (issue 23): which invoices may share one identifier, who sees what, the limits; and an
invoice sent for another seller goes through only with that seller's authorization (SelfInvoicing)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.test import Client

from ksef_simulator import ids
from ksef_simulator.conf import config_update
from ksef_simulator.limits import limits_override
from ksef_simulator.services_collective import MAX_PER_INVOICE
from ksef_simulator.services_invoices import invoice_store_incoming
from tests.ksef_simulator.core.spec import assert_response_matches
from tests.ksef_simulator.invoices import fa3
from tests.ksef_simulator.invoices.conftest import Clock, Ksef

READER = ["InvoiceRead"]


def stored(seller: str, buyer: str) -> str:
    return invoice_store_incoming(xml_bytes=fa3.invoice(seller=seller, buyer=buyer, number=fa3.number()))


def generate(who: Ksef, numbers: list[str], **extra: Any) -> Any:
    """The request as the spec describes it (checked against its schema unless it is meant to be invalid)."""
    body = {"invoices": [{"ksefNumber": n, **extra} for n in numbers]}
    schema = "GenerateCollectiveIdentifierRequest" if len(numbers) >= 2 else None
    return who.post("/collective-identifiers", body, schema=schema)


def code(response: Any) -> int:
    assert response.status_code == 400, response.content
    return int(response.json()["exception"]["exceptionDetailList"][0]["exceptionCode"])


def test_one_identifier_for_invoices_of_one_seller_the_context_may_see(client: Client, clock: Clock) -> None:
    seller, other, buyer = fa3.nip(), fa3.nip(), Ksef(client=client, nip=fa3.nip(), permissions=READER)
    first, second = stored(seller, buyer.nip), stored(seller, buyer.nip)
    elsewhere = stored(other, buyer.nip)
    not_mine = stored(seller, fa3.nip())

    made = generate(
        buyer, [first, second], payment={"amount": 123.5, "currency": "PLN"}, description="Za maj"
    )
    assert made.status_code == 201, made.content
    number = assert_response_matches(made, "POST", "/collective-identifiers")["collectiveIdentifierNumber"]
    assert ids.collective_identifier_is_valid(number)
    assert number.startswith(f"{seller}-IZ{clock.now:%Y%m}-")

    assert code(generate(buyer, [first, first])) == 71005
    assert code(generate(buyer, [first, elsewhere])) == 71004
    assert code(generate(buyer, [first, not_mine])) == 71001  # the buyer is no party to it
    assert code(generate(buyer, [first, ids.ksef_number(seller, dt.date(2026, 3, 1))])) == 71001
    assert code(generate(buyer, [first])) == 21405  # at least two invoices
    limits_override(
        kind="session",
        context_type="Nip",
        context_value=buyer.nip,
        values={"collectiveIdentifier": {"maxInvoices": 2}},
    )
    assert code(generate(buyer, [first, second, stored(seller, buyer.nip)])) == 21405
    no_rights = Ksef(client=client, nip=buyer.nip, permissions=["Introspection"])
    assert generate(no_rights, [first, second]).status_code == 403


def test_who_sees_an_identifier_and_its_details(client: Client, clock: Clock) -> None:
    seller = Ksef(client=client, nip=fa3.nip(), permissions=READER)
    buyer = Ksef(client=client, nip=fa3.nip(), permissions=["CollectiveIdentifierManage"])
    stranger = Ksef(client=client, nip=fa3.nip(), permissions=READER)
    first, second = stored(seller.nip, buyer.nip), stored(seller.nip, buyer.nip)
    number = generate(buyer, [first, second], payment={"amount": 100, "currency": "PLN"}).json()[
        "collectiveIdentifierNumber"
    ]
    window = {
        "dateCreatedFrom": (clock.now - dt.timedelta(days=1)).isoformat(),
        "dateCreatedTo": (clock.now + dt.timedelta(days=1)).isoformat(),
    }

    def listed(who: Ksef, body: dict[str, Any]) -> list[tuple[str, bool]]:
        response = who.post("/collective-identifiers/query", body, schema="CollectiveIdentifiersQueryRequest")
        found = assert_response_matches(response, "POST", "/collective-identifiers/query")
        return [
            (i["collectiveIdentifierNumber"], i["createdInCurrentContext"])
            for i in found["collectiveIdentifiers"]
        ]

    assert listed(buyer, window) == [(number, True)]
    assert listed(seller, window) == [(number, False)]  # its own sales
    assert listed(stranger, window) == []
    assert listed(buyer, {**window, "createdInCurrentContext": False}) == []
    assert listed(buyer, {**window, "invoiceCountFrom": 3}) == []
    too_long = {**window, "dateCreatedFrom": (clock.now - dt.timedelta(days=101)).isoformat()}
    assert code(buyer.post("/collective-identifiers/query", too_long)) == 21405
    backwards = {"dateCreatedFrom": window["dateCreatedTo"], "dateCreatedTo": window["dateCreatedFrom"]}
    assert code(buyer.post("/collective-identifiers/query", backwards)) == 21405

    def invoices(who: Ksef) -> set[tuple[str, bool, bool]]:
        body = {"collectiveIdentifierNumbers": [number]}
        response = who.post(
            "/collective-identifiers/invoices", body, schema="CollectiveIdentifierInvoicesQueryRequest"
        )
        found = assert_response_matches(response, "POST", "/collective-identifiers/invoices")
        return {(i["ksefNumber"], i["detailsHidden"], "payment" in i) for i in found["invoices"]}

    assert invoices(buyer) == {(first, False, True), (second, False, True)}
    assert invoices(seller) == {(first, False, True), (second, False, True)}  # a party to both
    assert invoices(stranger) == {(first, True, False), (second, True, False)}
    malformed = {
        "collectiveIdentifierNumbers": [number[:-2] + "00" if number[-2:] != "00" else number[:-2] + "01"]
    }
    assert code(buyer.post("/collective-identifiers/invoices", malformed)) == 21405

    def by_invoice(who: Ksef) -> list[str]:
        response = who.get(f"/collective-identifiers/ksef/{first}")
        found = assert_response_matches(response, "GET", "/collective-identifiers/ksef/{ksefNumber}")
        return [i["collectiveIdentifierNumber"] for i in found["collectiveIdentifiers"]]

    assert by_invoice(buyer) == by_invoice(seller) == [number]
    assert by_invoice(stranger) == []


def test_an_invoice_belongs_to_at_most_132_identifiers_of_one_context_listed_page_by_page(
    client: Client, clock: Clock
) -> None:
    buyer = Ksef(client=client, nip=fa3.nip(), permissions=READER)
    seller = fa3.nip()
    first = stored(seller, buyer.nip)
    made = []
    for _ in range(MAX_PER_INVOICE):
        response = generate(buyer, [first, stored(seller, buyer.nip)])
        assert response.status_code == 201, response.content
        made.append(response.json()["collectiveIdentifierNumber"])
    assert code(generate(buyer, [first, stored(seller, buyer.nip)])) == 71002
    # Another context (the seller) may still use the invoice; the buyer, a party to it, sees that one too.
    theirs = generate(Ksef(client=client, nip=seller, permissions=READER), [first, stored(seller, buyer.nip)])
    assert theirs.status_code == 201
    made.append(theirs.json()["collectiveIdentifierNumber"])

    seen: list[str] = []
    token = None
    while True:
        headers: dict[str, str] = {"HTTP_X_CONTINUATION_TOKEN": token} if token else {}
        response = buyer.get(f"/collective-identifiers/ksef/{first}?pageSize=50", **headers)
        page = assert_response_matches(response, "GET", "/collective-identifiers/ksef/{ksefNumber}")
        seen += [i["collectiveIdentifierNumber"] for i in page["collectiveIdentifiers"]]
        token = page.get("continuationToken")
        if not token:
            break
    assert sorted(seen) == sorted(made)
    assert len(seen) == len(set(seen))


def self_invoice(seller: str, buyer: str) -> bytes:
    """An invoice the buyer issues on the seller's behalf: Podmiot1 is the seller, P_17 (self-billing) = 1."""
    xml = fa3.invoice(seller=seller, buyer=buyer, number=fa3.number())
    return xml.replace(b"<P_17>2</P_17>", b"<P_17>1</P_17>")


def test_self_invoicing_goes_through_only_with_the_sellers_authorization(
    client: Client, clock: Clock
) -> None:
    config_update(permission_operation_delay=dt.timedelta(0))
    seller = Ksef(client=client, nip=fa3.nip(), permissions=["CredentialsManage", "CredentialsRead"])
    buyer = Ksef(client=client, nip=fa3.nip(), permissions=["InvoiceWrite", "CredentialsRead"])

    def sent() -> int:
        session = buyer.open_online()
        invoice = buyer.send_ok(session, self_invoice(seller.nip, buyer.nip))
        clock.advance()
        return int(buyer.invoice_status(session, invoice)["status"]["code"])

    assert sent() == 410
    body = {
        "subjectIdentifier": {"type": "Nip", "value": buyer.nip},
        "permission": "SelfInvoicing",
        "description": "Samofakturowanie przez nabywcę",
        "subjectDetails": {"fullName": "Nabywca Sp. z o.o."},
    }
    response = seller.post(
        "/permissions/authorizations/grants", body, schema="EntityAuthorizationPermissionsGrantRequest"
    )
    assert response.status_code == 202, response.content
    assert sent() == 200
    received = buyer.post("/permissions/query/authorizations/grants", {"queryType": "Received"})
    (grant,) = assert_response_matches(received, "POST", "/permissions/query/authorizations/grants")[
        "authorizationGrants"
    ]
    # The common revocation does not take entity authorizations; their own DELETE does.
    assert (
        code(client.delete(f"/ksef-sim/v2/permissions/common/grants/{grant['id']}", headers=seller.auth))
        == 21405
    )
    revoked = client.delete(
        f"/ksef-sim/v2/permissions/authorizations/grants/{grant['id']}", headers=seller.auth
    )
    assert revoked.status_code == 202
    assert sent() == 410
    # An authorization is given to another entity, never to the context itself, and PefInvoicing only to a
    # Peppol provider: the operation ends with 450.
    for subject, permission in (
        ({"type": "Nip", "value": seller.nip}, "SelfInvoicing"),
        ({"type": "Nip", "value": buyer.nip}, "PefInvoicing"),
    ):
        refused = seller.post(
            "/permissions/authorizations/grants",
            {**body, "subjectIdentifier": subject, "permission": permission},
        )
        reference = refused.json()["referenceNumber"]
        status = seller.get(f"/permissions/operations/{reference}").json()["status"]
        assert status["code"] == 450, status

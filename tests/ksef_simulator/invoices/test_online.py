"""Online sessions: open, send, lazy processing, close, statuses, lists and UPO."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from django.test import Client
from lxml import etree
from signxml.xades import XAdESSignatureConfiguration, XAdESVerifier

from ksef_simulator import ids, processing
from ksef_simulator.limits import limits_override
from ksef_simulator.models import SimGrant
from tests.ksef_simulator.invoices import fa3
from tests.ksef_simulator.invoices.conftest import DELAY, Clock, Ksef, aes, sha
from tests.ksef_simulator.invoices.openapi import assert_valid
from tests.official import UPO_XSD

DS = "http://www.w3.org/2000/09/xmldsig#"

UPO_NS = {"u": "http://upo.schematy.mf.gov.pl/KSeF/v4-3"}


def error_code(response: Any) -> int:
    return int(response.json()["exception"]["exceptionDetailList"][0]["exceptionCode"])


def assert_error(response: Any, code: int) -> None:
    assert response.status_code == 400, response.content
    assert_valid("ExceptionResponse", response.json())
    assert error_code(response) == code, response.json()


def download(client: Client, url: str) -> Any:
    parts = urlsplit(url)
    return client.get(f"{parts.path}?{parts.query}")


def upo_is_valid(xml: bytes) -> etree._Element:
    """The UPO carries a valid enveloped XAdES signature of the simulator's seal and, without it, is valid
    against the official XSD (which describes the document without the signature)."""
    document = etree.fromstring(xml)
    signature = document.find(f"{{{DS}}}Signature")
    assert signature is not None
    assert signature is document[-1]
    certificate = x509.load_der_x509_certificate(
        base64.b64decode(signature.findtext(f".//{{{DS}}}X509Certificate") or "")
    )
    assert "Ministerstwo Finansów" in certificate.subject.rfc4514_string()
    XAdESVerifier().verify(xml, x509_cert=certificate, expect_config=XAdESSignatureConfiguration())
    document.remove(signature)
    schema = etree.XMLSchema(etree.parse(str(UPO_XSD)))
    assert schema.validate(document), schema.error_log
    return document


def test_invoice_goes_100_150_200_and_session_ends_with_a_valid_upo(seller: Ksef, clock: Clock) -> None:
    buyer_nip = fa3.nip()
    xml = fa3.invoice(seller=seller.nip, buyer=buyer_nip, number=fa3.number())
    session = seller.open_online()
    invoice = seller.send_ok(session, xml)

    first = seller.invoice_status(session, invoice)
    assert first["status"]["code"] == 100
    assert first["invoiceHash"] == sha(xml)
    assert "ksefNumber" not in first
    clock.advance(DELAY * 0.6)
    assert seller.invoice_status(session, invoice)["status"]["code"] == 150
    clock.advance(DELAY)
    done = seller.invoice_status(session, invoice)
    assert done["status"] == {"code": 200, "description": "Sukces"}
    assert ids.ksef_number_is_valid(done["ksefNumber"])
    assert done["ksefNumber"].startswith(f"{seller.nip}-{processing.warsaw_date(clock.now):%Y%m%d}")
    assert done["invoicingMode"] == "Online"
    assert dt.datetime.fromisoformat(done["acquisitionDate"]) > dt.datetime.fromisoformat(
        done["invoicingDate"]
    )

    upo_response = download(seller.client, done["upoDownloadUrl"])
    assert upo_response.status_code == 200
    assert upo_response["x-ms-meta-hash"] == sha(upo_response.content)
    document = upo_is_valid(upo_response.content)
    assert document.findtext("u:Dokument/u:NumerKSeFDokumentu", namespaces=UPO_NS) == done["ksefNumber"]
    assert document.findtext("u:Dokument/u:SkrotDokumentu", namespaces=UPO_NS) == sha(xml)

    assert seller.session_status(session)["status"]["code"] == 100
    assert seller.post(f"/sessions/online/{session}/close").status_code == 204
    closed = seller.session_status(session)
    assert closed["status"]["code"] == 170
    assert "upo" not in closed
    clock.advance()
    final = seller.session_status(session)
    assert final["status"]["code"] == 200
    assert (final["invoiceCount"], final["successfulInvoiceCount"], final["failedInvoiceCount"]) == (1, 1, 0)
    page = final["upo"]["pages"][0]
    session_upo = download(seller.client, page["downloadUrl"])
    assert session_upo.status_code == 200
    document = upo_is_valid(session_upo.content)
    assert document.findtext("u:NumerReferencyjnySesji", namespaces=UPO_NS) == session
    assert document.findtext("u:OpisPotwierdzenia/u:CalkowitaLiczbaDokumentow", namespaces=UPO_NS) == "1"
    by_reference = seller.get(f"/sessions/{session}/upo/{page['referenceNumber']}")
    assert by_reference.status_code == 200
    assert by_reference.content == session_upo.content
    assert by_reference["x-ms-meta-hash"] == sha(by_reference.content)


def test_invoice_upo_by_reference_and_by_ksef_number(seller: Ksef, clock: Clock) -> None:
    session = seller.open_online()
    invoice = seller.send_ok(session, fa3.invoice(seller=seller.nip, buyer=fa3.nip(), number=fa3.number()))
    early = seller.get(f"/sessions/{session}/invoices/{invoice}/upo")
    assert early.status_code == 400
    assert error_code(early) == 21178
    clock.advance()
    ksef_number = seller.invoice_status(session, invoice)["ksefNumber"]
    by_ref = seller.get(f"/sessions/{session}/invoices/{invoice}/upo")
    by_ksef = seller.get(f"/sessions/{session}/invoices/ksef/{ksef_number}/upo")
    assert by_ref.status_code == by_ksef.status_code == 200
    assert by_ref["Content-Type"] == "application/xml"
    assert by_ref.content == by_ksef.content
    upo_is_valid(by_ref.content)


def test_storage_urls_refuse_tampering_and_expire(seller: Ksef, clock: Clock) -> None:
    session = seller.open_online()
    invoice = seller.send_ok(session, fa3.invoice(seller=seller.nip, buyer=fa3.nip(), number=fa3.number()))
    clock.advance()
    url = seller.invoice_status(session, invoice)["upoDownloadUrl"]
    assert download(seller.client, url).status_code == 200
    assert download(seller.client, url.replace("sig=", "sig=0")).status_code == 403
    other = url.replace(invoice, ids.reference_number("EE"))
    assert download(seller.client, other).status_code == 403
    clock.advance(processing.UPO_URL_LIFETIME * 2)
    assert download(seller.client, url).status_code == 403


def test_public_url_setting_makes_absolute_urls(seller: Ksef, clock: Clock, settings: Any) -> None:
    settings.KSEF_SIMULATOR_PUBLIC_URL = "https://sim.example.test/"
    session = seller.open_online()
    invoice = seller.send_ok(session, fa3.invoice(seller=seller.nip, buyer=fa3.nip(), number=fa3.number()))
    clock.advance()
    url = seller.invoice_status(session, invoice)["upoDownloadUrl"]
    assert url.startswith("https://sim.example.test/ksef-sim/storage/upo-invoice/")


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"invoiceSize": 1}, 21402),
        ({"invoiceHash": base64.b64encode(b"x" * 32).decode()}, 21403),
        ({"encryptedInvoiceSize": 17}, 21402),
        ({"encryptedInvoiceHash": base64.b64encode(b"y" * 32).decode()}, 21403),
        ({"invoiceHash": "short"}, 21405),
        ({"encryptedInvoiceContent": "###"}, 21405),
    ],
)
def test_send_checks_sizes_and_hashes_synchronously(
    seller: Ksef, override: dict[str, Any], code: int
) -> None:
    session = seller.open_online()
    response = seller.send(
        session, fa3.invoice(seller=seller.nip, buyer=fa3.nip(), number=fa3.number()), **override
    )
    assert_error(response, code)


def test_problem_details_format_on_request(seller: Ksef) -> None:
    session = seller.open_online()
    body = seller.send_body(
        fa3.invoice(seller=seller.nip, buyer=fa3.nip(), number=fa3.number()), invoiceSize=5
    )
    response = seller.post(
        f"/sessions/online/{session}/invoices", body, HTTP_X_ERROR_FORMAT="problem-details"
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert_valid("BadRequestProblemDetails", response.json())
    assert response.json()["errors"][0]["code"] == 21402


def test_schema_errors_give_450_with_the_validator_message(seller: Ksef, clock: Clock) -> None:
    xml = fa3.invoice(seller=seller.nip, buyer=fa3.nip(), number=fa3.number()).replace(
        b"<P_15>", b"<P_99>1</P_99><P_15>"
    )
    session = seller.open_online()
    invoice = seller.send_ok(session, xml)
    broken = seller.send_ok(session, b"<Faktura><nie-xml")
    clock.advance()
    status = seller.invoice_status(session, invoice)["status"]
    assert status["code"] == 450
    assert "P_99" in status["details"][0]
    assert "Nieprawidłowy XML" in seller.invoice_status(session, broken)["status"]["details"][0]
    failed = seller.get(f"/sessions/{session}/invoices/failed")
    assert failed.status_code == 200
    assert_valid("SessionInvoicesResponse", failed.json())
    assert {i["referenceNumber"] for i in failed.json()["invoices"]} == {invoice, broken}
    seller.post(f"/sessions/online/{session}/close")
    clock.advance()
    final = seller.session_status(session)
    assert final["status"]["code"] == 445
    assert final["failedInvoiceCount"] == 2
    assert "upo" not in final


def test_duplicate_is_440_with_the_original(seller: Ksef, clock: Clock) -> None:
    number = fa3.number()
    first_session = seller.open_online()
    first = seller.send_ok(first_session, fa3.invoice(seller=seller.nip, buyer=fa3.nip(), number=number))
    clock.advance()
    original = seller.invoice_status(first_session, first)["ksefNumber"]
    second_session = seller.open_online()
    again = seller.send_ok(
        second_session, fa3.invoice(seller=seller.nip, buyer=fa3.nip(), number=number, net="1.00")
    )
    other_kind = seller.send_ok(
        second_session, fa3.invoice(seller=seller.nip, buyer=fa3.nip(), number=number, kind="ZAL")
    )
    clock.advance()
    status = seller.invoice_status(second_session, again)["status"]
    assert status["code"] == 440
    assert status["extensions"] == {
        "originalSessionReferenceNumber": first_session,
        "originalKsefNumber": original,
    }
    assert seller.invoice_status(second_session, other_kind)["status"]["code"] == 200


def test_invoice_of_another_seller_is_rejected(seller: Ksef, clock: Clock) -> None:
    session = seller.open_online()
    invoice = seller.send_ok(session, fa3.invoice(seller=fa3.nip(), buyer=seller.nip, number=fa3.number()))
    clock.advance()
    assert seller.invoice_status(session, invoice)["status"]["code"] == 410


def test_issue_date_before_the_invoicing_day_makes_it_offline(seller: Ksef, clock: Clock) -> None:
    yesterday = processing.warsaw_date(clock.now) - dt.timedelta(days=1)
    session = seller.open_online()
    late = seller.send_ok(
        session, fa3.invoice(seller=seller.nip, buyer=fa3.nip(), number=fa3.number(), issue=yesterday)
    )
    declared = seller.send_ok(
        session, fa3.invoice(seller=seller.nip, buyer=fa3.nip(), number=fa3.number()), offlineMode=True
    )
    today = seller.send_ok(session, fa3.invoice(seller=seller.nip, buyer=fa3.nip(), number=fa3.number()))
    clock.advance()
    assert seller.invoice_status(session, late)["invoicingMode"] == "Offline"
    assert seller.invoice_status(session, declared)["invoicingMode"] == "Offline"
    assert seller.invoice_status(session, today)["invoicingMode"] == "Online"


def test_issue_date_after_the_acceptance_day_is_refused_with_450(seller: Ksef, clock: Clock) -> None:
    tomorrow = processing.warsaw_date(clock.now) + dt.timedelta(days=1)
    session = seller.open_online()
    early = seller.send_ok(
        session, fa3.invoice(seller=seller.nip, buyer=fa3.nip(), number=fa3.number(), issue=tomorrow)
    )
    clock.advance()
    status = seller.invoice_status(session, early)["status"]
    assert status["code"] == 450
    assert "P_1" in " ".join(status["details"])
    assert "ksefNumber" not in seller.invoice_status(session, early)


def test_file_that_does_not_decrypt_is_435(seller: Ksef, clock: Clock) -> None:
    session = seller.open_online()
    xml = fa3.invoice(seller=seller.nip, buyer=fa3.nip(), number=fa3.number())
    garbage = aes(seller.key, seller.iv, xml)[:-16] + b"\x00" * 16
    body = seller.send_body(xml)
    body.update(
        encryptedInvoiceContent=base64.b64encode(garbage).decode(),
        encryptedInvoiceHash=sha(garbage),
        encryptedInvoiceSize=len(garbage),
    )
    response = seller.post(f"/sessions/online/{session}/invoices", body)
    assert response.status_code == 202
    clock.advance()
    assert seller.invoice_status(session, response.json()["referenceNumber"])["status"]["code"] == 435


def test_key_that_does_not_decrypt_fails_the_session_with_415(seller: Ksef) -> None:
    encryption = seller.encryption()
    encryption["encryptedSymmetricKey"] = base64.b64encode(b"\x01" * 256).decode()
    body = {
        "formCode": {"systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA"},
        "encryption": encryption,
    }
    response = seller.post("/sessions/online", body)
    assert response.status_code == 201
    session = response.json()["referenceNumber"]
    assert seller.session_status(session)["status"]["code"] == 415
    xml = fa3.invoice(seller=seller.nip, buyer=fa3.nip(), number=fa3.number())
    assert_error(seller.send(session, xml), 21180)


def test_open_rejects_unknown_key_and_unknown_form(seller: Ksef) -> None:
    encryption = seller.encryption()
    encryption["publicKeyId"] = base64.b64encode(b"k" * 32).decode()
    form = {"systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA"}
    assert_error(seller.post("/sessions/online", {"formCode": form, "encryption": encryption}), 21470)
    wrong_form = {"systemCode": "FA (9)", "schemaVersion": "1-0E", "value": "FA"}
    assert_error(
        seller.post("/sessions/online", {"formCode": wrong_form, "encryption": seller.encryption()}), 21405
    )
    assert_error(seller.post("/sessions/online", {"formCode": form}), 21405)


def test_fa2_sessions_open_as_on_test(seller: Ksef) -> None:
    assert ids.reference_number_is_valid(seller.open_online("FA (2)"))


def test_write_permission_is_required(client: Client, clock: Clock) -> None:
    reader = Ksef(client=client, nip=fa3.nip(), permissions=["InvoiceRead"])
    body = {
        "formCode": {"systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA"},
        "encryption": reader.encryption(),
    }
    response = reader.post("/sessions/online", body)
    assert response.status_code == 403
    assert response.json()["reasonCode"] == "missing-permissions"
    assert (
        client.post("/ksef-sim/v2/sessions/online", data="{}", content_type="application/json").status_code
        == 401
    )


def test_closed_session_refuses_invoices_and_a_second_close(seller: Ksef, clock: Clock) -> None:
    session = seller.open_online()
    assert seller.post(f"/sessions/online/{session}/close").status_code == 204
    assert_error(seller.post(f"/sessions/online/{session}/close"), 21180)
    xml = fa3.invoice(seller=seller.nip, buyer=fa3.nip(), number=fa3.number())
    assert_error(seller.send(session, xml), 21180)
    clock.advance()
    final = seller.session_status(session)
    assert final["status"]["code"] == 440
    assert final["status"]["details"] == ["Nie przesłano faktur"]


def test_sessions_of_other_contexts_are_invisible(seller: Ksef, client: Client) -> None:
    session = seller.open_online()
    stranger = Ksef(client=client, nip=fa3.nip(), permissions=["InvoiceWrite"])
    assert_error(stranger.get(f"/sessions/{session}"), 21173)
    xml = fa3.invoice(seller=stranger.nip, buyer=fa3.nip(), number=fa3.number())
    assert_error(stranger.send(session, xml), 21173)


def test_session_closes_itself_after_12_hours(seller: Ksef, clock: Clock) -> None:
    session = seller.open_online()
    seller.send_ok(session, fa3.invoice(seller=seller.nip, buyer=fa3.nip(), number=fa3.number()))
    clock.advance(processing.SESSION_LIFETIME + DELAY * 2)
    assert seller.session_status(session)["status"]["code"] == 200


def test_context_limits_apply_21155_and_size(seller: Ksef) -> None:
    values = {
        "onlineSession": {
            "maxInvoiceSizeInMB": 0.002,
            "maxInvoiceWithAttachmentSizeInMB": 3,
            "maxInvoices": 2,
        }
    }
    limits_override(kind="session", context_type="Nip", context_value=seller.nip, values=values)
    session = seller.open_online()
    padded = fa3.invoice(seller=seller.nip, buyer=fa3.nip(), number=fa3.number()).replace(
        b"testy symulatora", b"x" * 1000
    )
    assert_error(seller.send(session, padded), 21402)
    for _ in range(2):
        seller.send_ok(session, fa3.invoice(seller=seller.nip, buyer=fa3.nip(), number=fa3.number()))
    assert_error(
        seller.send(session, fa3.invoice(seller=seller.nip, buyer=fa3.nip(), number=fa3.number())), 21155
    )


def test_technical_correction(seller: Ksef, clock: Clock) -> None:
    session = seller.open_online()
    number = fa3.number()
    bad = fa3.invoice(seller=seller.nip, buyer=fa3.nip(), number=number).replace(
        b"<P_15>", b"<P_0>1</P_0><P_15>"
    )
    rejected = seller.send_ok(session, bad, offlineMode=True)
    good_xml = fa3.invoice(seller=seller.nip, buyer=fa3.nip(), number=fa3.number())
    accepted = seller.send_ok(session, good_xml)
    clock.advance()
    assert seller.invoice_status(session, rejected)["status"]["code"] == 450
    assert seller.invoice_status(session, accepted)["status"]["code"] == 200

    fixed = fa3.invoice(seller=seller.nip, buyer=fa3.nip(), number=number)
    assert_error(seller.send(session, fixed, offlineMode=True, hashOfCorrectedInvoice=sha(good_xml)), 21167)
    correction = seller.send_ok(session, fixed, offlineMode=True, hashOfCorrectedInvoice=sha(bad))
    again = fa3.invoice(seller=seller.nip, buyer=fa3.nip(), number=number, net="100.0")
    assert_error(seller.send(session, again, offlineMode=True, hashOfCorrectedInvoice=sha(bad)), 21166)
    clock.advance()
    status = seller.invoice_status(session, correction)
    assert status["status"]["code"] == 200
    assert status["invoicingMode"] == "Offline"


def test_session_invoice_list_pages_with_continuation_tokens(seller: Ksef, clock: Clock) -> None:
    session = seller.open_online()
    sent = [
        seller.send_ok(session, fa3.invoice(seller=seller.nip, buyer=fa3.nip(), number=fa3.number()))
        for _ in range(12)
    ]
    first = seller.get(f"/sessions/{session}/invoices?pageSize=10")
    assert first.status_code == 200
    assert_valid("SessionInvoicesResponse", first.json())
    assert [i["ordinalNumber"] for i in first.json()["invoices"]] == list(range(1, 11))
    token = first.json()["continuationToken"]
    second = seller.get(f"/sessions/{session}/invoices?pageSize=10", HTTP_X_CONTINUATION_TOKEN=token)
    assert [i["referenceNumber"] for i in second.json()["invoices"]] == sent[10:]
    assert "continuationToken" not in second.json()
    assert_error(seller.get(f"/sessions/{session}/invoices", HTTP_X_CONTINUATION_TOKEN="%%%"), 21418)
    assert_error(seller.get(f"/sessions/{session}/invoices?pageSize=5"), 21405)


def test_session_list_filters(seller: Ksef, clock: Clock) -> None:
    done = seller.open_online()
    seller.send_ok(done, fa3.invoice(seller=seller.nip, buyer=fa3.nip(), number=fa3.number()))
    seller.post(f"/sessions/online/{done}/close")
    clock.advance()
    open_ones = [seller.open_online() for _ in range(11)]

    def listed(query: str, **headers: Any) -> dict[str, Any]:
        response = seller.get(f"/sessions?{query}", **headers)
        assert response.status_code == 200, response.content
        assert_valid("SessionsQueryResponse", response.json())
        return dict(response.json())

    succeeded = listed("sessionType=Online&statuses=Succeeded")["sessions"]
    assert [s["referenceNumber"] for s in succeeded] == [done]
    assert succeeded[0]["successfulInvoiceCount"] == 1
    in_progress = listed("sessionType=Online&statuses=InProgress&pageSize=10")
    assert len(in_progress["sessions"]) == 10
    rest = listed(
        "sessionType=Online&statuses=InProgress&pageSize=10",
        HTTP_X_CONTINUATION_TOKEN=in_progress["continuationToken"],
    )
    assert {s["referenceNumber"] for s in in_progress["sessions"] + rest["sessions"]} == set(open_ones)
    assert listed("sessionType=Batch")["sessions"] == []
    assert listed(f"sessionType=Online&referenceNumber={done}")["sessions"][0]["referenceNumber"] == done
    assert_error(seller.get("/sessions"), 21405)


ATTACHMENT = (
    b"<Zalacznik><BlokDanych><MetaDane><ZKlucz>Umowa</ZKlucz><ZWartosc>1/2026</ZWartosc></MetaDane>"
    b"</BlokDanych></Zalacznik></Faktura>"
)


def test_an_online_invoice_with_attachment_needs_the_consent(seller: Ksef, clock: Clock) -> None:
    """Like a batch one (issue 23): refused with 415 while the NIP has no consent to issue invoices with
    attachments, accepted once ``/testdata/attachment`` gave it, refused again after ``/revoke``."""

    def sent() -> dict[str, object]:
        xml = fa3.invoice(seller=seller.nip, buyer=fa3.nip(), number=fa3.number()).replace(
            b"</Faktura>", ATTACHMENT
        )
        session = seller.open_online()
        invoice = seller.send_ok(session, xml)
        clock.advance()
        return dict(seller.invoice_status(session, invoice)["status"])

    refused = sent()
    assert refused["code"] == 415
    assert "zgody" in str(refused["details"])
    assert seller.post("/testdata/attachment", {"nip": seller.nip}).status_code == 200
    assert sent()["code"] == 200
    assert seller.post("/testdata/attachment/revoke", {"nip": seller.nip}).status_code == 200
    assert sent()["code"] == 415


def test_fa2_session_refuses_an_fa3_document(seller: Ksef, clock: Clock) -> None:
    session = seller.open_online("FA (2)")
    invoice = seller.send_ok(session, fa3.invoice(seller=seller.nip, buyer=fa3.nip(), number=fa3.number()))
    clock.advance()
    status = seller.invoice_status(session, invoice)["status"]
    assert status["code"] == 450
    assert "FA (2)" in status["details"][0]


def test_invoice_write_lists_only_its_own_sessions(seller: Ksef, client: Client) -> None:
    mine = seller.open_online()
    # The colleague's access token is only good while the grant it was issued on stands.
    SimGrant.objects.create(
        context_nip=seller.nip, authorized_type="Pesel", authorized_value="90010112345",
        permission="InvoiceWrite", description="Wystawianie faktur",
    )  # fmt: skip
    colleague = Ksef(
        client=client, nip=seller.nip, permissions=["InvoiceWrite"], subject=("Pesel", "90010112345")
    )
    colleague_session = colleague.open_online()
    own = seller.get("/sessions?sessionType=Online").json()["sessions"]
    assert [s["referenceNumber"] for s in own] == [mine]
    inspector = Ksef(client=client, nip=seller.nip, permissions=["Introspection"])
    everything = inspector.get("/sessions?sessionType=Online").json()["sessions"]
    assert {s["referenceNumber"] for s in everything} == {mine, colleague_session}


def test_upo_names_the_context_and_the_ksef_token(client: Client, clock: Clock) -> None:
    nip = fa3.nip()
    token_reference = ids.reference_number("EC")
    party = Ksef(
        client=client,
        nip=nip,
        permissions=["InvoiceWrite"],
        context_type="InternalId",
        context_suffix="-00001",
        ksef_token=token_reference,
    )
    session = party.open_online()
    invoice = party.send_ok(session, fa3.invoice(seller=nip, buyer=fa3.nip(), number=fa3.number()))
    clock.advance()
    upo = party.get(f"/sessions/{session}/invoices/{invoice}/upo")
    document = upo_is_valid(upo.content)
    assert (
        document.findtext("u:Uwierzytelnienie/u:IdKontekstu/u:IdWewnetrzny", namespaces=UPO_NS)
        == f"{nip}-00001"
    )
    assert (
        document.findtext("u:Uwierzytelnienie/u:NumerReferencyjnyTokenaKSeF", namespaces=UPO_NS)
        == token_reference
    )
    assert document.findtext("u:NazwaPodmiotuPrzyjmujacego", namespaces=UPO_NS) == "Ministerstwo Finansów"


def test_upo_receiver_suffix_setting(seller: Ksef, clock: Clock, settings: Any) -> None:
    settings.KSEF_SIMULATOR_UPO_RECEIVER_SUFFIX = " - środowisko testowe (TE)"
    session = seller.open_online()
    invoice = seller.send_ok(session, fa3.invoice(seller=seller.nip, buyer=fa3.nip(), number=fa3.number()))
    clock.advance()
    document = etree.fromstring(seller.get(f"/sessions/{session}/invoices/{invoice}/upo").content)
    name = document.findtext("u:NazwaPodmiotuPrzyjmujacego", namespaces=UPO_NS)
    assert name == "Ministerstwo Finansów - środowisko testowe (TE)"

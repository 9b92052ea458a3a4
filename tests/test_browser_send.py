"""Issue 6 "Must show" in a real browser: Wystaw → a real Celery worker delivers the invoice to the simulator
→ the invoice page shows its KSeF number → the PDF downloads and carries the KOD I link of that invoice.

The company connects with a token from the simulator; automatic sending is on. The worker is a subprocess
against this test's PostgreSQL and Redis, talking to the simulator served by ``live_server``.
"""

from __future__ import annotations

import base64
import re
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from accounts.models import Company
from invoices import services as invoice_services
from invoices.models import Invoice, KsefStatus
from ksef_integration.models import KsefConnection, Submission, SubmissionStatus
from ksef_integration.sending.display import ksef_qr_codes
from ksef_simulator import services_core
from ksef_simulator.conf import config_update
from ksef_simulator.models import SimInvoice
from tests.conftest import screenshot, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.real_broker]


# --- reading the PDF's text without a PDF library (only reportlab, a writer, is installed) --------------


def _objects(pdf: bytes) -> dict[int, bytes]:
    return {int(m.group(1)): m.group(2) for m in re.finditer(rb"(\d+) 0 obj\s*(.*?)endobj", pdf, re.S)}


def _stream(body: bytes) -> bytes:
    match = re.search(rb"/Length (\d+).*?stream\r?\n", body, re.S)
    if match is None:
        return b""
    data = body[match.end() : match.end() + int(match.group(1))]
    head = body[: match.start(1)]
    if b"/ASCII85Decode" in head:
        data = base64.a85decode(re.sub(rb"\s", b"", data).removesuffix(b"~>"))
    if b"/FlateDecode" in head:
        data = zlib.decompress(data)
    return data


def _cmap(data: bytes) -> dict[int, str]:
    """A ToUnicode CMap: byte code → text (bfchar and bfrange entries, as reportlab writes them)."""
    mapping: dict[int, str] = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", data, re.S):
        for code, text in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            mapping[int(code, 16)] = bytes.fromhex(text.decode()).decode("utf-16-be")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", data, re.S):
        for start, end, text in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            first = ord(bytes.fromhex(text.decode()).decode("utf-16-be"))
            for offset, code in enumerate(range(int(start, 16), int(end, 16) + 1)):
                mapping[code] = chr(first + offset)
    return mapping


def _literal(raw: bytes) -> bytes:
    """A PDF literal string's bytes (backslash escapes resolved)."""
    out = bytearray()
    index = 0
    while index < len(raw):
        char = raw[index]
        if char == 0x5C:  # backslash
            index += 1
            nxt = raw[index : index + 1]
            if nxt.isdigit():
                octal = re.match(rb"[0-7]{1,3}", raw[index:])
                assert octal is not None
                out.append(int(octal.group(), 8))
                index += len(octal.group())
                continue
            out += {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}.get(nxt, nxt)
        else:
            out.append(char)
        index += 1
    return bytes(out)


def pdf_text(pdf: bytes) -> str:
    """The text drawn on the pages, decoded through each font's ToUnicode CMap; one line per ``Tj`` run."""
    objects = _objects(pdf)
    cmaps: dict[bytes, dict[int, str]] = {}
    for body in objects.values():
        for name, ref in re.findall(rb"/(F\d+(?:\+\d+)?)\s+(\d+) 0 R", body):
            font_object = objects.get(int(ref), b"")
            to_unicode = re.search(rb"/ToUnicode\s+(\d+) 0 R", font_object)
            if to_unicode:
                cmaps[name] = _cmap(_stream(objects[int(to_unicode.group(1))]))
    lines: list[str] = []
    for body in objects.values():
        content = _stream(body) if b"stream" in body else b""
        if b"Tf" not in content:
            continue
        font: dict[int, str] = {}
        for token in re.finditer(
            rb"/(F\d+(?:\+\d+)?)\s+[\d.]+\s+Tf|\(((?:\\.|[^\\)])*)\)\s*Tj", content, re.S
        ):
            if token.group(1):
                font = cmaps.get(token.group(1), {})
            else:
                lines.append("".join(font.get(code, chr(code)) for code in _literal(token.group(2))))
    return "\n".join(lines)


# --- the test ------------------------------------------------------------------------------------------


@pytest.fixture
def simulator_for_the_worker(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """Where the worker subprocess (started after this) and this process find the simulator."""
    api_url = f"{live_server.url}/ksef-sim/v2"
    monkeypatch.setenv("KSEF_API_URL", api_url)
    return api_url


@pytest.fixture
def worker(simulator_for_the_worker: str, celery_worker_process: dict[str, Any]) -> dict[str, Any]:
    return celery_worker_process


@pytest.fixture
def connected(
    simulator_for_the_worker: str, alice_client: Any, company_a: Company
) -> Iterator[KsefConnection]:
    config_update(token_activation_delay=0, auth_delay=0, invoice_processing_delay=0)
    with override_settings(KSEF_API_URL=simulator_for_the_worker):
        _, token = services_core.token_generate(
            nip=company_a.nip, permissions=["InvoiceRead", "InvoiceWrite"], description="portal"
        )
        assert alice_client.post("/uslugi-dodatkowe/ksef/token/", {"token": token}).status_code == 302
        connection = KsefConnection.objects.get(company=company_a)
        connection.auto_send = True
        connection.save(update_fields=["auto_send"])
        yield connection


def test_wystaw_then_ksef_number_then_pdf_with_kod_i(
    worker: dict[str, Any], connected: KsefConnection, alice_client: Any, page: Any, live_server: Any
) -> None:
    page.context.add_cookies(
        [{"name": "sessionid", "value": alice_client.cookies["sessionid"].value, "url": live_server.url}]
    )

    page.goto("/dokumenty/wystaw/")
    screenshot(page, "send-1-wystaw")
    page.fill("#id_nip", "5260250274")
    page.fill("#id_name", "Zakład Usług Różnych Łęcki")
    page.fill("#id_address_line1", "ul. Źródlana 5")
    page.fill("#id_address_line2", "00-950 Warszawa")
    page.fill("#id_lines-0-name", "Wdrożenie KSeF")
    page.fill("#id_lines-0-quantity", "2")
    page.fill("#id_lines-0-unit_price", "1500")
    page.select_option("#id_lines-0-vat_rate", "23")
    page.locator("[data-total-gross]").filter(has_text="3 690,00").wait_for()  # live totals
    page.get_by_role("button", name="Wystaw fakturę").click()
    page.wait_for_url(re.compile(r"/dokumenty/[0-9a-f-]{36}/$"))

    invoice = Invoice.objects.get(company=connected.company)
    submission = Submission.objects.get(invoice=invoice)  # queued by issuing (automatic sending)
    delivered = wait_until(
        lambda: Submission.objects.filter(pk=submission.pk, status=SubmissionStatus.ACCEPTED).exists(),
        timeout=60,
    )
    assert delivered, worker["log"].read_text(errors="replace")[-3000:]
    invoice.refresh_from_db()
    assert invoice.ksef_status == KsefStatus.ACCEPTED
    assert invoice.ksef_number
    assert (
        SimInvoice.objects.filter(ksef_number=invoice.ksef_number, invoice_number=invoice.number).count() == 1
    )

    page.reload()
    ksef_number = page.locator(".ksef-number")
    ksef_number.wait_for()
    assert ksef_number.inner_text() == invoice.ksef_number
    assert page.locator(".ksef-card .ksef-status--accepted").inner_text() == "przyjęta przez KSeF"
    screenshot(page, "send-2-invoice-accepted")

    (kod1,) = ksef_qr_codes(invoice)
    assert kod1.label == invoice.ksef_number
    with page.expect_download() as download_info:
        page.evaluate(
            """url => { const a = document.createElement('a'); a.href = url; a.download = 'faktura.pdf';
                       document.body.appendChild(a); a.click(); }""",
            f"/dokumenty/{invoice.uuid}/pdf/",
        )
    download = download_info.value
    pdf = open(download.path(), "rb").read()  # noqa: SIM115
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    assert invoice.number in text
    assert invoice.ksef_number in text  # KOD I's label
    assert kod1.url in text.replace("\n", "")  # the link printed under the code (may wrap)
    assert f"/URI ({kod1.url})".encode() in pdf  # and the code itself links there

    page.goto(f"/dokumenty/{invoice.uuid}/podglad/")
    screenshot(page, "send-3-preview-kod-i")


def test_rejected_invoice_is_corrected_in_the_browser_and_accepted(
    connected: KsefConnection, alice_client: Any, page: Any, live_server: Any
) -> None:
    """KSeF refuses the file; the page says why and offers "Popraw i wyślij ponownie"; the corrected invoice
    (same number) is accepted. Sending is driven here (``company_send_due``), as the worker would do it."""
    from ksef_integration.fa3.digest import invoice_hash
    from ksef_integration.sending.drain import company_send_due
    from ksef_integration.sending.mapping import invoice_xml_build
    from tests.invoices.factories import issue_data

    company = connected.company
    today = timezone.localdate()
    invoice = invoice_services.invoice_issue(
        company=company, user=None, data=issue_data(issue_date=today, sale_date=today, due_date=today)
    )
    submission = Submission.objects.get(invoice=invoice)
    broken = invoice_xml_build(invoice).xml.replace(
        b"<KodWaluty>PLN</KodWaluty>", b"<KodWaluty>PLNX</KodWaluty>"
    )
    Submission.objects.filter(pk=submission.pk).update(xml=broken, xml_sha256_b64=invoice_hash(broken))
    company_send_due(company_id=company.pk)
    invoice.refresh_from_db()
    assert invoice.ksef_status == KsefStatus.REJECTED

    page.context.add_cookies(
        [{"name": "sessionid", "value": alice_client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page.goto(f"/dokumenty/{invoice.uuid}/")
    panel = page.locator("#ksef-rejected")
    assert "Co dalej?" in panel.inner_text()
    assert "KSeF odrzucił fakturę (kod 4" in page.locator(".ksef-card").inner_text()
    screenshot(page, "send-4-rejected")

    page.get_by_role("link", name="Popraw i wyślij ponownie").click()
    page.wait_for_url(f"**/dokumenty/{invoice.uuid}/popraw/")
    assert page.locator("#id_name").input_value() == invoice.buyer_name
    screenshot(page, "send-5-edit")  # before typing: a click right after a full-page shot can get lost
    page.fill("#id_lines-0-name", "Usługa księgowa za listopad")
    page.fill("#id_lines-0-unit_price", "1100")
    page.get_by_role("button", name="Zapisz i wyślij ponownie do KSeF").click()
    page.wait_for_url(f"**/dokumenty/{invoice.uuid}/")
    assert "ponownie wysłana do KSeF" in page.content()

    assert wait_until(
        lambda: Submission.objects.filter(pk=submission.pk, status=SubmissionStatus.PENDING).exists()
    )
    company_send_due(company_id=company.pk)
    invoice.refresh_from_db()
    assert invoice.ksef_status == KsefStatus.ACCEPTED
    page.reload()
    assert page.locator(".ksef-number").inner_text() == invoice.ksef_number
    assert page.locator("#ksef-rejected").count() == 0
    screenshot(page, "send-6-resent-accepted")
    sim = SimInvoice.objects.get(ksef_number=invoice.ksef_number)
    assert "Usługa księgowa za listopad".encode() in bytes(sim.xml or b"")
    assert sim.invoice_number == invoice.number


@pytest.mark.parametrize(
    ("case", "buyer", "line"),
    [
        (
            "wdt-discount",
            {"#id_nip": "", "#id_foreign_id": "DE123456789", "#id_country_code": "DE"},
            {"vat_rate": "0 WDT", "discount_percent": "5", "gtu": "GTU_06", "net": "1 425,00"},
        ),
        (
            "reverse-charge",
            {"#id_nip": "5260250274", "#id_foreign_id": "", "#id_country_code": "PL"},
            {"vat_rate": "oo", "discount_percent": "", "gtu": "", "net": "1 500,00"},
        ),
    ],
)
def test_wdt_with_a_discount_and_reverse_charge_are_accepted_from_the_browser(
    connected: KsefConnection,
    alice_client: Any,
    page: Any,
    live_server: Any,
    case: str,
    buyer: dict[str, str],
    line: dict[str, str],
) -> None:
    """Issue 19 in a browser: an intra-EU supply to a German buyer with a 5 % discount and a GTU code, and a
    domestic reverse-charge invoice, typed into Wystaw, reach "przyjęta przez KSeF". Sending is driven here
    (``company_send_due``), as the worker would do it."""
    from ksef_integration.sending.drain import company_send_due

    page.context.add_cookies(
        [{"name": "sessionid", "value": alice_client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page.goto("/dokumenty/wystaw/")
    page.fill("#id_name", "Kunde GmbH" if buyer["#id_country_code"] == "DE" else "Budowlanka Sp. z o.o.")
    for selector, value in buyer.items():
        page.fill(selector, value)
    page.fill("#id_address_line1", "Hauptstraße 1" if buyer["#id_country_code"] == "DE" else "ul. Prosta 1")
    page.fill("#id_lines-0-name", "Laptop" if line["gtu"] else "Roboty budowlane")
    page.fill("#id_lines-0-quantity", "1")
    page.fill("#id_lines-0-unit_price", "1500")
    page.select_option("#id_lines-0-vat_rate", line["vat_rate"])
    if line["discount_percent"]:
        page.fill("#id_lines-0-discount_percent", line["discount_percent"])
    if line["gtu"]:
        page.select_option("#id_lines-0-gtu", line["gtu"])
    page.locator("[data-line-net]").filter(has_text=line["net"]).wait_for()  # the discount, live
    if buyer["#id_country_code"] == "DE":
        page.fill("#id_currency", "EUR")
        page.fill("#id_exchange_rate", "4,25")
    page.get_by_role("button", name="Wystaw fakturę").click()
    page.wait_for_url(re.compile(r"/dokumenty/[0-9a-f-]{36}/$"))

    invoice = Invoice.objects.get(company=connected.company)
    company_send_due(company_id=connected.company.pk)
    invoice.refresh_from_db()
    error = Submission.objects.get(invoice=invoice).last_error_message
    assert invoice.ksef_status == KsefStatus.ACCEPTED, error
    page.reload()
    assert page.locator(".ksef-card .ksef-status--accepted").inner_text() == "przyjęta przez KSeF"
    document = page.content()
    if line["gtu"]:
        assert "<td>GTU_06</td>" in document
        assert "75,00" in document  # the discount, 5 % of 1 500,00
    else:
        assert 'id="annotation-reverse-charge"' in document
    screenshot(page, f"send-6-{case}")


def test_an_advance_then_the_final_invoice_from_the_browser(
    connected: KsefConnection, alice_client: Any, page: Any, live_server: Any
) -> None:
    """Issue 19 in a browser: "Faktura zaliczkowa" shows the advance's amount (not the advances to settle),
    is accepted; then "Faktura końcowa" offers that advance, and the final invoice is accepted with the
    advance deducted."""
    from ksef_integration.sending.drain import company_send_due

    page.context.add_cookies(
        [{"name": "sessionid", "value": alice_client.cookies["sessionid"].value, "url": live_server.url}]
    )

    def type_order() -> None:
        page.fill("#id_name", "Budowlanka Sp. z o.o.")
        page.fill("#id_nip", "5260250274")
        page.fill("#id_address_line1", "ul. Prosta 1")
        page.fill("#id_lines-0-name", "Dom szkieletowy")
        page.fill("#id_lines-0-quantity", "1")
        page.fill("#id_lines-0-unit_price", "100000")
        page.select_option("#id_lines-0-vat_rate", "8")

    page.goto("/dokumenty/wystaw/")
    assert page.locator("#id_advance_amount").is_hidden()
    page.get_by_label("Faktura zaliczkowa").check()
    assert page.locator("#id_advance_amount").is_visible()
    type_order()
    page.fill("#id_advance_amount", "30 000")
    screenshot(page, "send-7-advance-form")
    page.get_by_role("button", name="Wystaw fakturę").click()
    page.wait_for_url(re.compile(r"/dokumenty/[0-9a-f-]{36}/$"))
    advance = Invoice.objects.get(company=connected.company)
    company_send_due(company_id=connected.company.pk)
    advance.refresh_from_db()
    assert advance.ksef_status == KsefStatus.ACCEPTED, Submission.objects.get(
        invoice=advance
    ).last_error_message

    page.goto("/dokumenty/wystaw/")
    page.get_by_label("Faktura końcowa rozliczająca zaliczki (rozliczeniowa)").check()
    assert page.locator("#id_advance_amount").is_hidden()
    page.get_by_label(re.compile(re.escape(advance.number))).check()
    type_order()
    page.get_by_role("button", name="Wystaw fakturę").click()
    page.wait_for_url(re.compile(r"/dokumenty/[0-9a-f-]{36}/$"))
    final = Invoice.objects.get(company=connected.company, kind="ROZ")
    company_send_due(company_id=connected.company.pk)
    final.refresh_from_db()
    assert final.ksef_status == KsefStatus.ACCEPTED, Submission.objects.get(invoice=final).last_error_message
    assert final.total_gross == 108000 - 30000
    page.reload()
    assert "Po odliczeniu zaliczek" in page.content()
    screenshot(page, "send-8-final-invoice")

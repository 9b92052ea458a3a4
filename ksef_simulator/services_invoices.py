"""Test data for the invoice side: store a received FA(3) "as sent by its seller", generate many of them.

Used by the simulator's "Dane testowe" page and by import benchmarks; the invoices go through the same
validation as those sent in sessions, and land in the same table, so queries and exports see them.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.db import transaction
from lxml import etree

from ksef_simulator import crypto, ids, processing
from ksef_simulator.fa3_schema import FA3_NAMESPACE, InvoiceFileError, parse_invoice
from ksef_simulator.models import SimInvoice

_NIP_WEIGHTS = (6, 5, 7, 2, 3, 4, 5, 6, 7)


class InvoiceRejected(ValueError):
    """KSeF would not accept the invoice; ``status`` is its status code (440, 450, ...)."""

    def __init__(self, status: int, details: list[str]) -> None:
        super().__init__(f"{status}: {'; '.join(details)}")
        self.status = status
        self.details = details


def invoice_store_incoming(*, xml_bytes: bytes, acquisition: dt.datetime | None = None) -> str:
    """Store a valid FA(3) as if its seller had sent it; return its KSeF number.

    ``acquisition`` (aware) is the moment KSeF accepted it (default: now); the usual storage lag applies.
    """
    try:
        root = parse_invoice(xml_bytes)
    except InvoiceFileError as exc:
        raise InvoiceRejected(450, [str(exc)]) from exc
    seller = root.findtext(
        f"{{{FA3_NAMESPACE}}}Podmiot1/{{{FA3_NAMESPACE}}}DaneIdentyfikacyjne/{{{FA3_NAMESPACE}}}NIP"
    )
    moment = acquisition or processing.now()
    if moment.tzinfo is None:
        raise ValueError("acquisition must be an aware datetime")
    with transaction.atomic():
        invoice = SimInvoice.objects.create(
            reference_number=ids.reference_number("EE", moment),
            context_nip=(seller or "").strip(),
            xml=xml_bytes,
            invoice_hash=crypto.sha256_b64(xml_bytes),
            invoice_size=len(xml_bytes),
            received_at=moment,
            due_at=moment,
        )
        processing.process_invoice(invoice, timing=processing.timings())
    if invoice.status_code != 200 or invoice.ksef_number is None:
        raise InvoiceRejected(invoice.status_code, list(invoice.status_details))
    return invoice.ksef_number


# --- generating invoices --------------------------------------------------------------------------


def nip_random(rng: random.Random) -> str:
    while True:
        digits = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(8)]
        check = sum(d * w for d, w in zip(digits, _NIP_WEIGHTS, strict=True)) % 11
        if check < 10 and digits[1:3] != [0, 0]:
            return "".join(map(str, digits)) + str(check)


def _el(parent: etree._Element, name: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{FA3_NAMESPACE}}}{name}", attrs)
    if text is not None:
        element.text = text
    return element


def _party(parent: etree._Element, tag: str, nip: str, name: str, city: str) -> etree._Element:
    party = _el(parent, tag)
    ident = _el(party, "DaneIdentyfikacyjne")
    _el(ident, "NIP", nip)
    _el(ident, "Nazwa", name)
    address = _el(party, "Adres")
    _el(address, "KodKraju", "PL")
    _el(address, "AdresL1", city)
    return party


def fa3_build(
    *,
    seller_nip: str,
    buyer_nip: str,
    number: str,
    issue_date: dt.date,
    net: Decimal,
    rate: int = 23,
    seller_name: str = "",
) -> bytes:
    """A minimal, schema-valid FA(3) VAT invoice with one line."""
    vat = (net * rate / 100).quantize(Decimal("0.01"))
    root = etree.Element(f"{{{FA3_NAMESPACE}}}Faktura", nsmap={None: FA3_NAMESPACE})
    header = _el(root, "Naglowek")
    _el(header, "KodFormularza", "FA", kodSystemowy="FA (3)", wersjaSchemy="1-0E")
    _el(header, "WariantFormularza", "3")
    created = dt.datetime.combine(max(issue_date, dt.date(2025, 9, 2)), dt.time(9), tzinfo=dt.UTC)
    _el(header, "DataWytworzeniaFa", created.strftime("%Y-%m-%dT%H:%M:%SZ"))
    _el(header, "SystemInfo", "Symulator KSeF")
    name = " ".join(seller_name.split()) or f"Dostawca {seller_nip} sp. z o.o."
    _party(root, "Podmiot1", seller_nip, name, "ul. Testowa 1, 00-950 Warszawa")
    buyer = _party(root, "Podmiot2", buyer_nip, f"Odbiorca {buyer_nip}", "ul. Odbiorcza 2, 30-001 Kraków")
    _el(buyer, "JST", "2")
    _el(buyer, "GV", "2")
    fa = _el(root, "Fa")
    _el(fa, "KodWaluty", "PLN")
    _el(fa, "P_1", issue_date.isoformat())
    _el(fa, "P_2", number)
    _el(fa, "P_13_1", f"{net:.2f}")
    _el(fa, "P_14_1", f"{vat:.2f}")
    _el(fa, "P_15", f"{net + vat:.2f}")
    notes = _el(fa, "Adnotacje")
    for tag in ("P_16", "P_17", "P_18", "P_18A"):
        _el(notes, tag, "2")
    _el(_el(notes, "Zwolnienie"), "P_19N", "1")
    _el(_el(notes, "NoweSrodkiTransportu"), "P_22N", "1")
    _el(notes, "P_23", "2")
    _el(_el(notes, "PMarzy"), "P_PMarzyN", "1")
    _el(fa, "RodzajFaktury", "VAT")
    line = _el(fa, "FaWiersz")
    _el(line, "NrWierszaFa", "1")
    _el(line, "P_7", "Usługa")
    _el(line, "P_8A", "szt.")
    _el(line, "P_8B", "1")
    _el(line, "P_9A", f"{net:.2f}")
    _el(line, "P_11", f"{net:.2f}")
    _el(line, "P_12", str(rate))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def invoices_generate(
    *,
    buyer_nip: str,
    count: int,
    date_from: dt.date,
    date_to: dt.date,
    sellers: int = 50,
    seed: int | None = None,
) -> list[str]:
    """``count`` purchase invoices for ``buyer_nip`` from ``sellers`` random sellers, issued in the dates.

    KSeF takes each one now, as real KSeF would whatever its issue date (P_1): its acquisition and storage
    times are never in the past, so an import that has already passed them still finds it. (Spreading them
    over the issue days once put every invoice generated after 18:00 behind the import checkpoint.) Returns
    the KSeF numbers.
    """
    rng = random.Random(seed)  # noqa: S311 (test data, not secrets)
    seller_nips = [nip_random(rng) for _ in range(max(1, sellers))]
    span = max(0, (date_to - date_from).days)
    today = processing.warsaw_date(processing.now())
    numbers = []
    for index in range(count):
        issue = min(date_from + dt.timedelta(days=rng.randint(0, span)), today)  # never issued in the future
        seller = rng.choice(seller_nips)
        xml = fa3_build(
            seller_nip=seller,
            buyer_nip=buyer_nip,
            number=f"FV/{issue:%Y/%m}/{index + 1}-{rng.randrange(16**6):06X}",
            issue_date=issue,
            net=Decimal(rng.randint(1000, 500000)) / 100,
        )
        numbers.append(invoice_store_incoming(xml_bytes=xml))
    return numbers

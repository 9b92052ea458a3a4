"""UPO v4-3 (Urzędowe Poświadczenie Odbioru) for one invoice or a whole session, valid against the XSD.

The XSD fixes ``NazwaPodmiotuPrzyjmujacego`` to "Ministerstwo Finansów", while TEST writes
"Ministerstwo Finansów - środowisko testowe (TE)" there (the official samples fail the XSD for it).
We keep the document valid by default; ``KSEF_SIMULATOR_UPO_RECEIVER_SUFFIX`` (e.g.
" - środowisko testowe (TE)") reproduces TEST byte for byte when a client needs that instead.
Like KSeF's, every UPO carries an enveloped XAdES signature (the last child of ``Potwierdzenie``; the XSD
describes the document without it), made with the simulator's own seal (``keys.upo_signing_key``). A UPO
is signed once and kept, so every download of it is the same document.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from lxml import etree
from signxml import methods
from signxml.algorithms import SignatureMethod
from signxml.xades import XAdESSigner

from ksef_simulator import keys
from ksef_simulator.models import SimInvoice, SimSession
from ksef_simulator.processing import LOGICAL_STRUCTURE, WARSAW

NAMESPACE = "http://upo.schematy.mf.gov.pl/KSeF/v4-3"
RECEIVER = "Ministerstwo Finansów"
PAGE_SIZE = 10_000
_CONTEXT_ELEMENT = {
    "Nip": "Nip",
    "InternalId": "IdWewnetrzny",
    "NipVatUe": "IdZlozonyVatUE",
    "PeppolId": "IdDostawcyUslugPeppol",
}


@functools.cache
def upo_schema() -> etree.XMLSchema:
    xsd = Path(settings.KSEF_DOCS_DIR) / "faktury" / "upo" / "schemy" / "upo-v4-3.xsd"
    return etree.XMLSchema(etree.parse(str(xsd), etree.XMLParser(no_network=True, resolve_entities=False)))


def receiver_name() -> str:
    return RECEIVER + str(getattr(settings, "KSEF_SIMULATOR_UPO_RECEIVER_SUFFIX", "") or "")


def _timestamp(moment: dt.datetime) -> str:
    local = moment.astimezone(WARSAW)
    return local.isoformat(timespec="milliseconds")


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{NAMESPACE}}}{name}")
    if text is not None:
        element.text = text
    return element


def _document(parent: etree._Element, invoice: SimInvoice) -> None:
    # Only accepted invoices get here; they have both dates.
    acquired = invoice.acquisition_date or invoice.received_at
    issued = invoice.issue_date or acquired.date()
    doc = _sub(parent, "Dokument")
    _sub(doc, "NipSprzedawcy", invoice.seller_nip)
    _sub(doc, "NumerKSeFDokumentu", invoice.ksef_number)
    _sub(doc, "NumerFaktury", invoice.invoice_number)
    _sub(doc, "DataWystawieniaFaktury", issued.isoformat())
    _sub(doc, "DataPrzeslaniaDokumentu", _timestamp(invoice.received_at))
    _sub(doc, "DataNadaniaNumeruKSeF", _timestamp(acquired))
    _sub(doc, "SkrotDokumentu", invoice.invoice_hash)
    _sub(doc, "TrybWysylki", invoice.invoicing_mode or "Online")


def build(
    session: SimSession, invoices: Iterable[SimInvoice], *, page: tuple[int, int, int, int] | None = None
) -> bytes:
    """The UPO XML. ``page`` = (page number, page count, first ordinal, total) for a session UPO."""
    root = etree.Element(f"{{{NAMESPACE}}}Potwierdzenie", nsmap={None: NAMESPACE})
    _sub(root, "NazwaPodmiotuPrzyjmujacego", receiver_name())
    _sub(root, "NumerReferencyjnySesji", session.reference_number)
    auth = _sub(root, "Uwierzytelnienie")
    context = _sub(auth, "IdKontekstu")
    _sub(context, _CONTEXT_ELEMENT.get(session.context_type, "Nip"), session.context_value)
    if session.ksef_token_reference:
        _sub(auth, "NumerReferencyjnyTokenaKSeF", session.ksef_token_reference)
    else:
        from ksef_simulator.crypto import sha256_b64

        _sub(auth, "SkrotDokumentuUwierzytelniajacego", sha256_b64(session.auth_reference.encode()))
    items = list(invoices)
    if page is not None:
        number, count, first, total = page
        description = _sub(root, "OpisPotwierdzenia")
        _sub(description, "Strona", str(number))
        _sub(description, "LiczbaStron", str(count))
        _sub(description, "ZakresDokumentowOd", str(first))
        _sub(description, "ZakresDokumentowDo", str(first + len(items)))
        _sub(description, "CalkowitaLiczbaDokumentow", str(total))
    _sub(
        root, "NazwaStrukturyLogicznej", LOGICAL_STRUCTURE.get(session.system_code, "Schemat_FA(3)_v1-0E.xsd")
    )
    _sub(root, "KodFormularza", session.system_code)
    for invoice in items:
        _document(root, invoice)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def sign(document: bytes) -> bytes:
    """The document with an enveloped XAdES-BES signature of the simulator's UPO seal."""
    key = keys.upo_signing_key()
    certificate = x509.load_der_x509_certificate(bytes(key.certificate_der))
    signed = XAdESSigner(method=methods.enveloped, signature_algorithm=SignatureMethod.RSA_SHA256).sign(
        etree.fromstring(document),
        key=key.private_key_pem,
        cert=[certificate.public_bytes(serialization.Encoding.PEM).decode()],
    )
    return bytes(etree.tostring(signed, xml_declaration=True, encoding="utf-8"))


def invoice_upo(invoice: SimInvoice) -> bytes:
    """The signed UPO of one accepted invoice of a session (made on first request, then kept)."""
    if invoice.upo_xml is not None:
        return bytes(invoice.upo_xml)
    assert invoice.session is not None  # noqa: S101 (only session invoices have UPOs)
    made = sign(build(invoice.session, [invoice]))
    SimInvoice.objects.filter(pk=invoice.pk, upo_xml__isnull=True).update(upo_xml=made)
    kept = SimInvoice.objects.values_list("upo_xml", flat=True).get(pk=invoice.pk)  # the first one made
    return bytes(kept) if kept is not None else made


def session_upo(session: SimSession) -> bytes:
    """The signed UPO of a whole session: every invoice it accepted, on one page (made once the session
    is final, then kept)."""
    if session.upo_xml is not None:
        return bytes(session.upo_xml)
    accepted = list(session.invoices.filter(processed=True, status_code=200).order_by("ordinal_number"))
    made = sign(build(session, accepted, page=(1, 1, 1, len(accepted))))
    SimSession.objects.filter(pk=session.pk, upo_xml__isnull=True).update(upo_xml=made)
    kept = SimSession.objects.values_list("upo_xml", flat=True).get(pk=session.pk)  # the first one made
    return bytes(kept) if kept is not None else made

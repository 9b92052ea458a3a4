"""ISO 20022 pain.001.001.03 files for domestic transfers in PLN (and MPP) or in an invoice's own currency,
and SEPA transfers in EUR to foreign IBANs, checked against the official XSD.

**Why 001.001.03.** It is the version the Polish Bank Association's (ZBP) recommendation for corporate
banking files is based on and the one Polish banks document for import (mBank CompanyNet "in pain.001.001.03
format, based on recommendation of ZBP"; ING BusinessOnline; PKO "XML ISO20022"); newer versions (.09+) are
accepted by fewer of them. The schema is the official ISO 20022 one, ``vendor/iso20022/pain.001.001.03.xsd``
(see the README there for its source and terms).

**Why lxml, not sepaxml.** sepaxml builds SEPA credit transfers: it always writes service level ``SEPA``,
expects BICs and transliterates Polish letters away (``clean``), and has no place for a domestic sort code
or the split-payment marker. A PLN domestic order needs none of that, so the XML is built here with lxml
(already a dependency) and validated against the XSD before it is returned.

Mapping (one ``PmtInf`` per execution date, in the order the dates first appear):

- accounts as ``IBAN`` (``PL`` + NRB); both banks identified by their sort code in
  ``FinInstnId/ClrSysMmbId`` (``ClrSysId/Cd`` ``PLKNR``, the ISO external code for the Polish national
  clearing code; ``MmbId`` = NRB digits 3-10), so no BIC is needed;
- amount ``InstdAmt Ccy`` in the invoice's currency with two decimals (one ``PmtInf`` per execution date and
  currency, so each ``CtrlSum`` adds like amounts); title in ``RmtInf/Ustrd`` (≤ 140);
- a foreign payee (an IBAN of a SEPA country, EUR only): ``PmtTpInf/SvcLvl/Cd`` ``SEPA``, ``ChrgBr``
  ``SLEV``, no ``CdtrAgt`` (IBAN-only; ``CdtrAgt`` is optional in 001.001.03). Outside SEPA a bank needs
  the payee bank's BIC, which an invoice's FA(3) data rarely gives and we do not keep: refused with a
  message. Elixir-O carries PLN and Polish accounts only, so a foreign-currency invoice is refused there
  with the way out (pain.001) rather than split into a second file the user did not ask for;
- a split payment: ``CdtTrfTxInf/PmtTpInf/LclInstrm/Prtry`` = ``53`` and the MPP message in ``Ustrd``
  (BNP Paribas Polska's pain.001 description: "Payment type (only for Split Payment) … LclInstrm … Prtry 53";
  mBank: "split payment — description of payment details in <Ustrd>"). A bank that does not take MPP in
  pain.001 will refuse such a file; the caller decides per bank.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from lxml import etree

from .accounts import bank_sort_code
from .amounts import grosze_format
from .errors import FileFormatError, PaymentFileError, problem
from .model import Order, Payer, Transfer, prepare_orders
from .titles import LINE_LENGTH

NS = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"
XSD_PATH = Path(__file__).resolve().parents[2] / "vendor" / "iso20022" / "pain.001.001.03.xsd"
CLEARING_SYSTEM = "PLKNR"
SPLIT_PAYMENT_INSTRUMENT = "53"
_schema: etree.XMLSchema | None = None
_schema_lock = threading.Lock()


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def pain001_schema() -> etree.XMLSchema:
    """The compiled official XSD, once per process (compiling takes milliseconds, validating microseconds)."""
    global _schema
    with _schema_lock:
        if _schema is None:
            parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
            _schema = etree.XMLSchema(etree.parse(str(XSD_PATH), parser))
        return _schema


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, _q(name))
    if text is not None:
        element.text = text
    return element


def _agent(parent: etree._Element, name: str, nrb: str) -> None:
    member = _sub(_sub(_sub(parent, name), "FinInstnId"), "ClrSysMmbId")
    _sub(_sub(member, "ClrSysId"), "Cd", CLEARING_SYSTEM)
    _sub(member, "MmbId", bank_sort_code(nrb))


def _party(parent: etree._Element, name: str, person: str, address: tuple[str, ...]) -> None:
    party = _sub(parent, name)
    _sub(party, "Nm", person)
    if address:
        postal = _sub(party, "PstlAdr")
        for line in address:
            _sub(postal, "AdrLine", line)


def _account(parent: etree._Element, name: str, nrb: str, iban: str = "") -> None:
    _sub(_sub(_sub(parent, name), "Id"), "IBAN", iban or "PL" + nrb)


def pain001_from_orders(orders: list[Order], *, message_id: str, created_at: datetime) -> bytes:
    if not orders:
        raise PaymentFileError([problem("no_transfers")])
    root = etree.Element(_q("Document"), nsmap={None: NS})
    initiation = _sub(root, "CstmrCdtTrfInitn")
    header = _sub(initiation, "GrpHdr")
    _sub(header, "MsgId", message_id)
    _sub(header, "CreDtTm", created_at.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat())
    _sub(header, "NbOfTxs", str(len(orders)))
    _sub(header, "CtrlSum", grosze_format(sum(o.amount for o in orders)))
    _sub(_sub(header, "InitgPty"), "Nm", orders[0].payer_name)
    by_date: dict[tuple[date, str], list[Order]] = {}
    for order in orders:
        by_date.setdefault((order.execution_date, order.currency), []).append(order)
    for number, ((execution_date, _currency), group) in enumerate(by_date.items(), start=1):
        info = _sub(initiation, "PmtInf")
        _sub(info, "PmtInfId", f"{message_id[:28]}-{number}")
        _sub(info, "PmtMtd", "TRF")
        _sub(info, "NbOfTxs", str(len(group)))
        _sub(info, "CtrlSum", grosze_format(sum(o.amount for o in group)))
        _sub(info, "ReqdExctnDt", execution_date.isoformat())
        first = group[0]
        _party(info, "Dbtr", first.payer_name, first.payer_address)
        _account(info, "DbtrAcct", first.payer_nrb)
        _agent(info, "DbtrAgt", first.payer_nrb)
        for order in group:
            transaction = _sub(info, "CdtTrfTxInf")
            _sub(_sub(transaction, "PmtId"), "EndToEndId", order.reference or "NOTPROVIDED")
            if order.split_payment:
                _sub(_sub(_sub(transaction, "PmtTpInf"), "LclInstrm"), "Prtry", SPLIT_PAYMENT_INSTRUMENT)
            elif order.payee_iban:
                _sub(_sub(_sub(transaction, "PmtTpInf"), "SvcLvl"), "Cd", "SEPA")
            amount = _sub(_sub(transaction, "Amt"), "InstdAmt", grosze_format(order.amount))
            amount.set("Ccy", order.currency)
            if order.payee_iban:
                _sub(transaction, "ChrgBr", "SLEV")  # SEPA: each side pays its own bank
            else:
                _agent(transaction, "CdtrAgt", order.payee_nrb)
            _party(transaction, "Cdtr", order.payee_name, order.payee_address)
            _account(transaction, "CdtrAcct", order.payee_nrb, order.payee_iban)
            _sub(_sub(transaction, "RmtInf"), "Ustrd", order.remittance)
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    pain001_validate(data)
    return data


def pain001_build(
    payer: Payer,
    transfers: list[Transfer] | tuple[Transfer, ...],
    *,
    message_id: str | None = None,
    created_at: datetime | None = None,
    today: date | None = None,
) -> bytes:
    """A pain.001.001.03 file (UTF-8) for ``transfers``, valid against the XSD; raises PaymentFileError.

    ``message_id`` (≤ 35 characters, unique per file: banks refuse a repeated one) defaults to a random one.
    """
    orders = prepare_orders(payer, transfers, today=today, foreign=True)
    message_id = message_id or uuid.uuid4().hex
    if not 0 < len(message_id) <= LINE_LENGTH:
        raise PaymentFileError(
            [problem("text_too_long", "message_id", length=len(message_id), limit=LINE_LENGTH)]
        )
    return pain001_from_orders(orders, message_id=message_id, created_at=created_at or datetime.now(UTC))


def _parse(data: bytes) -> etree._Element:
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_blank_text=True
    )
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise FileFormatError([problem("xml_invalid", detail=str(exc))]) from None


def pain001_validate(data: bytes) -> None:
    """Raise :class:`FileFormatError` with the first schema errors unless ``data`` is a valid pain.001."""
    document = _parse(data)
    schema = pain001_schema()
    if not schema.validate(document):
        detail = "; ".join(f"line {e.line}: {e.message}" for e in list(schema.error_log)[:5])
        raise FileFormatError([problem("xml_invalid", detail=detail)])


def _text(element: etree._Element, path: str) -> str:
    found = element.find(path, {"p": NS})
    return (found.text or "") if found is not None else ""


def pain001_parse(data: bytes) -> list[Order]:
    """The orders of a pain.001.001.03 file written by :func:`pain001_build` (validated first)."""
    pain001_validate(data)
    root = _parse(data)
    orders = []
    for info in root.iterfind("p:CstmrCdtTrfInitn/p:PmtInf", {"p": NS}):
        execution_date = date.fromisoformat(_text(info, "p:ReqdExctnDt"))
        payer_nrb = _text(info, "p:DbtrAcct/p:Id/p:IBAN").removeprefix("PL")
        payer_name = _text(info, "p:Dbtr/p:Nm")
        payer_address = tuple(a.text or "" for a in info.iterfind("p:Dbtr/p:PstlAdr/p:AdrLine", {"p": NS}))
        for transaction in info.iterfind("p:CdtTrfTxInf", {"p": NS}):
            amount_element = transaction.find("p:Amt/p:InstdAmt", {"p": NS})
            assert amount_element is not None  # noqa: S101 - required by the XSD, validated above
            reference = _text(transaction, "p:PmtId/p:EndToEndId")
            payee_iban = _text(transaction, "p:CdtrAcct/p:Id/p:IBAN")
            orders.append(
                Order(
                    payer_nrb=payer_nrb,
                    payer_name=payer_name,
                    payer_address=payer_address,
                    payee_nrb=payee_iban.removeprefix("PL") if payee_iban.startswith("PL") else "",
                    payee_iban="" if payee_iban.startswith("PL") else payee_iban,
                    payee_name=_text(transaction, "p:Cdtr/p:Nm"),
                    payee_address=tuple(
                        a.text or "" for a in transaction.iterfind("p:Cdtr/p:PstlAdr/p:AdrLine", {"p": NS})
                    ),
                    amount=int(Decimal(amount_element.text or "0").scaleb(2)),
                    currency=amount_element.get("Ccy", ""),
                    execution_date=execution_date,
                    remittance=_text(transaction, "p:RmtInf/p:Ustrd"),
                    split_payment=_text(transaction, "p:PmtTpInf/p:LclInstrm/p:Prtry")
                    == SPLIT_PAYMENT_INSTRUMENT,
                    reference="" if reference == "NOTPROVIDED" else reference,
                )
            )
    return orders

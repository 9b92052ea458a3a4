"""Bank statements: MT940 (Polish banks' variant) and ISO 20022 camt.053, read into one shape.

**MT940.** The SWIFT tags are read by the ``mt-940`` library (PyPI ``mt-940``, BSD-3, typed, maintained since
2015, last release 2026): ``:20:`` reference, ``:25:`` account, ``:28C:`` number, ``:60F:``/``:62F:``
balances, ``:61:`` entries (value date, booking date, C/D, amount, references). The ``:86:`` of Polish banks
is structured its own way, so it is read here: a 3-digit transaction code, then subfields, each a separator
and a 2-digit key (mBank CompanyNet/BRESOK "Opis formatu pliku eksportu wyciągów dziennych MT940", PKO
"Struktura plików wyjściowych… MT940", ING, inordbusiness): the separator is ``~`` at most banks, ``^``,
``+`` or ``<`` at others, ``?`` in the German layout; it is taken from the character after the code.

- ``~00`` operation type; ``~20``-``~26`` the title in 27-character pieces (joined without separators, so a
  35-character KSeF number cut between ``~20`` and ``~21`` is whole again), ``~60``-``~63`` its continuation;
- ``~27``-``~28`` (or ``~32``-``~33``) the counterparty's name, ``~29`` its address;
- ``~38`` the counterparty's IBAN, else ``~30`` sort code + ``~31`` account (or ``~31`` a whole NRB).

Lines of ``:86:`` are joined without separators (banks wrap at 65 characters wherever they are).
Encoding: UTF-8 when the bytes are valid UTF-8, otherwise Windows-1250; banks exporting CP852 or
ISO-8859-2 are read with ``encoding=``.

**camt.053** (any ``camt.053.001.NN``): every booked ``Ntry`` (``Sts`` BOOK; pending ones are not yet
money), amount with ``CdtDbtInd``, ``BookgDt``/``ValDt``, ``AcctSvcrRef``, the ``Ustrd`` lines joined, and
the counterparty from ``RltdPties`` (the creditor for a debit, the debtor for a credit). An entry with
several ``TxDtls`` that each carry an amount (a batch) becomes one entry per transaction.

Anything else — a pain.001 order, a camt.052/054, an Elixir-O file, a CSV — is refused with a message
saying what it is.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import mt940
from lxml import etree

from .accounts import nrb_check_digits
from .errors import FileFormatError, PaymentFileError, problem


@dataclass(frozen=True)
class StatementEntry:
    """One booked operation; ``amount`` in grosze, negative for money leaving the account."""

    amount: int
    currency: str
    booking_date: date
    title: str
    value_date: date | None = None
    counterparty_name: str = ""
    counterparty_account: str = ""
    bank_reference: str = ""
    code: str = ""

    @property
    def is_debit(self) -> bool:
        return self.amount < 0


@dataclass(frozen=True)
class Statement:
    account: str
    currency: str
    entries: tuple[StatementEntry, ...]
    opening_balance: int | None = None
    closing_balance: int | None = None
    number: str = ""


def _grosze(value: Decimal) -> int:
    return int(value.scaleb(2).to_integral_value())


def _account(value: str) -> str:
    """``PL``+NRB or an NRB → the 26 digits; other IBANs as given, without spaces."""
    compact = "".join(value.split()).lstrip("/").upper()
    if compact.startswith("PL") and len(compact) == 28:
        return compact[2:]
    return compact


_SUBFIELD_START = re.compile(r"^(\d{3})([~^+<?])\d{2}")


def mt940_details(details: str) -> dict[str, str]:
    """Subfields of a Polish ``:86:`` (key → text, ``"code"`` → the 3-digit code); unstructured → title."""
    text = details.replace("\r", "").replace("\n", "")
    match = _SUBFIELD_START.match(text)
    if not match:
        return {"code": "", "title": text.strip()}
    separator = match.group(2)
    fields: dict[str, str] = {"code": match.group(1)}
    for part in re.split(re.escape(separator) + r"(?=\d{2})", text[3:])[1:]:
        fields[part[:2]] = fields.get(part[:2], "") + part[2:]
    title_keys = [f"{k}" for k in range(20, 27)] + [f"{k}" for k in range(60, 64)]
    fields["title"] = "".join(fields.get(k, "") for k in title_keys).strip()
    name = fields.get("32", "") + fields.get("33", "")
    fields["name"] = (name or fields.get("27", "") + fields.get("28", "")).strip()
    account = fields.get("38", "").strip()
    if not account:
        sort_code, rest = fields.get("30", "").strip(), fields.get("31", "").strip()
        if len(rest) == 26 and rest.isdigit():
            account = rest
        elif len(sort_code) == 8 and len(rest) == 16 and (sort_code + rest).isdigit():
            account = nrb_check_digits(sort_code + rest) + sort_code + rest
    fields["account"] = _account(account) if account else ""
    return fields


def _decode(data: bytes, encoding: str | None) -> str:
    if encoding:
        return data.decode(encoding)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1250", errors="replace")


_MT940_TAGS = re.compile(r"^:(20|25|28C?|60[FM]):", re.MULTILINE)


def mt940_parse(data: bytes, *, encoding: str | None = None) -> list[Statement]:
    """The statements of an MT940 file; raises :class:`PaymentFileError` when it is not one."""
    text = _decode(data, encoding).replace("\r\n", "\n")
    if {m.group(1)[:2] for m in _MT940_TAGS.finditer(text)} < {"20", "25", "60"}:
        raise PaymentFileError([problem("statement_unknown")])
    chunks = [c for c in re.split(r"(?m)^(?=:20:)", text) if ":25:" in c]
    statements = []
    for chunk in chunks:
        try:
            transactions = mt940.models.Transactions()
            transactions.parse(chunk)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            line = text[: text.find(chunk)].count("\n") + 1
            raise FileFormatError([problem("file_format", line=line, detail=f"MT940: {exc}")]) from None
        head = transactions.data
        account = str(head.get("account_identification", "")).strip()
        if not account:
            raise PaymentFileError([problem("statement_empty")])
        opening = head.get("final_opening_balance") or head.get("intermediate_opening_balance")
        closing = head.get("final_closing_balance") or head.get("intermediate_closing_balance")
        currency = opening.amount.currency if opening is not None else ""
        entries = []
        for transaction in transactions:
            info = transaction.data
            amount = info["amount"]
            details = mt940_details(str(info.get("transaction_details") or ""))
            entries.append(
                StatementEntry(
                    amount=_grosze(Decimal(amount.amount)),
                    currency=str(amount.currency or currency),
                    booking_date=_plain_date(info.get("entry_date") or info["date"]),
                    value_date=_plain_date(info["date"]),
                    title=details["title"],
                    counterparty_name=details["name"],
                    counterparty_account=details["account"],
                    bank_reference=str(info.get("bank_reference") or info.get("customer_reference") or ""),
                    code=details["code"],
                )
            )
        statements.append(
            Statement(
                account=_account(account),
                currency=str(currency),
                entries=tuple(entries),
                opening_balance=_grosze(Decimal(opening.amount.amount)) if opening is not None else None,
                closing_balance=_grosze(Decimal(closing.amount.amount)) if closing is not None else None,
                number=str(head.get("statement_number", "")),
            )
        )
    return statements


def _plain_date(value: object) -> date:
    assert isinstance(value, date)  # noqa: S101 - mt940's Date is a date subclass
    return date(value.year, value.month, value.day)


_ISO_NS = re.compile(r"^\{urn:iso:std:iso:20022:tech:xsd:([a-z]{4}\.\d{3}\.\d{3}\.\d{2})\}")


def _xml(data: bytes) -> etree._Element:
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True
    )
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise FileFormatError([problem("file_format", line=exc.lineno or 1, detail=str(exc))]) from None


def _find(element: etree._Element, path: str, ns: dict[str, str]) -> str:
    found = element.find(path, ns)
    return (found.text or "").strip() if found is not None else ""


def _signed(amount_text: str, indicator: str) -> int:
    value = _grosze(Decimal(amount_text))
    return -value if indicator == "DBIT" else value


def camt053_parse(data: bytes) -> list[Statement]:
    """The statements of a camt.053 file; raises :class:`PaymentFileError` when it is another document."""
    root = _xml(data)
    match = _ISO_NS.match(root.tag)
    if not match:
        raise PaymentFileError([problem("statement_unknown")])
    kind = match.group(1)
    if not kind.startswith("camt.053"):
        raise PaymentFileError([problem("statement_other_xml", kind=kind)])
    ns = {"c": f"urn:iso:std:iso:20022:tech:xsd:{kind}"}
    statements = []
    for stmt in root.iterfind("c:BkToCstmrStmt/c:Stmt", ns):
        account = _find(stmt, "c:Acct/c:Id/c:IBAN", ns) or _find(stmt, "c:Acct/c:Id/c:Othr/c:Id", ns)
        if not account:
            raise PaymentFileError([problem("statement_empty")])
        balances: dict[str, int] = {}
        for balance in stmt.iterfind("c:Bal", ns):
            code = _find(balance, "c:Tp/c:CdOrPrtry/c:Cd", ns)
            balances[code] = _signed(_find(balance, "c:Amt", ns), _find(balance, "c:CdtDbtInd", ns))
        currency = _find(stmt, "c:Acct/c:Ccy", ns)
        entries: list[StatementEntry] = []
        for entry in stmt.iterfind("c:Ntry", ns):
            status = _find(entry, "c:Sts", ns) or _find(entry, "c:Sts/c:Cd", ns)
            if status and status != "BOOK":
                continue
            indicator = _find(entry, "c:CdtDbtInd", ns)
            amount_element = entry.find("c:Amt", ns)
            if amount_element is None or indicator not in ("CRDT", "DBIT"):
                raise FileFormatError(
                    [
                        problem(
                            "file_format",
                            line=entry.sourceline or 1,
                            detail="camt.053: Ntry without Amt/CdtDbtInd",
                        )
                    ]
                )
            booking = _find(entry, "c:BookgDt/c:Dt", ns) or _find(entry, "c:BookgDt/c:DtTm", ns)[:10]
            value = _find(entry, "c:ValDt/c:Dt", ns) or _find(entry, "c:ValDt/c:DtTm", ns)[:10]
            template = StatementEntry(
                amount=0,
                currency=amount_element.get("Ccy", currency),
                booking_date=date.fromisoformat(booking),
                title="",
                value_date=date.fromisoformat(value) if value else None,
                bank_reference=_find(entry, "c:AcctSvcrRef", ns),
                code=_find(entry, "c:BkTxCd/c:Prtry/c:Cd", ns) or _find(entry, "c:BkTxCd/c:Domn/c:Cd", ns),
            )
            details = list(entry.iterfind("c:NtryDtls/c:TxDtls", ns))
            own_amounts = [_find(d, "c:AmtDtls/c:TxAmt/c:Amt", ns) or _find(d, "c:Amt", ns) for d in details]
            party = "Cdtr" if indicator == "DBIT" else "Dbtr"
            if len(details) > 1 and all(own_amounts):
                for detail, own in zip(details, own_amounts, strict=True):
                    entries.append(_filled(template, _signed(own, indicator), _details(detail, party, ns)))
                continue
            merged = _details_many(details, party, ns)
            entries.append(_filled(template, _signed(amount_element.text or "0", indicator), merged))
        statements.append(
            Statement(
                account=_account(account),
                currency=currency or (entries[0].currency if entries else ""),
                entries=tuple(entries),
                opening_balance=balances.get("OPBD", balances.get("PRCD")),
                closing_balance=balances.get("CLBD"),
                number=_find(stmt, "c:ElctrncSeqNb", ns) or _find(stmt, "c:Id", ns),
            )
        )
    if not statements:
        raise PaymentFileError([problem("statement_empty")])
    return statements


def _filled(template: StatementEntry, amount: int, details: dict[str, str]) -> StatementEntry:
    return dataclasses.replace(
        template,
        amount=amount,
        title=details["title"],
        counterparty_name=details["counterparty_name"],
        counterparty_account=details["counterparty_account"],
    )


def _details(detail: etree._Element, party: str, ns: dict[str, str]) -> dict[str, str]:
    account = _find(detail, f"c:RltdPties/c:{party}Acct/c:Id/c:IBAN", ns) or _find(
        detail, f"c:RltdPties/c:{party}Acct/c:Id/c:Othr/c:Id", ns
    )
    return {
        "title": "".join((u.text or "") for u in detail.iterfind("c:RmtInf/c:Ustrd", ns)).strip(),
        "counterparty_name": _find(detail, f"c:RltdPties/c:{party}/c:Nm", ns),
        "counterparty_account": _account(account) if account else "",
    }


def _details_many(details: list[etree._Element], party: str, ns: dict[str, str]) -> dict[str, str]:
    parts = [_details(d, party, ns) for d in details]
    return {
        "title": "".join(p["title"] for p in parts),
        "counterparty_name": next((p["counterparty_name"] for p in parts if p["counterparty_name"]), ""),
        "counterparty_account": next(
            (p["counterparty_account"] for p in parts if p["counterparty_account"]), ""
        ),
    }


def statement_parse(data: bytes, *, encoding: str | None = None) -> list[Statement]:
    """An MT940 or camt.053 statement, told apart by content; anything else gets a clear refusal."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    try:
        if head.startswith(b"<"):
            return camt053_parse(data)
        return mt940_parse(data, encoding=encoding)
    except PaymentFileError:
        raise
    except (ValueError, LookupError, TypeError, AttributeError, ArithmeticError, RuntimeError) as exc:
        # A damaged or cut file fails deep inside the readers (mt-940's tags, dates, amounts): one refusal
        # with the way out, never a 500 (found by mutating statements: tests/payments/transfers).
        raise PaymentFileError([problem("statement_damaged")]) from exc

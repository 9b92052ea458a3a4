"""Elixir-O domestic transfer files (the "PLI" import format of Polish banks): writer and strict reader.

One transfer per line (record), 16 comma-separated fields, texts in double quotes, lines ending CRLF. The
field list is the one Polish banks document for importing domestic transfers in KIR's Elixir-O layout
(Alior/BPH "Opis formatu pliku płatności krajowych PLI", PKO "Struktura pliku wejściowego ipko biznes
ELIXIR-O", SGB, e25/def3000 "Format Elixir"; the same 16 fields appear in independent implementations):

====  =========================================  ============================================================
 #    field                                      rule here
====  =========================================  ============================================================
 1    message type                               ``110`` (polecenie przelewu)
 2    execution date                             ``YYYYMMDD``
 3    amount in grosze                           digits only, no separators, no leading zero, > 0, ≤ 15 digits
 4    payer's bank sort code                     8 digits = NRB digits 3-10 of field 6
 5    zero field                                 ``0``
 6    payer's account                            ``"NRB"`` 26 digits, valid check digits
 7    payee's account                            ``"NRB"`` 26 digits, valid check digits
 8    payer's name and address                   ``"4*35"`` lines separated by ``|``
 9    payee's name and address                   ``"4*35"``
 10   zero field                                 ``0``
 11   payee's bank sort code                     8 digits = NRB digits 3-10 of field 7
 12   title                                      ``"4*35"``; a split payment carries the MPP message here
 13   empty                                      ``""``
 14   empty                                      ``""``
 15   classification                             ``"51"`` transfer; ``"53"`` split payment (MPP)
 16   client's additional information            ``""`` here (≤ 35 characters when read)
====  =========================================  ============================================================

Classification ``53`` for MPP is the Elixir code banks map their split-payment type to (BNP Paribas's
pain.001 description: LclInstrm/Prtry "53"); ``51`` is the ordinary transfer.

**Encoding: Windows-1250.** It is what Polish banks' import screens take by default for Elixir-O and what
their manuals name first (some offer ISO-8859-2 or CP852 as alternatives, none takes UTF-8 everywhere). Every
Polish letter exists in it; text that it cannot carry is refused before writing, never replaced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .accounts import bank_sort_code, nrb_problem
from .errors import FileFormatError, format_error
from .model import Order, Payer, Transfer, prepare_orders
from .titles import LINE_LENGTH, TITLE_LINES, is_mpp_title, mpp_title_parse

ENCODING = "cp1250"
MESSAGE_TYPE = "110"
CLASS_TRANSFER = "51"
CLASS_SPLIT_PAYMENT = "53"
FIELD_COUNT = 16
_QUOTED = (6, 7, 8, 9, 12, 13, 14, 15, 16)


@dataclass(frozen=True)
class ElixirRecord:
    """One line of an Elixir-O file, field by field (lines of 4x35 fields as tuples)."""

    message_type: str
    execution_date: date
    amount: int
    payer_sort_code: str
    payer_nrb: str
    payee_nrb: str
    payer_lines: tuple[str, ...]
    payee_lines: tuple[str, ...]
    payee_sort_code: str
    title_lines: tuple[str, ...]
    classification: str
    additional: str = ""

    @property
    def title(self) -> str:
        return "".join(self.title_lines)


def elixir_record(order: Order) -> ElixirRecord:
    title = order.remittance
    return ElixirRecord(
        message_type=MESSAGE_TYPE,
        execution_date=order.execution_date,
        amount=order.amount,
        payer_sort_code=bank_sort_code(order.payer_nrb),
        payer_nrb=order.payer_nrb,
        payee_nrb=order.payee_nrb,
        payer_lines=order.payer_lines,
        payee_lines=order.payee_lines,
        payee_sort_code=bank_sort_code(order.payee_nrb),
        title_lines=tuple(title[i : i + LINE_LENGTH] for i in range(0, len(title), LINE_LENGTH)),
        classification=CLASS_SPLIT_PAYMENT if order.split_payment else CLASS_TRANSFER,
    )


def elixir_line(record: ElixirRecord) -> str:
    def quoted(text: str) -> str:
        return f'"{text}"'

    return ",".join(
        (
            record.message_type,
            record.execution_date.strftime("%Y%m%d"),
            str(record.amount),
            record.payer_sort_code,
            "0",
            quoted(record.payer_nrb),
            quoted(record.payee_nrb),
            quoted("|".join(record.payer_lines)),
            quoted("|".join(record.payee_lines)),
            "0",
            record.payee_sort_code,
            quoted("|".join(record.title_lines)),
            quoted(""),
            quoted(""),
            quoted(record.classification),
            quoted(record.additional),
        )
    )


def elixir_build(
    payer: Payer, transfers: list[Transfer] | tuple[Transfer, ...], *, today: date | None = None
) -> bytes:
    """The Elixir-O file for ``transfers`` (Windows-1250, CRLF); raises :class:`PaymentFileError`."""
    orders = prepare_orders(payer, transfers, today=today)
    return elixir_from_orders(orders)


def elixir_from_orders(orders: list[Order]) -> bytes:
    text = "".join(elixir_line(elixir_record(order)) + "\r\n" for order in orders)
    return text.encode(ENCODING)


def _split_fields(line: str, number: int) -> list[tuple[str, bool]]:
    """Fields of one record as (value, was_quoted); a quote may only open and close a whole field."""
    fields: list[tuple[str, bool]] = []
    position = 0
    while True:
        if line.startswith('"', position):
            end = line.find('"', position + 1)
            if end < 0:
                raise format_error(number, f"field {len(fields) + 1}: the closing quote is missing")
            fields.append((line[position + 1 : end], True))
            position = end + 1
            if position < len(line) and line[position] != ",":
                raise format_error(number, f"field {len(fields)}: text after the closing quote")
        else:
            end = line.find(",", position)
            end = len(line) if end < 0 else end
            value = line[position:end]
            if '"' in value:
                raise format_error(number, f"field {len(fields) + 1}: a quote inside an unquoted field")
            fields.append((value, False))
            position = end
        if position >= len(line):
            return fields
        position += 1  # the comma
        if position == len(line):
            fields.append(("", False))
            return fields


def _lines(value: str, number: int, field: int, *, required: bool) -> tuple[str, ...]:
    lines = tuple(value.split("|")) if value else ()
    if required and not any(line.strip() for line in lines):
        raise format_error(number, f"field {field}: empty")
    if len(lines) > TITLE_LINES:
        raise format_error(number, f"field {field}: {len(lines)} lines, at most {TITLE_LINES}")
    for line in lines:
        if len(line) > LINE_LENGTH:
            raise format_error(
                number, f"field {field}: a line of {len(line)} characters, at most {LINE_LENGTH}"
            )
    return lines


def _digits(value: str, number: int, field: int, length: int) -> str:
    if len(value) != length or not value.isascii() or not value.isdigit():
        raise format_error(number, f"field {field}: {value!r} is not {length} digits")
    return value


def elixir_parse_line(line: str, number: int = 1) -> ElixirRecord:
    """One record, every field rule of the table above checked; raises :class:`FileFormatError`."""
    fields = _split_fields(line, number)
    if len(fields) != FIELD_COUNT:
        raise format_error(number, f"{len(fields)} fields, an Elixir-O record has {FIELD_COUNT}")
    for position, (_, quoted) in enumerate(fields, start=1):
        if quoted != (position in _QUOTED):
            kind = "in quotes" if position in _QUOTED else "without quotes"
            raise format_error(number, f"field {position} must be {kind}")
    values = [value for value, _ in fields]
    if values[0] != MESSAGE_TYPE:
        raise format_error(number, f"field 1: message type {values[0]!r}, expected {MESSAGE_TYPE}")
    raw_date = _digits(values[1], number, 2, 8)
    try:
        execution_date = date(int(raw_date[:4]), int(raw_date[4:6]), int(raw_date[6:]))
    except ValueError:
        raise format_error(number, f"field 2: {raw_date} is not a date (YYYYMMDD)") from None
    amount_text = values[2]
    if (
        not (amount_text.isascii() and amount_text.isdigit())
        or amount_text.startswith("0")
        or len(amount_text) > 15
    ):
        raise format_error(number, f"field 3: {amount_text!r} is not an amount in grosze (digits, > 0)")
    for position in (5, 10):
        if values[position - 1] != "0":
            raise format_error(number, f"field {position}: must be 0")
    payer_sort = _digits(values[3], number, 4, 8)
    payee_sort = _digits(values[10], number, 11, 8)
    for position in (6, 7):
        if nrb_problem(values[position - 1]) is not None or not values[position - 1].isdigit():
            raise format_error(number, f"field {position}: {values[position - 1]!r} is not a valid NRB")
    payer_nrb, payee_nrb = values[5], values[6]
    if bank_sort_code(payer_nrb) != payer_sort:
        raise format_error(number, "field 4: the sort code is not the one in the payer's account")
    if bank_sort_code(payee_nrb) != payee_sort:
        raise format_error(number, "field 11: the sort code is not the one in the payee's account")
    payer_lines = _lines(values[7], number, 8, required=True)
    payee_lines = _lines(values[8], number, 9, required=True)
    title_lines = _lines(values[11], number, 12, required=True)
    if values[12] or values[13]:
        raise format_error(number, "fields 13 and 14 must be empty")
    classification = values[14]
    if classification not in (CLASS_TRANSFER, CLASS_SPLIT_PAYMENT):
        raise format_error(number, f"field 15: classification {classification!r}, expected 51 or 53")
    title = "".join(title_lines)
    if classification == CLASS_SPLIT_PAYMENT and not is_mpp_title(title):
        raise format_error(number, "field 12: a split payment (53) needs the /VAT/…/IDC/…/INV/… message")
    if classification == CLASS_SPLIT_PAYMENT:
        mpp_title_parse(title)
    if len(values[15]) > LINE_LENGTH:
        raise format_error(number, f"field 16: more than {LINE_LENGTH} characters")
    return ElixirRecord(
        message_type=values[0],
        execution_date=execution_date,
        amount=int(amount_text),
        payer_sort_code=payer_sort,
        payer_nrb=payer_nrb,
        payee_nrb=payee_nrb,
        payer_lines=payer_lines,
        payee_lines=payee_lines,
        payee_sort_code=payee_sort,
        title_lines=title_lines,
        classification=classification,
        additional=values[15],
    )


def elixir_parse(data: bytes) -> list[ElixirRecord]:
    """Every record of an Elixir-O file (Windows-1250; CRLF or LF); raises :class:`FileFormatError`."""
    try:
        text = data.decode(ENCODING)
    except UnicodeDecodeError as exc:
        raise format_error(data[: exc.start].count(b"\n") + 1, "not Windows-1250 text") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    records = []
    for number, raw in enumerate(lines, start=1):
        line = raw.removesuffix("\r")
        if "\r" in line:
            raise format_error(number, "a carriage return inside the line")
        records.append(elixir_parse_line(line, number))
    if not records:
        raise FileFormatError([*format_error(1, "the file has no records").problems])
    return records

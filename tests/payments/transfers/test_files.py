"""Elixir-O and pain.001.001.03: round trips, every Elixir-O field rule, the XSD, batch validation."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from payments.transfers import (
    FileFormatError,
    PaymentFileError,
    Transfer,
    elixir_build,
    elixir_parse,
    pain001_build,
    pain001_parse,
    pain001_validate,
    prepare_orders,
)
from payments.transfers.elixir import elixir_line, elixir_parse_line, elixir_record

from .helpers import PAYER_NRB, SELLER_NIP, ksef_number, nrb, nrbs, payer, polish_text, transfer


def _mpp(**overrides: object) -> Transfer:
    values: dict[str, object] = {
        "amount": Decimal("123.00"),
        "title": "za mąkę",
        "split_payment": True,
        "vat_amount": Decimal("23.00"),
        "seller_nip": SELLER_NIP,
        "invoice_number": ksef_number(),
    }
    values.update(overrides)
    return transfer(**values)


def _batch() -> list[Transfer]:
    return [
        transfer(),
        transfer(payee_name="Hurtownia „Łąka” spółka z ograniczoną odpowiedzialnością w Gdańsku", amount=1),
        _mpp(),
        transfer(title="Zwrot kaucji, umowa 7/2027", execution_date=date(2027, 1, 21), payee_address=()),
    ]


# --- Elixir-O ---


def test_elixir_record_layout() -> None:
    data = elixir_build(payer(), [transfer()])
    assert data.endswith(b"\r\n")
    assert data.count(b"\r\n") == 1
    line = data.decode("cp1250").removesuffix("\r\n")
    assert line == (
        f'110,20270120,12345,10901014,0,"{PAYER_NRB}","{nrb()}",'
        '"Piekarnia Żółć Sp. z o.o.|ul. Polna 1|00-001 Warszawa",'
        '"Młyn Zbożowy S.A.|ul. Młyńska 5|60-001 Poznań",'
        f'0,10202964,"{ksef_number()}","","","51",""'
    )


def test_elixir_is_windows_1250() -> None:
    data = elixir_build(payer(), [transfer()])
    assert "Żółć".encode("cp1250") in data
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")


def test_elixir_round_trip() -> None:
    transfers = _batch()
    data = elixir_build(payer(), transfers)
    records = elixir_parse(data)
    orders = prepare_orders(payer(), transfers)
    assert records == [elixir_record(o) for o in orders]
    for record, order in zip(records, orders, strict=True):
        assert record.amount == order.amount
        assert record.title == order.remittance
        assert record.payee_nrb == order.payee_nrb
        assert record.execution_date == order.execution_date
        assert record.payee_lines == order.payee_lines
    assert records[2].classification == "53"
    assert records[2].title.startswith("/VAT/23,00/IDC/5260250274/INV/" + ksef_number())
    assert [r.classification for r in records] == ["51", "51", "53", "51"]
    # a 70-character name takes two 35-character lines
    assert records[1].payee_lines[:2] == (
        "Hurtownia „Łąka” spółka z ograniczo",
        "ną odpowiedzialnością w Gdańsku",
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            nrbs,
            st.integers(1, 10**11),
            polish_text,
            polish_text,
            st.dates(date(2026, 1, 1), date(2030, 12, 31)),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_elixir_round_trip_for_any_batch(rows: list[tuple[str, int, str, str, date]]) -> None:
    transfers = [
        transfer(
            payee_account=account,
            amount=amount,
            payee_name=name,
            title=title,
            execution_date=day,
            payee_address=(),
        )
        for account, amount, name, title, day in rows
        if account != PAYER_NRB
    ]
    if not transfers:
        return
    assert elixir_parse(elixir_build(payer(), transfers)) == [
        elixir_record(o) for o in prepare_orders(payer(), transfers)
    ]


GOOD = elixir_line(elixir_record(prepare_orders(payer(), [transfer()])[0]))


def _field(index: int, value: str) -> str:
    """GOOD with field ``index`` (1-based) replaced by ``value`` (raw, quotes included if wanted)."""
    fields = GOOD.split(",")
    fields[index - 1] = value
    return ",".join(fields)


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        (_field(1, "210"), "field 1"),
        (_field(2, "20270230"), "field 2"),
        (_field(2, "2027012"), "field 2"),
        (_field(3, "012345"), "field 3"),
        (_field(3, "123,45"), "fields"),
        (_field(3, "0"), "field 3"),
        (_field(3, "1234567890123456"), "field 3"),
        (_field(4, "10901015"), "field 4"),
        (_field(5, "1"), "field 5"),
        (_field(6, f'"{PAYER_NRB[:-1]}5"'), "field 6"),
        (_field(6, PAYER_NRB), "field 6 must be in quotes"),
        (_field(7, f'"{nrb()[1:]}"'), "field 7"),
        (_field(8, '"' + "|".join(["x"] * 5) + '"'), "field 8"),
        (_field(9, '"' + "y" * 36 + '"'), "field 9"),
        (_field(9, '""'), "field 9"),
        (_field(10, "00"), "field 10"),
        (_field(11, "10501445"), "field 11"),
        (_field(12, '""'), "field 12"),
        (_field(13, '"x"'), "fields 13 and 14"),
        (_field(15, '"52"'), "field 15"),
        (_field(15, '"53"'), "field 12"),
        (_field(16, '"' + "z" * 36 + '"'), "field 16"),
        (GOOD + ',""', "17 fields"),
        (GOOD.replace('"51"', '"51'), "closing quote"),
        (GOOD.replace(',"51"', ',"51"x'), "after the closing quote"),
    ],
)
def test_every_elixir_field_rule_is_checked(line: str, needle: str) -> None:
    assert elixir_parse_line(GOOD) is not None
    with pytest.raises(FileFormatError) as caught:
        elixir_parse_line(line, 7)
    assert needle in str(caught.value)
    assert str(caught.value).startswith("Line 7:")


def test_elixir_reader_refuses_other_encodings_and_empty_files() -> None:
    with pytest.raises(FileFormatError):
        elixir_parse(b"")
    with pytest.raises(FileFormatError):
        elixir_parse(GOOD.encode("utf-8").replace(b"Poznan", b"\x81") + b"\x81\r\n")


# --- batch validation (messages the person paying sees) ---------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"amount": 0}, "amount_not_positive"),
        ({"amount": -5}, "amount_not_positive"),
        ({"amount": 10**15}, "amount_too_large"),
        ({"amount": 12.5}, "amount_type"),
        ({"currency": "EUR"}, "currency_not_pln"),
        ({"title": "x" * 141}, "text_too_long"),
        ({"title": "   "}, "text_empty"),
        ({"title": 'say "hi"'}, "text_forbidden_char"),
        ({"title": "a|b"}, "text_forbidden_char"),
        ({"title": "ok\x07then"}, "text_forbidden_char"),
        ({"title": "faktura 日本"}, "text_not_cp1250"),
        ({"payee_name": ""}, "text_empty"),
        ({"payee_name": "n" * 71}, "text_too_long"),
        ({"payee_address": ("a" * 36,)}, "text_too_long"),
        ({"payee_name": "n" * 70, "payee_address": ("a", "b", "c")}, "text_too_long"),
        ({"payee_account": "DE89370400440532013000"}, "account_foreign"),
        ({"payee_account": "PL" + PAYER_NRB}, "account_same"),
        ({"payee_account": nrb()[:-1] + "0"}, "account_checksum"),
        ({"split_payment": True}, "mpp_vat_missing"),
        ({"split_payment": True, "vat_amount": 100, "seller_nip": "123"}, "mpp_nip_invalid"),
        (
            {"split_payment": True, "vat_amount": 20000, "seller_nip": SELLER_NIP, "invoice_number": "FV"},
            "mpp_vat_exceeds_amount",
        ),
        (
            {
                "split_payment": True,
                "vat_amount": 100,
                "seller_nip": SELLER_NIP,
                "invoice_number": "FV",
                "title": "t" * 34,
            },
            "mpp_text_too_long",
        ),
        ({"reference": "r" * 36}, "text_too_long"),
    ],
)
def test_bad_transfers_are_refused_with_a_reason(overrides: dict[str, object], code: str) -> None:
    with pytest.raises(PaymentFileError) as caught:
        elixir_build(payer(), [transfer(), transfer(**overrides)])
    assert code in caught.value.codes
    assert all(p.index == 1 for p in caught.value.problems)
    assert str(caught.value).startswith("#2: ")


def test_every_problem_of_a_batch_is_reported_at_once() -> None:
    with pytest.raises(PaymentFileError) as caught:
        pain001_build(payer(), [transfer(amount=0), transfer(payee_account="1"), transfer(title="")])
    assert caught.value.codes == ("amount_not_positive", "account_format", "text_empty")
    assert [p.index for p in caught.value.problems] == [0, 1, 2]


def test_no_transfers_and_past_dates() -> None:
    with pytest.raises(PaymentFileError) as caught:
        elixir_build(payer(), [])
    assert caught.value.codes == ("no_transfers",)
    with pytest.raises(PaymentFileError) as caught:
        elixir_build(payer(), [transfer()], today=date(2027, 1, 21))
    assert caught.value.codes == ("date_past",)


# --- pain.001.001.03 -------------------------------------------------------------------------------------


def test_pain001_is_valid_against_the_official_xsd_and_round_trips() -> None:
    transfers = _batch()
    data = pain001_build(
        payer(), transfers, message_id="KSEF-2027-01-20-001", created_at=datetime(2027, 1, 19, 8, tzinfo=UTC)
    )
    pain001_validate(data)
    assert pain001_parse(data) == prepare_orders(payer(), transfers)
    root = etree.fromstring(data)
    ns = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
    assert root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs", namespaces=ns) == "4"
    assert root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", namespaces=ns) == "369.91"
    assert len(root.findall("p:CstmrCdtTrfInitn/p:PmtInf", ns)) == 2  # two execution dates
    mpp = root.findall(".//p:CdtTrfTxInf", ns)[2]
    assert mpp.findtext("p:PmtTpInf/p:LclInstrm/p:Prtry", namespaces=ns) == "53"
    assert mpp.findtext("p:RmtInf/p:Ustrd", namespaces=ns).startswith("/VAT/23,00/IDC/")
    assert mpp.findtext("p:CdtrAgt/p:FinInstnId/p:ClrSysMmbId/p:MmbId", namespaces=ns) == "10202964"
    assert "Żółć" in data.decode("utf-8")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(nrbs, st.integers(1, 10**11), polish_text), min_size=1, max_size=4))
def test_pain001_is_schema_valid_for_any_batch(rows: list[tuple[str, int, str]]) -> None:
    transfers = [transfer(payee_account=a, amount=m, title=t) for a, m, t in rows if a != PAYER_NRB]
    if transfers:
        data = pain001_build(payer(), transfers, message_id="M1", created_at=datetime(2027, 1, 1, tzinfo=UTC))
        assert pain001_parse(data) == prepare_orders(payer(), transfers)


def test_the_xsd_check_can_fail() -> None:
    data = pain001_build(payer(), [transfer()], message_id="M1", created_at=datetime(2027, 1, 1, tzinfo=UTC))
    broken = data.replace(b"<PmtMtd>TRF</PmtMtd>", b"<PmtMtd>XXX</PmtMtd>")
    with pytest.raises(FileFormatError) as caught:
        pain001_validate(broken)
    assert caught.value.codes == ("xml_invalid",)
    with pytest.raises(FileFormatError):
        pain001_validate(b"<not-xml")
    too_long = data.replace(b"<MsgId>M1</MsgId>", b"<MsgId>" + b"M" * 36 + b"</MsgId>")
    with pytest.raises(FileFormatError):
        pain001_validate(too_long)


def test_pain001_message_id_is_bounded() -> None:
    with pytest.raises(PaymentFileError) as caught:
        pain001_build(payer(), [transfer()], message_id="x" * 36)
    assert caught.value.codes == ("text_too_long",)

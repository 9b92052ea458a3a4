"""MT940 (Polish :86:) and camt.053 statements, other formats refused, the matcher table with reasons."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payments.transfers import (
    OpenInvoice,
    PaymentFileError,
    StatementEntry,
    elixir_build,
    match_payments,
    pain001_build,
    statement_parse,
)
from payments.transfers.statements import mt940_details

from .helpers import PAYER_NRB, SELLER_NIP, collective_id, ksef_number, nrb, payer, transfer

K1 = ksef_number(tech="0123456789A1")
K2 = ksef_number(tech="0123456789A2")
K3 = ksef_number(tech="0123456789A3")
SELLER = nrb()


def _mt940(details: str, line61: str = ":61:2701200120D123,45NTRFNONREF//BR27020001") -> bytes:
    text = "\r\n".join(
        [
            ":20:ST270120/1",
            f":25:/PL{PAYER_NRB}",
            ":28C:12/1",
            ":60F:C270119PLN10000,00",
            line61,
            f":86:{details}",
            ":61:2701200120C50,00NTRFNONREF//BR27020002",
            ":86:020~00VE01WPŁATA~20Zwrot nadpłaty~27Klient Sp. z o.o.",
            ":62F:C270120PLN9926,55",
            "-",
        ]
    )
    return (text + "\r\n").encode("cp1250")


def test_mt940_polish_subfields_and_a_ksef_number_cut_across_lines() -> None:
    # the bank cuts the title into 27-character ~20/~21 pieces and wraps :86: at 65 characters
    details = (
        f"020~00VE02PRZELEW~20{K1[:27]}~21{K1[27:]} FV 1/2027\r\n"
        f"~27MŁYN ZBOŻOWY S.A.~29UL. MŁYŃSKA 5~38PL{SELLER}"
    )
    (statement,) = statement_parse(_mt940(details))
    assert statement.account == PAYER_NRB
    assert statement.opening_balance == 1_000_000
    assert statement.closing_balance == 992_655
    debit, credit = statement.entries
    assert debit.amount == -12345
    assert debit.currency == "PLN"
    assert debit.is_debit
    assert debit.booking_date == date(2027, 1, 20)
    assert debit.title == f"{K1} FV 1/2027"
    assert debit.counterparty_name == "MŁYN ZBOŻOWY S.A."
    assert debit.counterparty_account == SELLER
    assert debit.code == "020"
    assert credit.amount == 5000
    assert credit.title == "Zwrot nadpłaty"


@pytest.mark.parametrize("separator", ["~", "^", "+", "<"])
def test_mt940_subfield_separators_of_different_banks(separator: str) -> None:
    sort_code, account = SELLER[2:10], SELLER[10:]
    fields = mt940_details(
        f"020{separator}00PRZELEW{separator}20{K1}{separator}3010202964{separator}31{account}"
    )
    assert fields["title"] == K1
    assert sort_code == "10202964"
    assert fields["account"] == SELLER  # check digits rebuilt from ~30 + ~31


def test_mt940_unstructured_86_is_the_title() -> None:
    assert mt940_details(f"Przelew {K1}")["title"] == f"Przelew {K1}"


def _camt(entries: str, kind: str = "camt.053.001.02") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:{kind}">
 <BkToCstmrStmt>
  <GrpHdr><MsgId>S1</MsgId><CreDtTm>2027-01-20T18:00:00</CreDtTm></GrpHdr>
  <Stmt>
   <Id>STMT-12</Id><ElctrncSeqNb>12</ElctrncSeqNb><CreDtTm>2027-01-20T18:00:00</CreDtTm>
   <Acct><Id><IBAN>PL{PAYER_NRB}</IBAN></Id><Ccy>PLN</Ccy></Acct>
   <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="PLN">10000.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>
    <Dt><Dt>2027-01-19</Dt></Dt></Bal>
   <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="PLN">9753.55</Amt><CdtDbtInd>CRDT</CdtDbtInd>
    <Dt><Dt>2027-01-20</Dt></Dt></Bal>
   {entries}
  </Stmt>
 </BkToCstmrStmt>
</Document>""".encode()


DEBIT = f"""<Ntry><Amt Ccy="PLN">123.45</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>
 <BookgDt><Dt>2027-01-20</Dt></BookgDt><ValDt><Dt>2027-01-20</Dt></ValDt><AcctSvcrRef>REF1</AcctSvcrRef>
 <NtryDtls><TxDtls><RltdPties><Cdtr><Nm>Młyn Zbożowy S.A.</Nm></Cdtr>
 <CdtrAcct><Id><IBAN>PL{SELLER}</IBAN></Id></CdtrAcct>
 </RltdPties><RmtInf><Ustrd>{K1[:20]}</Ustrd><Ustrd>{K1[20:]}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"""
BATCH = f"""<Ntry><Amt Ccy="PLN">246.90</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>
 <BookgDt><Dt>2027-01-20</Dt></BookgDt><NtryDtls>
 <TxDtls><AmtDtls><TxAmt><Amt Ccy="PLN">123.45</Amt></TxAmt></AmtDtls>
 <RmtInf><Ustrd>{K2}</Ustrd></RmtInf></TxDtls>
 <TxDtls><AmtDtls><TxAmt><Amt Ccy="PLN">123.45</Amt></TxAmt></AmtDtls>
 <RmtInf><Ustrd>{K3}</Ustrd></RmtInf></TxDtls>
 </NtryDtls></Ntry>"""
PENDING = """<Ntry><Amt Ccy="PLN">1.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>PDNG</Sts>
 <BookgDt><Dt>2027-01-20</Dt></BookgDt></Ntry>"""


def test_camt053_entries_batches_and_balances() -> None:
    (statement,) = statement_parse(_camt(DEBIT + BATCH + PENDING))
    assert statement.account == PAYER_NRB
    assert statement.currency == "PLN"
    assert statement.number == "12"
    assert statement.opening_balance == 1_000_000
    assert statement.closing_balance == 975_355
    first, second, third = statement.entries  # the pending entry is not money yet
    assert first.amount == -12345
    assert first.title == K1
    assert first.counterparty_account == SELLER
    assert first.counterparty_name == "Młyn Zbożowy S.A."
    assert first.bank_reference == "REF1"
    assert (second.amount, second.title, third.amount, third.title) == (-12345, K2, -12345, K3)


def test_camt053_newer_versions_are_read_too() -> None:
    (statement,) = statement_parse(_camt(DEBIT, kind="camt.053.001.08"))
    assert statement.entries[0].title == K1


@pytest.mark.parametrize(
    ("data", "code", "needle"),
    [
        (lambda: _camt(DEBIT, kind="camt.052.001.02"), "statement_other_xml", "camt.052.001.02"),
        (
            lambda: pain001_build(
                payer(), [transfer()], message_id="M", created_at=datetime(2027, 1, 1, tzinfo=UTC)
            ),
            "statement_other_xml",
            "pain.001.001.03",
        ),
        (lambda: elixir_build(payer(), [transfer()]), "statement_unknown", "MT940 or camt.053"),
        (lambda: b"Data;Kwota;Tytul\r\n2027-01-20;-123,45;FV 1\r\n", "statement_unknown", "MT940"),
        (
            lambda: b"<Faktura xmlns='http://crd.gov.pl/wzor/2025/06/25/13775/'/>",
            "statement_unknown",
            "MT940",
        ),
        (lambda: b"", "statement_unknown", "MT940"),
    ],
)
def test_other_formats_are_refused_clearly(data: object, code: str, needle: str) -> None:
    with pytest.raises(PaymentFileError) as caught:
        statement_parse(data())  # type: ignore[operator]
    assert caught.value.codes == (code,)
    assert needle in str(caught.value)


def test_broken_xml_is_a_format_error() -> None:
    with pytest.raises(PaymentFileError) as caught:
        statement_parse(b"<Document><BkToCstmrStmt>")
    assert caught.value.codes == ("file_format",)


# --- the matcher ------------------------------------------------------------------------------------------


def _debit(
    title: str, grosze: int, *, currency: str = "PLN", counterparty_account: str = ""
) -> StatementEntry:
    return StatementEntry(
        amount=-grosze,
        currency=currency,
        booking_date=date(2027, 1, 20),
        title=title,
        counterparty_account=counterparty_account,
    )


INVOICES = (
    OpenInvoice(K1, Decimal("123.45"), seller_account="PL" + SELLER),
    OpenInvoice(K2, 20000),
    OpenInvoice(K3, 30000),
)
IZ = collective_id()


@pytest.mark.parametrize(
    ("entries", "paid", "partial", "overpaid", "entry_reasons", "invoice_reasons", "why"),
    [
        ([_debit(f"Zapłata {K1}", 12345)], [K1], [], [], [], ["paid"], "number and amount agree"),
        ([_debit(K1.lower(), 12345)], [K1], [], [], [], ["paid"], "case does not matter"),
        (
            [_debit(f"/VAT/23,08/IDC/{SELLER_NIP}/INV/{K1}/TXT/FV 1", 12345)],
            [K1],
            [],
            [],
            [],
            ["paid"],
            "a split payment names the invoice in INV",
        ),
        ([_debit(K2, 5000), _debit(K2, 15000)], [K2], [], [], [], ["paid_in_parts"], "two instalments"),
        ([_debit(K2, 5000)], [], [K2], [], [], ["partial"], "one instalment of two"),
        ([_debit(K2, 25000)], [], [], [K2], [], ["overpaid"], "more than due: a person looks"),
        (
            [_debit(K2 + K3, 50000)],
            [K2, K3],
            [],
            [],
            [],
            ["paid_together", "paid_together"],
            "two numbers, exact total",
        ),
        (
            [_debit(K2 + K3, 40000)],
            [],
            [],
            [],
            ["amounts_do_not_add_up"],
            [],
            "two numbers, wrong total: no guess",
        ),
        (
            [_debit(IZ, 50000)],
            [K2, K3],
            [],
            [],
            [],
            ["paid_collective", "paid_collective"],
            "collective identifier",
        ),
        (
            [_debit(collective_id(tech="FFFFFFFFFFFF"), 50000)],
            [],
            [],
            [],
            ["collective_unknown"],
            [],
            "unknown IZ",
        ),
        (
            [_debit("Faktura FV 1/2027", 12345)],
            [],
            [],
            [],
            ["no_ksef_number"],
            [],
            "same amount, no number: no guess",
        ),
        ([_debit(K1[:-2] + "00", 12345)], [], [], [], ["no_ksef_number"], [], "a wrong CRC is not a number"),
        (
            [_debit(ksef_number(tech="FFFFFFFFFFFF"), 12345)],
            [],
            [],
            [],
            ["unknown_invoice"],
            [],
            "not among open invoices",
        ),
        (
            [_debit(K1 + ksef_number(tech="FFFFFFFFFFFF"), 12345)],
            [],
            [],
            [],
            ["unknown_invoice"],
            [],
            "one known, one not",
        ),
        ([_debit(K1, 12345, currency="EUR")], [], [], [], ["currency_differs"], [], "currency differs"),
        (
            [_debit(K1, 12345, counterparty_account=nrb(account="9999999999999999"))],
            [],
            [],
            [],
            ["account_differs"],
            [],
            "money went elsewhere",
        ),
        (
            [_debit(K1, 12345, counterparty_account=SELLER)],
            [K1],
            [],
            [],
            [],
            ["paid"],
            "the seller's own account",
        ),
        (
            [StatementEntry(amount=12345, currency="PLN", booking_date=date(2027, 1, 20), title=K1)],
            [],
            [],
            [],
            ["not_a_payment"],
            [],
            "incoming money is not our payment",
        ),
    ],
)
def test_matcher_table(
    entries: list[StatementEntry],
    paid: list[str],
    partial: list[str],
    overpaid: list[str],
    entry_reasons: list[str],
    invoice_reasons: list[str],
    why: str,
) -> None:
    report = match_payments(entries, INVOICES, collective={IZ: (K2, K3)})
    assert [m.invoice.ksef_number for m in report.paid] == paid, why
    assert [m.invoice.ksef_number for m in report.partial] == partial, why
    assert [m.invoice.ksef_number for m in report.overpaid] == overpaid, why
    assert [f.reason for f in report.entries] == entry_reasons, why
    assert [m.reason for m in report.invoices] == invoice_reasons, why
    assert all(m.message for m in report.invoices)  # every reason renders to a sentence
    assert all(f.message for f in report.entries)


def test_matcher_messages_carry_the_figures() -> None:
    report = match_payments([_debit(K2, 5000)], INVOICES)
    assert report.partial[0].message == "Payments naming the invoice add up to 50,00 of 200,00."
    assert report.partial[0].paid == 5000


def test_statement_to_matcher_end_to_end() -> None:
    details = f"020~00VE02PRZELEW~20{K1[:27]}~21{K1[27:]}~38PL{SELLER}"
    (statement,) = statement_parse(_mt940(details))
    report = match_payments(statement.entries, INVOICES)
    assert [m.invoice.ksef_number for m in report.paid] == [K1]
    assert [f.reason for f in report.entries] == ["not_a_payment"]


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_a_damaged_statement_is_refused_with_a_message(data: st.DataObject) -> None:
    """Bytes changed, cut out, inserted or the file cut short: either a statement or a PaymentFileError
    with a message, never another exception (the import page would answer 500). Found by mutation: mt-940's
    RuntimeError, a KeyError, InvalidOperation and a date's ValueError escaped before."""
    sample = bytearray(
        data.draw(st.sampled_from([_mt940("~20FAKTURA " + K1 + "~27Dostawca"), _camt(DEBIT + BATCH)]))
    )
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, max(0, len(sample) - 1)))
        action = data.draw(st.sampled_from(["set", "cut", "insert", "truncate"]))
        if action == "set" and sample:
            sample[at] = data.draw(st.integers(0, 255))
        elif action == "cut":
            del sample[at : at + data.draw(st.integers(1, 40))]
        elif action == "insert":
            sample[at:at] = data.draw(st.binary(min_size=1, max_size=10))
        else:
            sample = sample[:at]
    message = ""
    try:
        statement_parse(bytes(sample))
    except PaymentFileError as refused:
        message = str(refused)
        assert message, "a refusal says why"

"""Invoices in another currency than PLN: pain.001 pays them in their currency (to a Polish account, or to an
IBAN in a SEPA country in EUR, without a BIC), valid against the XSD; what a format cannot carry is refused
with a message naming the way out (Elixir-O: PLN and Polish accounts only; outside SEPA: the BIC)."""

from __future__ import annotations

import pytest

from payments.transfers import PaymentFileError, elixir_build, pain001_build, pain001_parse
from tests.payments.transfers.helpers import payer, transfer

GERMAN_IBAN = "DE89 3704 0044 0532 0130 00"  # the IBAN registry's sample for Germany
BRITISH_IBAN = "GB82WEST12345698765432"
US_ACCOUNT = "US64SVBKUS6S3300958879"  # not an IBAN country at all


def test_pain001_pays_each_invoice_in_its_currency_and_a_german_iban_by_sepa() -> None:
    rows = [
        transfer(amount=100_00, currency="EUR", payee_account=GERMAN_IBAN, payee_name="Müller GmbH"),
        transfer(amount=50_00, currency="EUR"),
        transfer(amount=70_00),
    ]
    data = pain001_build(payer(), rows)
    orders = pain001_parse(data)
    assert [(o.currency, o.amount, o.payee_iban) for o in orders] == [
        ("EUR", 100_00, "DE89370400440532013000"),
        ("EUR", 50_00, ""),
        ("PLN", 70_00, ""),
    ]
    text = data.decode()
    assert text.count("<PmtInf>") == 2  # one per currency: each CtrlSum adds like amounts
    assert text.count("<Cd>SEPA</Cd>") == 1
    assert "<ChrgBr>SLEV</ChrgBr>" in text
    assert 'Ccy="EUR">100.00<' in text


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"currency": "GBP", "payee_account": BRITISH_IBAN}, "foreign_not_sepa"),
        ({"currency": "USD", "payee_account": GERMAN_IBAN}, "foreign_not_sepa"),
        ({"currency": "EUR", "payee_account": US_ACCOUNT}, "account_checksum"),
        ({"currency": "EUR", "payee_account": "DE89370400440532013001"}, "account_checksum"),
        ({"currency": "EURO"}, "currency_invalid"),
        (
            {
                "currency": "EUR",
                "split_payment": True,
                "vat_amount": 10_00,
                "seller_nip": "5260250274",
                "invoice_number": "FV 1",
            },
            "mpp_not_pln",
        ),
    ],
)
def test_pain001_refuses_what_it_cannot_carry_with_the_reason(
    overrides: dict[str, object], code: str
) -> None:
    with pytest.raises(PaymentFileError) as caught:
        pain001_build(payer(), [transfer(**overrides)])
    assert code in caught.value.codes
    if code == "foreign_not_sepa":
        assert "BIC" in caught.value.problems[0].message


def test_elixir_refuses_other_currencies_and_foreign_accounts_naming_pain001() -> None:
    with pytest.raises(PaymentFileError) as caught:
        elixir_build(payer(), [transfer(currency="EUR"), transfer(payee_account=GERMAN_IBAN, currency="EUR")])
    assert set(caught.value.codes) == {"currency_not_pln", "account_foreign"}
    assert "pain.001" in caught.value.problems[0].message

"""NRB check digits (hypothesis), KSeF-number titles and the split-payment (MPP) message."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.transfers import (
    PaymentFileError,
    collective_id_is_valid,
    ksef_title,
    mpp_title,
    mpp_title_parse,
    nrb_is_valid,
    nrb_normalize,
    to_grosze,
)
from payments.transfers.accounts import nrb_problem
from payments.transfers.titles import MppTitle

from .helpers import SELLER_NIP, collective_id, ksef_number, nrb, nrbs


@given(nrbs)
def test_a_built_nrb_is_valid_in_every_spelling(account: str) -> None:
    spaced = " ".join([account[:2]] + [account[i : i + 4] for i in range(2, 26, 4)])
    assert nrb_is_valid(account)
    assert nrb_normalize("PL" + spaced) == account
    assert nrb_normalize(account) == account


@given(nrbs, st.integers(0, 25), st.integers(1, 9))
def test_one_changed_digit_is_refused(account: str, position: int, delta: int) -> None:
    digits = list(account)
    digits[position] = str((int(digits[position]) + delta) % 10)
    found = nrb_problem("".join(digits))
    assert found is not None
    assert found.code in ("account_checksum", "account_sort_code")


@given(nrbs, st.integers(0, 24))
def test_swapped_neighbours_are_refused(account: str, position: int) -> None:
    digits = list(account)
    if digits[position] == digits[position + 1]:
        return
    digits[position], digits[position + 1] = digits[position + 1], digits[position]
    assert not nrb_is_valid("".join(digits))


def test_the_sort_code_check_digit_is_its_own_rule() -> None:
    # 1020 2963 has check digit 4 by the NBP weights; give it a correct IBAN checksum anyway
    from payments.transfers.accounts import nrb_check_digits

    bban = "10202963" + "1234567890123456"
    found = nrb_problem(nrb_check_digits(bban) + bban)
    assert found is not None
    assert found.code == "account_sort_code"
    assert "sort code" in found.message


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("DE89370400440532013000", "account_foreign"),
        ("DE89370400440532013001", "account_checksum"),
        ("1234", "account_format"),
        ("PL6110901014000007121981287X", "account_format"),
        ("62109010140000071219812874", "account_checksum"),
    ],
)
def test_account_problems_have_their_own_message(value: str, code: str) -> None:
    found = nrb_problem(value)
    assert found is not None
    assert found.code == code
    assert value in found.message


def test_foreign_iban_message_names_the_country() -> None:
    with pytest.raises(PaymentFileError) as caught:
        nrb_normalize("DE89 3704 0044 0532 0130 00")
    assert "DE" in str(caught.value)
    assert "only Polish accounts" in str(caught.value)


def test_the_polish_translation_is_used_under_polish(settings: object) -> None:
    from django.utils import translation

    found = nrb_problem("62109010140000071219812874")
    assert found is not None
    with translation.override("en"):
        assert found.message.startswith("The account number")


@pytest.mark.parametrize(
    ("amount", "grosze"),
    [(12345, 12345), (Decimal("123.45"), 12345), (Decimal("10"), 1000), (Decimal("0.1"), 10)],
)
def test_amounts_are_whole_grosze(amount: object, grosze: int) -> None:
    assert to_grosze(amount) == grosze


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        (1.5, "amount_type"),
        (True, "amount_type"),
        (Decimal("1.234"), "amount_precision"),
        (Decimal("NaN"), "amount_type"),
    ],
)
def test_amounts_that_are_not_money_are_refused(amount: object, code: str) -> None:
    with pytest.raises(PaymentFileError) as caught:
        to_grosze(amount)
    assert caught.value.codes == (code,)


# --- KSeF numbers in titles -------------------------------------------------------------------------------


def test_one_invoice_title_is_its_ksef_number() -> None:
    number = ksef_number()
    assert ksef_title([number]) == number
    assert len(number) == 35


def test_four_invoices_fill_the_four_lines_one_number_each() -> None:
    numbers = [ksef_number(tech=f"0123456789A{i}") for i in range(4)]
    title = ksef_title(numbers)
    assert len(title) == 140
    assert [title[i : i + 35] for i in range(0, 140, 35)] == numbers


def test_five_invoices_do_not_fit_and_the_error_says_what_to_do() -> None:
    numbers = [ksef_number(tech=f"0123456789A{i}") for i in range(5)]
    with pytest.raises(PaymentFileError) as caught:
        ksef_title(numbers)
    assert caught.value.codes == ("ksef_numbers_do_not_fit",)
    assert "collective" in str(caught.value)
    assert "separate transfers" in str(caught.value)


def test_with_a_collective_identifier_the_title_is_the_identifier() -> None:
    numbers = [ksef_number(tech=f"0123456789A{i}") for i in range(9)]
    identifier = collective_id()
    assert ksef_title(numbers, collective_id=identifier) == identifier


def test_the_spec_example_collective_identifier_checks() -> None:
    assert collective_id_is_valid("1111111111-IZ202607-65ED02180000-E7")
    assert not collective_id_is_valid("1111111111-IZ202607-65ED02180000-E8")


@pytest.mark.parametrize(
    ("numbers", "identifier", "code"),
    [
        (["5260250274-20270115-0123456789AB-00"], None, "ksef_number_invalid"),
        ([ksef_number(), ksef_number(nip="1111111111")], None, "ksef_numbers_sellers"),
        ([ksef_number()], collective_id(nip="1111111111"), "collective_id_seller"),
        ([], None, "ksef_numbers_none"),
        ([ksef_number()], "1111111111-IZ202607-65ED02180000-00", "collective_id_invalid"),
    ],
)
def test_titles_that_cannot_be_made(numbers: list[str], identifier: str | None, code: str) -> None:
    with pytest.raises(PaymentFileError) as caught:
        ksef_title(numbers, collective_id=identifier)
    assert code in caught.value.codes


# --- split payment ------------------------------------------------------------------------------------------


def test_mpp_title_has_the_banks_format() -> None:
    title = mpp_title(vat=Decimal("10.00"), seller_nip=SELLER_NIP, invoice="FV 1/2027", text="za mąkę")
    assert title == "/VAT/10,00/IDC/5260250274/INV/FV 1/2027/TXT/za mąkę"


def test_mpp_title_with_the_ksef_number_fits_exactly_and_round_trips() -> None:
    number = ksef_number()
    title = mpp_title(vat=2300, seller_nip="PL" + SELLER_NIP, invoice=number)
    assert title == f"/VAT/23,00/IDC/{SELLER_NIP}/INV/{number}"
    assert mpp_title_parse(title) == MppTitle(vat=2300, seller_nip=SELLER_NIP, invoice=number)


@given(
    st.integers(1, 10**12 - 1),
    st.text("ABCDEFGHIJ0123456789 /-", min_size=1, max_size=35).filter(
        lambda s: s.strip() == s and "/TXT/" not in s and "/INV/" not in s
    ),
    st.text("abcdefghij żółć", max_size=33).map(str.strip),
)
def test_mpp_title_round_trips(vat: int, invoice: str, text: str) -> None:
    title = mpp_title(vat=vat, seller_nip=SELLER_NIP, invoice=invoice, text=text)
    assert len(title) <= 140
    assert mpp_title_parse(title) == MppTitle(vat=vat, seller_nip=SELLER_NIP, invoice=invoice, text=text)


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"vat": 0}, "mpp_vat_not_positive"),
        ({"vat": 10**12}, "mpp_vat_too_large"),
        ({"seller_nip": "5260250275"}, "mpp_nip_invalid"),
        ({"invoice": ""}, "mpp_invoice_missing"),
        ({"invoice": "X" * 36}, "mpp_invoice_too_long"),
        ({"text": "t" * 34}, "mpp_text_too_long"),
        ({"vat": 1.0}, "amount_type"),
    ],
)
def test_mpp_limits(kwargs: dict[str, object], code: str) -> None:
    values: dict[str, object] = {"vat": 100, "seller_nip": SELLER_NIP, "invoice": "FV 1", "text": ""}
    values.update(kwargs)
    with pytest.raises(PaymentFileError) as caught:
        mpp_title(**values)  # type: ignore[arg-type]
    assert code in caught.value.codes


def test_a_plain_title_is_not_an_mpp_message() -> None:
    with pytest.raises(PaymentFileError):
        mpp_title_parse("Zapłata za FV 1/2027")


def test_nrb_helper_builds_real_accounts() -> None:
    assert nrb("1090101", "0000071219812874") == "61109010140000071219812874"


def test_polish_messages() -> None:
    """A Polish user reads the refusals in Polish (the English above are the source texts)."""
    from django.utils import translation

    numbers = [ksef_number(tech=f"0123456789A{i}") for i in range(5)]
    with translation.override("pl"), pytest.raises(PaymentFileError) as caught:
        ksef_title(numbers)
    assert "identyfikator zbiorczy" in str(caught.value)

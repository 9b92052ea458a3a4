"""Realistic inputs for the payment-file tests: NRBs with computed check digits, KSeF numbers with CRC."""

from __future__ import annotations

from datetime import date

from hypothesis import strategies as st

from ksef_integration.ksef.numbers import crc8_hex
from payments.transfers import Payer, Transfer
from payments.transfers.accounts import nrb_check_digits, sort_code_check_digit

PAYER_NRB = "61109010140000071219812874"  # Santander's published sample account
SELLER_NIP = "5260250274"


def sort_code(first_seven: str) -> str:
    return first_seven + str(sort_code_check_digit(first_seven))


def nrb(first_seven: str = "1020296", account: str = "1234567890123456") -> str:
    bban = sort_code(first_seven) + account
    return nrb_check_digits(bban) + bban


def ksef_number(nip: str = SELLER_NIP, day: str = "20270115", tech: str = "0123456789AB") -> str:
    body = f"{nip}-{day}-{tech}"
    return f"{body}-{crc8_hex(body)}"


def collective_id(nip: str = SELLER_NIP, month: str = "202701", tech: str = "65ED02180000") -> str:
    body = f"{nip}-IZ{month}-{tech}"
    return f"{body}-{crc8_hex(body)}"


def payer() -> Payer:
    return Payer(
        name="Piekarnia Żółć Sp. z o.o.", account="PL" + PAYER_NRB, address=("ul. Polna 1", "00-001 Warszawa")
    )


def transfer(**overrides: object) -> Transfer:
    values: dict[str, object] = {
        "payee_name": "Młyn Zbożowy S.A.",
        "payee_account": nrb(),
        "amount": 123_45,
        "title": ksef_number(),
        "execution_date": date(2027, 1, 20),
        "payee_address": ("ul. Młyńska 5", "60-001 Poznań"),
    }
    values.update(overrides)
    return Transfer(**values)  # type: ignore[arg-type]


nrbs = st.builds(
    nrb,
    st.text("0123456789", min_size=7, max_size=7).filter(lambda s: s[0] != "0"),
    st.text("0123456789", min_size=16, max_size=16),
)
polish_text = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ąćęłńóśźżĄĆĘŁŃÓŚŹŻ .,-/()'",
    min_size=1,
    max_size=35,
).filter(lambda s: s.strip() != "" and "  " not in s and s == s.strip())

"""The white-list client against the simulator's stand-in over real HTTP, and its input checks."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import requests
import responses
from hypothesis import given
from hypothesis import strategies as st

from ksef_simulator.whitelist import accounts_for, nrb
from payments.whitelist_client import (
    WhitelistClient,
    WhitelistInvalidInput,
    WhitelistLimitReached,
    WhitelistRejected,
    WhitelistUnavailable,
    account_normalize,
    nip_normalize,
)
from tests.factories import valid_nip
from tests.payments.conftest import (
    ACTIVE_NIP,
    EXEMPT_NIP,
    FOREIGN_ACCOUNT,
    NOT_FOUND_NIP,
    REMOVED_NIP,
    closed_port,
    set_limits,
    set_subject,
)

pytestmark = pytest.mark.django_db(transaction=True)

TODAY = dt.datetime.now(dt.UTC).astimezone(__import__("zoneinfo").ZoneInfo("Europe/Warsaw")).date()
REQUEST_DATE_TIME = re.compile(r"^\d{2}-\d{2}-\d{4} \d{2}:\d{2}:\d{2}$")


def test_an_account_of_the_nip_is_on_the_list(wl_url: str) -> None:
    account = accounts_for(ACTIVE_NIP)[0]
    answer = WhitelistClient(base_url=wl_url).check_account(nip=ACTIVE_NIP, account=account, on=TODAY)
    assert answer.account_assigned is True
    assert answer.request_id
    assert REQUEST_DATE_TIME.match(answer.request_date_time)


def test_another_account_is_not_on_the_list(wl_url: str) -> None:
    answer = WhitelistClient(base_url=wl_url).check_account(nip=ACTIVE_NIP, account=FOREIGN_ACCOUNT, on=TODAY)
    assert answer.account_assigned is False
    assert answer.request_id


def test_the_search_gives_the_subject_with_its_stable_accounts(wl_url: str) -> None:
    client = WhitelistClient(base_url=wl_url)
    first = client.search_nip(nip=ACTIVE_NIP, on=TODAY)
    second = client.search_nip(nip=f"PL {ACTIVE_NIP[:3]}-{ACTIVE_NIP[3:]}", on=TODAY)
    assert first.subject is not None
    assert second.subject is not None
    assert first.subject.status_vat == "Czynny"
    assert first.subject.is_active
    assert first.subject.account_numbers == second.subject.account_numbers == tuple(accounts_for(ACTIVE_NIP))
    assert first.request_id != second.request_id  # each request its own proof


def test_derived_statuses_and_a_nip_not_in_the_register(wl_url: str) -> None:
    client = WhitelistClient(base_url=wl_url)
    removed = client.search_nip(nip=REMOVED_NIP, on=TODAY).subject
    assert removed is not None
    assert (removed.status_vat, removed.account_numbers) == ("Niezarejestrowany", ())
    exempt = client.search_nip(nip=EXEMPT_NIP, on=TODAY).subject
    assert exempt is not None
    assert exempt.status_vat == "Zwolniony"
    assert not exempt.is_active
    assert client.search_nip(nip=NOT_FOUND_NIP, on=TODAY).subject is None
    assert not client.check_account(nip=NOT_FOUND_NIP, account=FOREIGN_ACCOUNT, on=TODAY).account_assigned


def test_test_data_overrides_what_is_derived(wl_url: str) -> None:
    nip = valid_nip()
    set_subject(wl_url, nip, "Zwolniony", [FOREIGN_ACCOUNT])
    client = WhitelistClient(base_url=wl_url)
    subject = client.search_nip(nip=nip, on=TODAY).subject
    assert subject is not None
    assert (subject.status_vat, subject.account_numbers) == ("Zwolniony", (FOREIGN_ACCOUNT,))
    assert client.check_account(nip=nip, account=FOREIGN_ACCOUNT, on=TODAY).account_assigned
    found = client.search_account(account=FOREIGN_ACCOUNT, on=TODAY)
    assert [s.nip for s in found.subjects] == [nip]
    set_subject(wl_url, nip, None)
    assert client.search_nip(nip=nip, on=TODAY).subject is None
    assert requests.post(f"{wl_url}/testdata/subject/remove", json={"nip": nip}, timeout=5).json() == {
        "deleted": 1
    }


@pytest.mark.parametrize(
    ("path", "query", "code"),
    [
        ("search/nip/526025027", "date={today}", "WL-113"),
        ("search/nip/52602502A4", "date={today}", "WL-114"),
        ("search/nip/5260250275", "date={today}", "WL-115"),
        ("check/nip/5260250274/bank-account/6110901014000007121981287", "date={today}", "WL-109"),
        ("check/nip/5260250274/bank-account/6110901014000007121981287X", "date={today}", "WL-110"),
        ("check/nip/5260250274/bank-account/61109010140000071219812875", "date={today}", "WL-111"),
        ("search/nip/5260250274", "", "WL-101"),
        ("search/nip/5260250274", "date=05.12.2026", "WL-102"),
        ("search/nip/5260250274", "date={tomorrow}", "WL-103"),
        ("search/nip/5260250274", "date=2015-01-01", "WL-118"),
    ],
)
def test_the_stand_in_answers_bad_input_with_mfs_codes(wl_url: str, path: str, query: str, code: str) -> None:
    query = query.format(today=TODAY, tomorrow=TODAY + dt.timedelta(days=1))
    response = requests.get(f"{wl_url}/api/{path}?{query}", timeout=5)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["message"], str)
    assert body["message"]
    assert set(body) == {"code", "message"}


def test_the_client_refuses_a_bad_nip_or_account_before_asking(nowhere: str) -> None:
    client = WhitelistClient(base_url=nowhere)
    with pytest.raises(WhitelistInvalidInput) as bad_nip:
        client.search_nip(nip="5260250275", on=TODAY)
    assert bad_nip.value.code == "nip"
    assert "NIP" in bad_nip.value.message("pl")
    assert "not valid" in str(bad_nip.value)
    with pytest.raises(WhitelistInvalidInput) as bad_account:
        client.check_account(nip=ACTIVE_NIP, account="61109010140000071219812875", on=TODAY)
    assert bad_account.value.code == "account"
    assert "cyfry kontrolne" in bad_account.value.message("pl")
    assert "check digits" in bad_account.value.message("en")


def test_what_the_white_list_refuses_is_a_rejection_with_its_code(wl_url: str) -> None:
    with pytest.raises(WhitelistRejected) as refused:
        WhitelistClient(base_url=wl_url).search_nip(nip=ACTIVE_NIP, on=TODAY + dt.timedelta(days=3))
    assert refused.value.code == "WL-103"
    assert "Data nie może być datą przyszłą" in refused.value.message_pl


def test_the_days_limit_is_wl_191(wl_url: str) -> None:
    set_limits(wl_url, check=1, search=0)
    client = WhitelistClient(base_url=wl_url)
    client.check_account(nip=ACTIVE_NIP, account=FOREIGN_ACCOUNT, on=TODAY)
    with pytest.raises(WhitelistLimitReached) as used_up:
        client.check_account(nip=ACTIVE_NIP, account=FOREIGN_ACCOUNT, on=TODAY)
    assert used_up.value.code == "WL-191"
    with pytest.raises(WhitelistLimitReached):
        client.search_nip(nip=ACTIVE_NIP, on=TODAY)
    raw = requests.get(f"{wl_url}/api/search/nip/{ACTIVE_NIP}?date={TODAY}", timeout=5)
    assert (raw.status_code, raw.json()["code"]) == (429, "WL-191")


def test_no_answer_is_unavailable() -> None:
    client = WhitelistClient(base_url=f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(WhitelistUnavailable) as down:
        client.search_nip(nip=ACTIVE_NIP, on=TODAY)
    assert "Nie udało się połączyć" in down.value.message_pl


@responses.activate
@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, {"code": "WL-100", "message": "Wystąpił nieoczekiwany błąd serwera."}),
        (400, {"code": "WL-196", "message": "Trwa aktualizacja bazy danych. Spróbuj ponownie później."}),
        (502, "<html>Bad gateway</html>"),
        (200, {"result": {"accountAssigned": "MOŻE", "requestId": "x"}}),
        (200, {"result": {"accountAssigned": "TAK"}}),
        (200, "not json"),
    ],
)
def test_odd_answers_are_unavailable_not_a_verdict(status: int, body: Any) -> None:
    url = f"https://wl.example/api/check/nip/{ACTIVE_NIP}/bank-account/{FOREIGN_ACCOUNT}"
    if isinstance(body, dict):
        responses.get(url, json=body, status=status)
    else:
        responses.get(url, body=body, status=status)
    with pytest.raises(WhitelistUnavailable):
        WhitelistClient(base_url="https://wl.example").check_account(
            nip=ACTIVE_NIP, account=FOREIGN_ACCOUNT, on=TODAY
        )


# --- inputs -----------------------------------------------------------------------------------------------

digits16 = st.text(alphabet="0123456789", min_size=16, max_size=16)
routing = st.text(alphabet="0123456789", min_size=8, max_size=8)


def _spaced(number: str) -> str:
    return " ".join([number[:2], *(number[i : i + 4] for i in range(2, 26, 4))])


@given(routing=routing, account=digits16, iban_form=st.booleans(), spaced=st.booleans())
def test_any_valid_nrb_is_accepted_as_people_write_it(
    routing: str, account: str, iban_form: bool, spaced: bool
) -> None:
    number = nrb(routing, account)
    written = _spaced(number) if spaced else number
    written = f"PL{written}" if iban_form else written
    assert account_normalize(written) == number


@given(routing=routing, account=digits16, position=st.integers(0, 25), delta=st.integers(1, 9))
def test_any_one_wrong_digit_of_an_nrb_is_refused(
    routing: str, account: str, position: int, delta: int
) -> None:
    number = nrb(routing, account)
    wrong = number[:position] + str((int(number[position]) + delta) % 10) + number[position + 1 :]
    with pytest.raises(WhitelistInvalidInput):
        account_normalize(wrong)


@given(text=st.text(max_size=40))
def test_anything_else_is_refused_or_is_26_digits(text: str) -> None:
    try:
        normalized = account_normalize(text)
    except WhitelistInvalidInput:
        return
    assert len(normalized) == 26
    assert normalized.isdigit()


@given(seed=st.integers(0, 2**32), position=st.integers(0, 9), delta=st.integers(1, 9))
def test_nips_round_trip_and_one_wrong_digit_is_refused(seed: int, position: int, delta: int) -> None:
    import random

    nip = valid_nip(random.Random(seed))
    assert nip_normalize(f"PL {nip[:3]}-{nip[3:6]}-{nip[6:8]}-{nip[8:]}") == nip
    wrong = nip[:position] + str((int(nip[position]) + delta) % 10) + nip[position + 1 :]
    with pytest.raises(WhitelistInvalidInput):
        nip_normalize(wrong)

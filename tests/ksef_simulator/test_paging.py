"""One paging helper for every list endpoint: page-size bounds, one continuation-token format, 21418."""

from __future__ import annotations

import base64

import pytest
from django.http import HttpRequest
from django.test import RequestFactory
from hypothesis import given
from hypothesis import strategies as st

from ksef_simulator.paging import Pager, query_int
from ksef_simulator.responses import ApiError


def _request(query: str = "", token: str | None = None) -> HttpRequest:
    headers = {} if token is None else {"x-continuation-token": token}
    return RequestFactory().get(f"/list{query}", headers=headers)


@given(st.integers(min_value=0, max_value=1_000_000_000 - 10))
def test_a_token_carries_its_offset(offset: int) -> None:
    _, more = Pager(size=10, offset=offset).page(range(offset + 11))
    token = more["continuationToken"]
    assert "=" not in token
    assert Pager.from_request(_request(token=token), max_size=100).offset == offset + 10


@pytest.mark.parametrize(
    "token",
    [
        "%%%",
        "???",
        base64.urlsafe_b64encode(b"other:5").decode(),
        base64.urlsafe_b64encode(b"ksef-sim-offset:-5").decode(),
        base64.urlsafe_b64encode(b"ksef-sim-offset:").decode(),
        base64.urlsafe_b64encode("ksef-sim-offset:²".encode()).decode(),
        base64.urlsafe_b64encode(b"ksef-sim-offset:" + b"9" * 5000).decode(),
        base64.urlsafe_b64encode(b"ksef-sim-offset:1000000001").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_a_foreign_token_is_21418(token: str) -> None:
    with pytest.raises(ApiError) as caught:
        Pager.from_request(_request(token=token), max_size=100)
    assert (caught.value.status, caught.value.code) == (400, 21418)


@pytest.mark.parametrize("raw", ["9", "101", "-10", "+10", " 10", "1e2", "²", "1" * 5000, ""])
def test_page_size_outside_the_bounds_is_21405(raw: str) -> None:
    with pytest.raises(ApiError) as caught:
        Pager.from_request(_request(f"?pageSize={raw}"), max_size=100)
    assert (caught.value.status, caught.value.code) == (400, 21405)
    assert "pageSize" in caught.value.details[0]


def test_defaults_and_bounds() -> None:
    assert Pager.from_request(_request(), max_size=100) == Pager(size=10, offset=0)
    assert Pager.from_request(_request("?pageSize=1000"), max_size=1000).size == 1000
    assert query_int(_request("?pageOffset=7"), "pageOffset", default=0, minimum=0, maximum=9) == 7


def test_pages_walk_a_list_to_its_end() -> None:
    rows = list(range(25))
    seen: list[int] = []
    token: str | None = None
    while True:
        pager = Pager.from_request(_request("?pageSize=10", token), max_size=100)
        page, more = pager.page(rows)
        seen += page
        if not more:
            break
        token = more["continuationToken"]
    assert seen == rows
    exact = Pager(size=10, offset=10).page(list(range(20)))
    assert exact == (list(range(10, 20)), {})

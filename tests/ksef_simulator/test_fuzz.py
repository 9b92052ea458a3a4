"""Fuzzed requests on every operation of the spec: the simulator answers 4xx, never a 5xx.

Bodies are random JSON, and the spec's own example with one field replaced by random JSON, so that the
requests get past authentication and the first checks. The autouse contract check (tests/contract.py) also
validates every error body these requests produce.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from functools import cache
from typing import Any

import pytest
from django.test import Client
from django.urls import Resolver404, resolve
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ksef_simulator import ids
from ksef_simulator.security import ACCESS, token_issue
from tests.contract import _spec

pytestmark = pytest.mark.django_db

NIP = "1234563218"
ALL_PERMISSIONS = [
    "InvoiceWrite", "InvoiceRead", "CredentialsManage", "CredentialsRead", "Introspection", "SubunitManage",
    "EnforcementOperations", "VatUeManage", "CollectiveIdentifierManage", "PefInvoiceWrite",
]  # fmt: skip

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def _served(method: str, template: str) -> bool:
    """Whether the simulator serves this operation: the path routes to an API view that answers the method
    (a path served for one method and not another counts as missing)."""
    try:
        match = resolve("/ksef-sim/v2" + re.sub(r"\{[^}]+\}", "X", template))
    except Resolver404:
        return False
    return method in getattr(match.func, "ksef_methods", ())


@cache
def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for template, item in _spec()["paths"].items():
        for method, operation in item.items():
            found.append((method.upper(), template, operation))
    return found


def test_every_operation_of_the_spec_is_served() -> None:
    """The coverage check of issue 23: lists the (method, path) pairs of open-api-2.9.0.json the simulator
    does not serve; none may be missing, and the fuzz below runs on all of them."""
    operations = _operations()
    assert len(operations) == 83
    missing = sorted(
        f"{method} {template}" for method, template, _ in operations if not _served(method, template)
    )
    assert missing == []


def test_the_coverage_check_sees_a_missing_method() -> None:
    """A path that is served, asked with a method its view does not answer, counts as missing."""
    assert _served("GET", "/security/public-key-certificates")
    assert not _served("POST", "/security/public-key-certificates")
    assert not _served("GET", "/no-such-operation")


def _example(operation: dict[str, Any]) -> Any:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    return content.get("example")


def _path(template: str, rng: random.Random) -> str:
    values = [
        ids.reference_number("SO"),
        ids.ksef_number(NIP, dt.date(2026, 3, 1)),
        "x" * rng.randint(1, 80),
        "%00",
    ]
    return "/ksef-sim/v2" + re.sub(r"\{[^}]+\}", lambda _: rng.choice(values), template)


def _mutate(example: Any, replacement: Any, rng: random.Random) -> Any:
    if isinstance(example, dict) and example:
        mutated = dict(example)
        key = rng.choice(sorted(mutated))
        mutated[key] = replacement if rng.random() < 0.8 else _mutate(mutated[key], replacement, rng)
        return mutated
    return replacement


@pytest.fixture(scope="module")
def bearer() -> str:
    token, _ = token_issue(
        kind=ACCESS,
        context_type="Nip",
        context_value=NIP,
        auth_reference=ids.reference_number("AU"),
        permissions=ALL_PERMISSIONS,
        lifetime=dt.timedelta(hours=1),
    )
    return f"Bearer {token}"


@pytest.mark.parametrize(
    ("method", "template", "operation"),
    _operations(),
    ids=lambda v: str(v)[:60],
)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=json_values, seed=st.integers(0, 2**32), authenticated=st.booleans(), problem=st.booleans())
def test_fuzzed_request_never_breaks_the_server(
    client: Client,
    bearer: str,
    method: str,
    template: str,
    operation: dict[str, Any],
    body: Any,
    seed: int,
    authenticated: bool,
    problem: bool,
) -> None:
    rng = random.Random(seed)
    example = _example(operation)
    payload = _mutate(example, body, rng) if example is not None and rng.random() < 0.7 else body
    headers: dict[str, str] = {}
    if authenticated:
        headers["HTTP_AUTHORIZATION"] = bearer
    if problem:
        headers["HTTP_X_ERROR_FORMAT"] = "problem-details"
    content_type = "application/xml" if template == "/auth/xades-signature" else "application/json"
    data = json.dumps(payload) if content_type == "application/json" else str(payload)
    response = client.generic(
        method,
        _path(template, rng),
        data=data,
        content_type=content_type,
        **headers,  # type: ignore[arg-type]
    )
    assert response.status_code < 500, (method, template, response.status_code, response.content[:300])

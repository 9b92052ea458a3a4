"""A company connected to the simulator over real HTTP by a KSeF token, with or without CredentialsManage,
and helpers that post the Uprawnienia forms as an owner's browser does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from accounts.models import Company, User
from ksef_integration.connect import services as connect_services
from ksef_simulator import services_core
from ksef_simulator.conf import config_update

MANAGING = ["InvoiceWrite", "InvoiceRead", "CredentialsManage", "CredentialsRead"]
PAGE = "/ustawienia/ksef/uprawnienia/"


@pytest.fixture
def simulator(live_server: Any) -> Iterator[Any]:
    config_update(token_activation_delay=0, auth_delay=0, permission_operation_delay=0)
    with override_settings(KSEF_API_URL=f"{live_server.url}/ksef-sim/v2"):
        yield live_server


def connect_with_token(company: Company, user: User, permissions: list[str]) -> Company:
    _, token = services_core.token_generate(
        nip=company.nip, permissions=permissions, description="KSeF Portal"
    )
    connect_services.connection_connect_token(company=company, user=user, raw_token=token)
    return company


@pytest.fixture
def managing(simulator: Any, company_a: Company, alice: User) -> Company:
    """Company A on a token that may manage permissions."""
    return connect_with_token(company_a, alice, MANAGING)


@pytest.fixture
def not_managing(simulator: Any, company_a: Company, alice: User) -> Company:
    """Company A on a token that may send and import, but not manage permissions."""
    return connect_with_token(company_a, alice, ["InvoiceWrite", "InvoiceRead"])


def office_form(
    nip: str, *, key: uuid.UUID | None = None, write: bool = False, delegate: bool = False
) -> dict:
    data = {
        "office-nip": nip,
        "office-name": "Biuro Rachunkowe Liczykrupa sp. z o.o.",
        "office-invoice_read": "on",
        "office-idempotency_key": str(key or uuid.uuid4()),
    }
    if write:
        data["office-invoice_write"] = "on"
    if delegate:
        data["office-can_delegate"] = "on"
    return data


def person_form(identifier: str, *, key: uuid.UUID | None = None) -> dict:
    return {
        "person-identifier": identifier,
        "person-first_name": "Anna",
        "person-last_name": "Nowak",
        "person-invoice_read": "on",
        "person-invoice_write": "on",
        "person-idempotency_key": str(key or uuid.uuid4()),
    }

"""A company connected to the simulator over real HTTP (live_server), with fast simulator timings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from accounts.models import Company
from ksef_integration.models import KsefConnection
from ksef_simulator import services_core
from ksef_simulator.conf import config_update

START = dt.date(2026, 8, 1)


@pytest.fixture
def connected(live_server: Any, alice_client: Any, company_a: Company) -> Iterator[KsefConnection]:
    config_update(
        token_activation_delay=0, auth_delay=0, invoice_processing_delay=0, permanent_storage_lag=0, hwm_lag=0
    )
    with override_settings(KSEF_API_URL=f"{live_server.url}/ksef-sim/v2"):
        _, token = services_core.token_generate(
            nip=company_a.nip, permissions=["InvoiceRead", "InvoiceWrite"], description="portal"
        )
        assert alice_client.post("/uslugi-dodatkowe/ksef/token/", {"token": token}).status_code == 302
        connection = KsefConnection.objects.get(company=company_a)
        connection.import_start_date = START
        connection.save(update_fields=["import_start_date"])
        yield connection

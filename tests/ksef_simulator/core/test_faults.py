"""Fault injection and the simulator's control API (/ksef-sim/control/)."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest

from ksef_simulator import faults
from ksef_simulator.conf import get_config
from ksef_simulator.models import AuthChallenge
from tests.ksef_simulator.core.conftest import V2

pytestmark = pytest.mark.django_db
CONTROL = "/ksef-sim/control"


def arm(client: Any, **rule: Any) -> Any:
    return client.post(f"{CONTROL}/faults", data=json.dumps(rule), content_type="application/json")


def test_next_n_calls_get_429_then_normal(client: Any) -> None:
    assert arm(client, pattern="auth.challenge", action="429", count=2, seconds=7).status_code == 201
    for _ in range(2):
        response = client.post(f"{V2}/auth/challenge")
        assert response.status_code == 429
        assert response["Retry-After"] == "7"
    assert client.post(f"{V2}/auth/challenge").status_code == 200
    assert client.get(f"{CONTROL}/faults").json() == {"faults": []}


@pytest.mark.parametrize("status", ["500", "503"])
def test_server_errors_by_prefix(client: Any, status: str) -> None:
    arm(client, pattern="auth.", action=status)
    assert client.post(f"{V2}/auth/challenge").status_code == int(status)
    assert client.post(f"{V2}/auth/challenge").status_code == 200


def test_glob_does_not_match_other_endpoints(client: Any) -> None:
    arm(client, pattern="sessions.*", action="500")
    assert client.post(f"{V2}/auth/challenge").status_code == 200
    assert faults.matches("sessions.*", "sessions.online.open")


def test_drop_does_the_work_then_answers_504(client: Any) -> None:
    arm(client, pattern="auth.challenge", action="drop")
    response = client.post(f"{V2}/auth/challenge")
    assert response.status_code == 504
    assert response.content == b""
    assert AuthChallenge.objects.count() == 1  # the challenge was created all the same


def test_hang_delays_the_answer(client: Any) -> None:
    arm(client, pattern="auth.challenge", action="hang", seconds=0.3)
    started = time.monotonic()
    assert client.post(f"{V2}/auth/challenge").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_unavailable_switch(client: Any) -> None:
    response = client.post(
        f"{CONTROL}/config", data=json.dumps({"unavailable": True}), content_type="application/json"
    )
    assert response.json()["unavailable"] is True
    assert client.post(f"{V2}/auth/challenge").status_code == 503
    assert client.get(f"{V2}/security/public-key-certificates").status_code == 503
    assert client.get("/ksef-sim/control/config").status_code == 200  # the control API keeps working
    client.post(f"{CONTROL}/reset")
    assert client.post(f"{V2}/auth/challenge").status_code == 200


def test_config_knobs_and_validation(client: Any) -> None:
    response = client.post(
        f"{CONTROL}/config",
        data=json.dumps({"invoiceProcessingDelayMs": 1500, "hwmLagMs": 10, "permanentStorageLagMs": 0}),
        content_type="application/json",
    )
    assert response.status_code == 200
    config = get_config()
    assert config.invoice_processing_delay == dt.timedelta(milliseconds=1500)
    assert config.hwm_lag == dt.timedelta(milliseconds=10)
    assert config.permanent_storage_lag == dt.timedelta(0)
    bad = client.post(f"{CONTROL}/config", data=json.dumps({"hwmLagMs": -1}), content_type="application/json")
    assert bad.status_code == 400
    assert arm(client, pattern="x", action="explode").status_code == 400
    assert arm(client, action="500").status_code == 400


def test_faults_clear(client: Any) -> None:
    arm(client, pattern="*", action="500", count=5)
    assert client.delete(f"{CONTROL}/faults").json() == {"deleted": 1}
    assert client.post(f"{V2}/auth/challenge").status_code == 200

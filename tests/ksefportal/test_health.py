from typing import Any

import pytest
from django.db import OperationalError, connection

from ksefportal.celery import app as celery_app

pytestmark = pytest.mark.django_db


def test_healthz_ok_when_database_and_broker_answer(client: Any) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_healthz_503_when_the_broker_is_down(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing listens on port 1; the message must not leak the broker URL either.
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://:s3cret@127.0.0.1:1/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "ok", "broker": "error"}
    assert b"s3cret" not in response.content


def test_healthz_503_when_the_database_is_down(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_cursor(*args: object, **kwargs: object) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "error"


def test_security_headers(client: Any) -> None:
    response = client.get("/logowanie/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["Referrer-Policy"] == "same-origin"

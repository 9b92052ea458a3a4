"""API keys for alice's company A (and bob's B), a client that sends them, a valid invoice body, and a local
webhook receiver (a real HTTP server on loopback that records what it is sent)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import Client

from accounts.models import Company, User
from integrations.api.keys import key_create
from integrations.models import ApiScope
from tests.security import leaks


@dataclass
class ApiClient:
    client: Client
    key: str

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", **(extra or {})}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/api/v1{path}", params, headers=self._headers(None))

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        return self.client.post(
            f"/api/v1{path}",
            data,
            content_type="application/json",
            headers=self._headers(headers),
        )


def _key(company: Company, user: User, scope: str) -> str:
    plain = key_create(company=company, user=user, name=f"test {scope}", scope=scope).plain
    leaks.remember(plain, "an API key")  # no page, log or task may show it afterwards
    return plain


@pytest.fixture
def write_key(company_a: Company, alice: User) -> str:
    return _key(company_a, alice, ApiScope.WRITE)


@pytest.fixture
def read_key(company_a: Company, alice: User) -> str:
    return _key(company_a, alice, ApiScope.READ)


@pytest.fixture
def b_key(company_b: Company, bob: User) -> str:
    return _key(company_b, bob, ApiScope.WRITE)


@pytest.fixture
def api(write_key: str) -> ApiClient:
    return ApiClient(Client(), write_key)


@pytest.fixture
def api_read(read_key: str) -> ApiClient:
    return ApiClient(Client(), read_key)


@pytest.fixture
def api_b(b_key: str) -> ApiClient:
    return ApiClient(Client(), b_key)


def invoice_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "buyer": {
            "name": "Zakład Usług Różnych Łęcki",
            "nip": "5260250274",
            "address_line1": "ul. Źródlana 5",
            "address_line2": "00-950 Warszawa",
        },
        "lines": [{"name": "Usługa księgowa", "quantity": "1", "unit": "usł.", "unit_price": "1000.00",
                   "vat_rate": "23"}],
        "payment_method": 6,
        "bank_account": "61109010140000071219812874",
    }  # fmt: skip
    body.update(overrides)
    return body


# --- a local webhook receiver -----------------------------------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers ``status`` (200 by default) and records every request it answered with 2xx in ``received``
    and every request at all in ``seen``."""

    url: str
    status: int = 200
    received: list[Received] = field(default_factory=list)
    seen: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: Any = None

    def ids(self) -> list[str]:
        with self.lock:
            return [r.headers["webhook-id"] for r in self.received]

    def stop(self) -> None:
        """Close the socket: the receiver is down (connection refused) until ``start``."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def start(self) -> None:
        host, port = self.url.removeprefix("http://").split("/")[0].split(":")
        self.server = _serve(self, host, int(port))


def _serve(receiver: Receiver, host: str, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            record = Received({k.lower(): v for k, v in self.headers.items()}, body)
            with receiver.lock:
                receiver.seen.append(record)
                if 200 <= receiver.status < 300:
                    receiver.received.append(record)
            self.send_response(receiver.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()
    rec = Receiver(url=f"http://127.0.0.1:{port}/hook")
    rec.start()
    yield rec
    rec.stop()

"""The simulator's own capacity: FA(3) sends per second it accepts over real HTTP, with rate limits off.

A real server (gunicorn from this venv, bound to 127.0.0.1 on a free port) runs the production settings
(``DEBUG=0``) against a throwaway database: a temporary SQLite file, or, when ``DATABASE_URL`` points at
PostgreSQL, a temporary database created on that server and dropped afterwards. The client side uses only
the public HTTP API: self-signed XAdES login, an online session, then ``SENDS`` distinct valid FA(3)
invoices (encrypted beforehand, so that the client's crypto is not timed) from ``THREADS`` threads.

Figures:
- ``simulator_sends_per_s``: sends answered 202 per second of wall time of the sending phase;
- ``simulator_send_p95_ms``: the 95th percentile latency of one send;
- ``simulator_accept_all_s``: from the first send until the session reports every invoice accepted
  (status 200; the simulator validates asynchronously, as KSeF does).

Knobs (environment): ``BENCH_SIMULATOR_SENDS`` (2000), ``BENCH_SIMULATOR_THREADS`` (client threads, 8),
``BENCH_SIMULATOR_WORKERS`` (gunicorn sync workers, 2: the best of 2-4 on this 2-core machine, where the
client shares the CPU), ``BENCH_SIMULATOR_GUNICORN_THREADS`` (1; more turns on gthread workers).

Everything started here is stopped and removed, whatever happens; every loop is bounded in count and time.
"""

from __future__ import annotations

import base64
import concurrent.futures
import datetime as dt
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import requests

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CONTROL_HEADERS, free_port, server_environment

WARSAW = ZoneInfo("Europe/Warsaw")
ROOT = Path(__file__).resolve().parent.parent
SENDS = int(os.environ.get("BENCH_SIMULATOR_SENDS", "2000"))
THREADS = int(os.environ.get("BENCH_SIMULATOR_THREADS", "8"))
WORKERS = int(os.environ.get("BENCH_SIMULATOR_WORKERS", "2"))
GUNICORN_THREADS = int(os.environ.get("BENCH_SIMULATOR_GUNICORN_THREADS", "1"))
START_TIMEOUT_S = 60.0
SEND_PHASE_TIMEOUT_S = 600.0
ACCEPT_TIMEOUT_S = 600.0
REQUEST_TIMEOUT_S = 60.0


# --- the throwaway database --------------------------------------------------------------------------


@contextmanager
def _database(workdir: Path) -> Iterator[str]:
    """A DATABASE_URL for a database that exists only during the benchmark."""
    configured = os.environ.get("DATABASE_URL", "")
    if not configured.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{workdir / 'simulator.sqlite3'}"
        return
    import psycopg

    parts = urlsplit(configured)
    name = f"ksefsim_bench_{os.getpid()}_{random.randrange(16**6):06x}"
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- the server ----------------------------------------------------------------------------------------


@contextmanager
def _server(env: dict[str, str], workdir: Path) -> Iterator[str]:
    python = Path(sys.executable)
    subprocess.run(
        [str(python), "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    port = free_port()
    log_path = workdir / "gunicorn.log"
    gunicorn = python.parent / "gunicorn"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                str(gunicorn), "ksefportal.wsgi:application",
                "--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS), "--threads", str(GUNICORN_THREADS),
                "--worker-tmp-dir", str(workdir), "--timeout", "120", "--backlog", "2048",
                "--log-level", "warning",
            ],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start:\n" + log_path.read_text(errors="replace"))
                with suppress(requests.ConnectionError):
                    if (
                        requests.get(
                            f"{base}/ksef-sim/control/config", headers=CONTROL_HEADERS, timeout=5
                        ).status_code
                        == 200
                    ):
                        break
                time.sleep(0.2)
            yield base
        finally:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


# --- the client ----------------------------------------------------------------------------------------


def _check(response: requests.Response, status: int, what: str) -> Any:
    if response.status_code != status:
        raise RuntimeError(f"{what}: HTTP {response.status_code} {response.text[:500]}")
    return response.json() if response.content else None


def _xades_login(http: requests.Session, api: str, nip: str) -> str:
    """An access token for ``nip``: a self-signed seal (VATPL-<NIP>), as the TEST environment allows."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    from lxml import etree
    from signxml import methods
    from signxml.algorithms import SignatureMethod
    from signxml.xades import XAdESSigner

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "Benchmark"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Benchmark sp. z o.o."),
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"VATPL-{nip}"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    challenge = _check(http.post(f"{api}/auth/challenge", timeout=REQUEST_TIMEOUT_S), 200, "challenge")
    document = (
        '<AuthTokenRequest xmlns="http://ksef.mf.gov.pl/auth/token/2.0">'
        f"<Challenge>{challenge['challenge']}</Challenge>"
        f"<ContextIdentifier><Nip>{nip}</Nip></ContextIdentifier>"
        "<SubjectIdentifierType>certificateSubject</SubjectIdentifierType></AuthTokenRequest>"
    )
    from cryptography.hazmat.primitives import serialization

    signed = XAdESSigner(method=methods.enveloped, signature_algorithm=SignatureMethod.RSA_SHA256).sign(
        etree.fromstring(document),
        key=key,
        cert=[certificate.public_bytes(serialization.Encoding.PEM).decode()],
    )
    init = _check(
        http.post(
            f"{api}/auth/xades-signature",
            data=etree.tostring(signed, xml_declaration=True, encoding="utf-8"),
            headers={"Content-Type": "application/xml"},
            timeout=REQUEST_TIMEOUT_S,
        ),
        202,
        "xades-signature",
    )
    operation = {"Authorization": f"Bearer {init['authenticationToken']['token']}"}
    for _ in range(300):
        status = _check(
            http.get(f"{api}/auth/{init['referenceNumber']}", headers=operation, timeout=REQUEST_TIMEOUT_S),
            200,
            "auth status",
        )
        if status["status"]["code"] != 100:
            break
        time.sleep(0.1)
    if status["status"]["code"] != 200:
        raise RuntimeError(f"authentication failed: {status['status']}")
    tokens = _check(
        http.post(f"{api}/auth/token/redeem", headers=operation, timeout=REQUEST_TIMEOUT_S), 200, "redeem"
    )
    return str(tokens["accessToken"]["token"])


def _aes(key: bytes, iv: bytes, data: bytes) -> bytes:
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padder.update(data) + padder.finalize()) + encryptor.finalize()


def _sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _open_session(http: requests.Session, api: str, auth: dict[str, str]) -> tuple[str, bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    certificates = _check(
        http.get(f"{api}/security/public-key-certificates", timeout=REQUEST_TIMEOUT_S), 200, "certificates"
    )
    chosen = next(c for c in certificates if "SymmetricKeyEncryption" in c["usage"])
    public_key = x509.load_der_x509_certificate(base64.b64decode(chosen["certificate"])).public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    key, iv = os.urandom(32), os.urandom(16)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    body = {
        "formCode": {"systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA"},
        "encryption": {
            "encryptedSymmetricKey": base64.b64encode(public_key.encrypt(key, oaep)).decode(),
            "initializationVector": base64.b64encode(iv).decode(),
            "publicKeyId": chosen["publicKeyId"],
        },
    }
    opened = _check(
        http.post(f"{api}/sessions/online", json=body, headers=auth, timeout=REQUEST_TIMEOUT_S),
        201,
        "open session",
    )
    return str(opened["referenceNumber"]), key, iv


def _bodies(seller: str, key: bytes, iv: bytes, count: int) -> list[bytes]:
    """``count`` distinct, schema-valid FA(3) send requests, encrypted and serialised in advance."""
    import json

    from ksef_simulator.services_invoices import fa3_build, nip_random

    rng = random.Random(20261125)
    buyers = [nip_random(rng) for _ in range(20)]
    today = dt.datetime.now(WARSAW).date()
    run = os.urandom(4).hex().upper()
    bodies = []
    for index in range(count):
        xml = fa3_build(
            seller_nip=seller,
            buyer_nip=buyers[index % len(buyers)],
            number=f"FV/BENCH/{run}/{index + 1}",
            issue_date=today,
            net=Decimal(rng.randint(100, 1_000_000)) / 100,
        )
        encrypted = _aes(key, iv, xml)
        body = {
            "invoiceHash": _sha(xml),
            "invoiceSize": len(xml),
            "encryptedInvoiceHash": _sha(encrypted),
            "encryptedInvoiceSize": len(encrypted),
            "encryptedInvoiceContent": base64.b64encode(encrypted).decode(),
            "offlineMode": False,
        }
        bodies.append(json.dumps(body).encode())
    return bodies


def _send_all(url: str, auth: dict[str, str], bodies: list[bytes]) -> tuple[float, list[float], int]:
    """(wall seconds, latencies in ms of the accepted sends, number of 202s)."""
    headers = {**auth, "Content-Type": "application/json"}
    chunks = [bodies[i::THREADS] for i in range(THREADS)]
    deadline = time.monotonic() + SEND_PHASE_TIMEOUT_S

    def worker(chunk: list[bytes]) -> tuple[list[float], list[str]]:
        latencies, errors = [], []
        with requests.Session() as http:
            for body in chunk:
                if time.monotonic() > deadline:
                    errors.append("send phase timed out")
                    break
                start = time.perf_counter()
                response = http.post(url, data=body, headers=headers, timeout=REQUEST_TIMEOUT_S)
                elapsed = (time.perf_counter() - start) * 1000
                if response.status_code == 202:
                    latencies.append(elapsed)
                else:
                    errors.append(f"HTTP {response.status_code} {response.text[:200]}")
        return latencies, errors

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(worker, chunks))
    wall = time.perf_counter() - start
    latencies = [ms for lat, _ in results for ms in lat]
    errors = [e for _, err in results for e in err]
    if errors:
        print(f"bench_simulator: {len(errors)} sends failed, e.g. {errors[0]}", file=sys.stderr)
    return wall, latencies, len(latencies)


def _wait_all_accepted(http: requests.Session, api: str, auth: dict[str, str], ref: str, count: int) -> bool:
    deadline = time.monotonic() + ACCEPT_TIMEOUT_S
    while time.monotonic() < deadline:
        status = _check(
            http.get(f"{api}/sessions/{ref}", headers=auth, timeout=REQUEST_TIMEOUT_S), 200, "session status"
        )
        if status.get("failedInvoiceCount"):
            raise RuntimeError(f"{status['failedInvoiceCount']} invoices were rejected: {status}")
        if status.get("successfulInvoiceCount") == count:
            return True
        time.sleep(0.2)
    return False


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] if ordered else float("nan")


def _django() -> None:
    """The simulator's FA(3) builder is used client-side; it needs Django's settings, not a database."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()


def run() -> dict[str, float]:
    _django()
    workdir = Path(tempfile.mkdtemp(prefix="ksef-sim-bench-"))
    try:
        with (
            _database(workdir) as database_url,
            _server(
                server_environment(database_url, workdir, KSEF_SIMULATOR_RATE_LIMITS="off"), workdir
            ) as base,
        ):
            api = f"{base}/ksef-sim/v2"
            with requests.Session() as http:
                _check(
                    http.post(
                        f"{base}/ksef-sim/control/config",
                        json={"rateLimitProfile": "off"},
                        headers=CONTROL_HEADERS,
                        timeout=30,
                    ),
                    200,
                    "control/config",
                )
                from ksef_simulator.services_invoices import nip_random

                seller = nip_random(random.Random())
                auth = {"Authorization": f"Bearer {_xades_login(http, api, seller)}"}
                reference, key, iv = _open_session(http, api, auth)
                bodies = _bodies(seller, key, iv, SENDS)
                url = f"{api}/sessions/online/{reference}/invoices"
                started = time.perf_counter()
                wall, latencies, accepted = _send_all(url, auth, bodies)
                if accepted != SENDS:
                    raise RuntimeError(f"only {accepted} of {SENDS} sends were accepted")
                if not _wait_all_accepted(http, api, auth, reference, SENDS):
                    raise RuntimeError(f"not every invoice was accepted within {ACCEPT_TIMEOUT_S:.0f} s")
                accept_all = time.perf_counter() - started
        return {
            "simulator_sends_per_s": accepted / wall,
            "simulator_send_p95_ms": _p95(latencies),
            "simulator_accept_all_s": accept_all,
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

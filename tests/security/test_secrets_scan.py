"""Secrets never reach the database in clear, the logs or any page: the real connect flows (token and
certificate, and the Offline certificate) against the simulator, then a dump of the whole test database.
Also: the run-wide scan of tests/security/leaks.py catches a planted secret and fails the run; and a key
rotation over every stored secret, after which the old key can go."""

from __future__ import annotations

import datetime as dt
import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from django.apps import apps
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.mail import EmailMessage
from django.core.management import call_command
from django.db import connection
from django.test import Client, override_settings
from django.utils import timezone

from accounts.models import Company, User
from ksef_integration import queue
from ksef_integration.connect import sunset
from ksef_integration.encryption import secret_decrypt
from ksef_integration.models import AuthMethod, ConnectionStatus, KsefConnection, OfflineCertificate
from ksef_simulator import services_core
from ksef_simulator.conf import config_update
from tests.conftest import Queued
from tests.security import leaks

ROOT = Path(__file__).resolve().parents[2]
PLANTED = "planted-secret-7f3a9c1e5b"
KEY_PASSWORD = "tajne-haslo-klucza-42"
PERMISSIONS = ["InvoiceWrite", "InvoiceRead", "CredentialsRead", "Introspection"]


def _dump() -> str:
    """The whole test database as text: pg_dump on PostgreSQL, iterdump on SQLite."""
    if connection.vendor == "sqlite":
        return "\n".join(connection.connection.iterdump())
    db = connection.settings_dict
    args = ["pg_dump", "--data-only", "--no-owner", "-h", db.get("HOST") or "127.0.0.1"]
    args += ["-p", str(db.get("PORT") or 5432), "-U", db.get("USER") or "postgres", db["NAME"]]
    env = {"PGPASSWORD": str(db.get("PASSWORD") or ""), "PATH": "/usr/bin:/bin"}
    return subprocess.run(args, capture_output=True, text=True, check=True, env=env, timeout=60).stdout


def _secrets_in(text: str, secrets: dict[str, str]) -> list[str]:
    return [label for secret, label in secrets.items() if secret in text]


# --- the scan itself can fail ----------------------------------------------------------------------------


@pytest.fixture
def planted() -> Iterator[str]:
    leaks.remember(PLANTED, "planted test secret")
    yield PLANTED
    leaks.forget(PLANTED)
    leaks.LEAKS[:] = [line for line in leaks.LEAKS if not line.startswith("planted test secret")]


@pytest.mark.django_db
def test_the_scan_catches_a_secret_on_a_page_and_in_a_log(
    planted: str, alice_client: Any, company_a: Company, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    before = len(leaks.LEAKS)
    Company.objects.filter(pk=company_a.pk).update(name=planted)  # a page that shows it
    assert alice_client.get("/ustawienia/firma/").status_code == 200
    logging.getLogger("ksef_integration.sending.drain").debug("sending with token %s", planted)
    try:
        raise ValueError(f"cannot use {planted}")
    except ValueError:
        logging.getLogger("ksef_integration").exception("failed")
    caught = leaks.LEAKS[before:]
    assert any("the page GET /ustawienia/firma/" in line for line in caught), caught
    assert any("ksef_integration.sending.drain" in line for line in caught), caught
    assert sum("log record" in line for line in caught) == 2


@pytest.mark.django_db
def test_the_scan_catches_a_secret_in_an_e_mail_and_a_task_argument(planted: str) -> None:
    before = len(leaks.LEAKS)
    message = EmailMessage(subject="KSeF", body=f"your token: {planted}", to=["alice@example.com"])
    assert leaks.scan_mail([message]) == ["planted test secret found in an e-mail with the subject 'KSeF'"]
    assert leaks.scan_mail([EmailMessage(subject="KSeF", body="nothing", to=["a@example.com"])]) == []
    queue.publish(queue.NOTIFY, (1, "KSeF", planted), {})  # what the tests' queue publishes is scanned
    assert leaks.LEAKS[before:] == [
        "planted test secret found in an e-mail with the subject 'KSeF'",
        "planted test secret found in the arguments of the task ksef.notify",
    ]


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one-process", "xdist"])  # xdist: make test
def test_a_leak_fails_the_whole_run_even_when_every_test_passes(tmp_path: Path, workers: list[str]) -> None:
    (tmp_path / "test_plant.py").write_text(
        textwrap.dedent(f"""
        import logging
        from tests.security import leaks

        def test_leaks_a_token():
            leaks.remember("{PLANTED}", "planted test secret")
            logging.getLogger("ksef_integration").warning("token=%s", "{PLANTED}")
        """)
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.security.leaks", "--rootdir", str(ROOT),
         "-c", str(ROOT / "pyproject.toml"), *workers, str(tmp_path / "test_plant.py")],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert "1 passed" in result.stdout, result.stdout + result.stderr
    assert result.returncode == 1
    assert "Secrets leaked during the run (1)" in result.stdout
    assert "planted test secret found in a log record of 'ksef_integration' (WARNING)" in result.stdout


# --- the real flows --------------------------------------------------------------------------------------


@pytest.fixture
def simulator(live_server: Any) -> Iterator[Any]:
    config_update(token_activation_delay=0, auth_delay=0)
    with override_settings(KSEF_API_URL=f"{live_server.url}/ksef-sim/v2"):
        yield live_server


def _upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def _plain_key_lines(encrypted_pem: str) -> list[str]:
    key = serialization.load_pem_private_key(encrypted_pem.encode(), password=KEY_PASSWORD.encode())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return [line for line in pem.splitlines() if not line.startswith("-----")]


@pytest.mark.django_db(transaction=True)
def test_connect_flows_leave_no_secret_in_the_dump_the_logs_or_the_pages(
    simulator: Any,
    alice_client: Any,
    company_a: Company,
    company_b: Company,
    bob: User,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger at its most talkative
    leaks_before = len(leaks.LEAKS)
    secrets: dict[str, str] = dict.fromkeys(settings.FIELD_ENCRYPTION_KEYS, "a Fernet key")
    secrets[settings.SECRET_KEY] = "SECRET_KEY"
    secrets[KEY_PASSWORD] = "a private key's password"

    # Company A: a token, then an Offline certificate.
    _, token = services_core.token_generate(nip=company_a.nip, permissions=PERMISSIONS, description="portal")
    secrets[token] = "the KSeF token"
    secrets[token.rsplit("|", 1)[-1]] = "the KSeF token's secret part"
    assert alice_client.post("/uslugi-dodatkowe/ksef/token/", {"token": token}).status_code == 302
    offline_crt, offline_key, _ = services_core.certificate_issue(
        nip=company_a.nip, kind="Offline", key_type="RSA", password=KEY_PASSWORD
    )
    response = alice_client.post(
        "/ustawienia/ksef/certyfikat-offline/",
        {
            "certificate": _upload("offline.crt", offline_crt.encode()),
            "private_key": _upload("offline.key", offline_key.encode()),
            "password": KEY_PASSWORD,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]

    # Company B: an authentication certificate (XAdES login).
    auth_crt, auth_key, _ = services_core.certificate_issue(
        nip=company_b.nip, kind="Authentication", key_type="EC", password=KEY_PASSWORD
    )
    bob_client = Client()
    bob_client.force_login(bob)
    response = bob_client.post(
        "/uslugi-dodatkowe/ksef/certyfikat/",
        {
            "certificate": _upload("ksef.crt", auth_crt.encode()),
            "private_key": _upload("ksef.key", auth_key.encode()),
            "password": KEY_PASSWORD,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    for encrypted in (offline_key, auth_key):
        for line in _plain_key_lines(encrypted):
            secrets[line] = "a plain private key line"
        for line in encrypted.splitlines():
            if not line.startswith("-----") and ":" not in line and len(line) > 20:
                secrets[line] = "an encrypted private key line"

    # The pages people look at afterwards, and a check that the stored secrets work.
    pages = [
        alice_client.get("/ustawienia/ksef/"),
        alice_client.get("/ustawienia/ksef/certyfikat-offline/"),
        alice_client.post("/ustawienia/ksef/sprawdz/", follow=True),
        bob_client.get("/ustawienia/ksef/"),
        bob_client.post("/ustawienia/ksef/sprawdz/", follow=True),
    ]
    assert all(page.status_code == 200 for page in pages)
    assert "Połączenie z KSeF działa." in pages[2].content.decode()
    assert "Połączenie z KSeF działa." in pages[4].content.decode()
    for page in pages:
        assert _secrets_in(page.content.decode(), secrets) == []

    a = KsefConnection.objects.get(company=company_a)
    b = KsefConnection.objects.get(company=company_b)
    assert (a.method, b.method) == (AuthMethod.TOKEN, AuthMethod.CERTIFICATE)
    assert a.token_ciphertext
    assert b.private_key_ciphertext
    assert OfflineCertificate.objects.get(company=company_a).private_key_ciphertext

    dump = _dump()
    # The dump does hold the stored (encrypted) secrets and the companies: the check below can bite.
    assert a.token_ciphertext in dump
    assert b.private_key_ciphertext in dump
    assert company_b.nip in dump
    assert _secrets_in(dump, secrets) == []
    assert _secrets_in(caplog.text, secrets) == []
    # The run-wide scan saw every page and log record of this test: nothing either.
    assert leaks.LEAKS[leaks_before:] == []

    # Key rotation over everything the flows stored: the old key reads until the command moves them all,
    # then it can go and every secret still works.
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    out = StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    assert "0 unreadable" in out.getvalue()
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    stored = 0
    for model in apps.get_models():
        for field in getattr(model, "SECRET_FIELDS", ()):
            for value in model._default_manager.exclude(**{field: ""}).values_list(field, flat=True):
                secret_decrypt(value)  # raises SecretUnreadable if one was left behind
                Fernet(new_key.encode()).decrypt(value.encode())
                stored += 1
    assert stored >= 5  # A: token + session tokens, B: key + session tokens, A: offline key
    KsefConnection.objects.filter(pk__in=[a.pk, b.pk]).update(
        access_token_ciphertext="", refresh_token_ciphertext="", access_valid_until=None
    )  # force a fresh KSeF login with the rotated token and key
    for client in (alice_client, bob_client):
        page = client.post("/ustawienia/ksef/sprawdz/", follow=True)
        assert "Połączenie z KSeF działa." in page.content.decode()
    assert KsefConnection.objects.filter(status=ConnectionStatus.ACTIVE).count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_token_sunset_shows_and_sends_no_secret(
    simulator: Any,
    alice_client: Any,
    company_a: Company,
    settings: Any,
    queued: Queued,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Issue 18's campaign: the notice on Start and the settings page, the token page after the sunset, the
    admin's "Firmy na tokenie" and its change page, the reminders the beat and staff send (e-mails and the
    notifier's task arguments), before and after the sunset: never the token."""
    caplog.set_level(logging.DEBUG)
    leaks_before = len(leaks.LEAKS)
    _, token = services_core.token_generate(nip=company_a.nip, permissions=PERMISSIONS, description="portal")
    secrets = {token: "the KSeF token", token.rsplit("|", 1)[-1]: "the KSeF token's secret part"}
    assert alice_client.post("/uslugi-dodatkowe/ksef/token/", {"token": token}).status_code == 302
    connection = KsefConnection.objects.get(company=company_a)
    staff = Client()
    staff.force_login(User.objects.create_superuser(email="staff@example.com", password="x"))
    token_list = "/admin/ksef_integration/tokenconnection/"
    texts: list[str] = []
    mail.outbox.clear()
    for days in (30, -1):
        settings.KSEF_TOKEN_SUNSET = timezone.localdate() + dt.timedelta(days=days)
        for url in ("/", "/ustawienia/ksef/", "/uslugi-dodatkowe/ksef/token/"):
            texts.append(alice_client.get(url).content.decode())
        texts.append(staff.get(token_list).content.decode())
        texts.append(staff.get(f"{token_list}{connection.pk}/change/").content.decode())
        staff.post(token_list, {"action": "send_reminder", "_selected_action": [connection.pk]})
        assert sunset.reminders_send() == 1
    assert len(mail.outbox) == 4  # by hand and by the beat, before and after the sunset
    assert "data-expired" in texts[-5]  # the pages after the sunset were the expired ones
    texts += [f"{message.subject}\n{message.body}" for message in mail.outbox]
    texts += [repr(args) for _name, args, _options in queued.messages]
    for text in [*texts, caplog.text]:
        assert _secrets_in(text, secrets) == []
    assert leaks.LEAKS[leaks_before:] == []


@pytest.mark.django_db(transaction=True)
def test_the_certificate_wizard_and_renewal_leave_no_key_in_the_dump_the_logs_or_the_pages(
    simulator: Any,
    alice_client: Any,
    company_a: Company,
    queued: Queued,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Issue 18's wizard and renewal: the keys the portal generates, the owner's signed request and the token
    it replaces never appear in clear in the database, a page, a log record, an e-mail or a task argument."""
    from cryptography.hazmat.primitives import serialization

    from ksef_integration.enrollment import services as enrollment
    from ksef_integration.ksef import certificates
    from tests.enrollment.conftest import person

    caplog.set_level(logging.DEBUG)
    leaks_before = len(leaks.LEAKS)
    generated: list[Any] = []
    wrapped = certificates.private_key_generate

    def remembered(key_type: str = "EC") -> Any:
        generated.append(wrapped(key_type))
        return generated[-1]

    certificates.private_key_generate = remembered
    try:
        _, token = services_core.token_generate(
            nip=company_a.nip, permissions=PERMISSIONS, description="portal"
        )
        assert alice_client.post("/uslugi-dodatkowe/ksef/token/", {"token": token}).status_code == 302
        alice = User.objects.get(email="alice@example.com")
        row = enrollment.switch_prepare(company=company_a, user=alice)
        signed = person(nip=company_a.nip).sign(row.request_xml.encode())
        row = enrollment.switch_submit(enrollment=row, user=alice, data=signed)
        between = _dump()  # queued: the signed request waits for the worker, encrypted
        assert enrollment.enrollment_run(row.pk) == "done"
        renewal = enrollment.renewal_start(connection=KsefConnection.objects.get(company=company_a))
        assert renewal is not None
        assert enrollment.enrollment_run(renewal.pk) == "done"
    finally:
        certificates.private_key_generate = wrapped
    assert len(generated) == 3  # Authentication + Offline, then the renewed Authentication
    secrets = {token: "the KSeF token", token.rsplit("|", 1)[-1]: "the KSeF token's secret part"}
    for key in generated:
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        body = [line for line in pem.splitlines() if not line.startswith("-----")]
        secrets[body[0]] = "a generated private key"
        secrets[body[len(body) // 2]] = "a generated private key"
    signature_value = signed.split(b"SignatureValue>")[1].split(b"<")[0].decode()
    secrets[signature_value] = "the owner's signed request"
    texts = [between, _dump(), caplog.text]
    texts += [
        alice_client.get(url).content.decode()
        for url in ("/", "/ustawienia/ksef/", "/ustawienia/ksef/przejdz-na-certyfikat/")
    ]
    texts += [f"{message.subject}\n{message.body}" for message in mail.outbox]
    texts += [repr(args) for _name, args, _options in queued.messages]
    for text in texts:
        assert _secrets_in(text, secrets) == []
    assert leaks.LEAKS[leaks_before:] == []

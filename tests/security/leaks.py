"""A pytest plugin that watches the whole run for secrets in HTML/JSON pages and in log records.

Known secrets: SECRET_KEY, the Fernet keys, the test passwords, and every KSeF token and certificate key the
simulator mints during the run (its minting functions are wrapped at session start; the plain-text private
key is derived too), and every private key the portal's client generates for a KSeF certificate.
``LeakScanMiddleware`` (added in tests/settings.py) scans every page the portal renders (the simulator's own
pages are left out: showing a freshly minted token or key once is their job),
``LeakScanHandler`` every log record of the process, ``leak_scan_mail`` every e-mail a test sent, and
tests/conftest.py's ``queued`` the arguments of every task queued. A hit is recorded and fails the run at
the end.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse

STATIC: dict[str, str] = {}  # secret -> label, for the whole run
RECENT: collections.OrderedDict[str, str] = collections.OrderedDict()  # minted secrets, newest last
RECENT_LIMIT = 64  # ~1 ms per page at most, however many tokens and keys the suite mints
MIN_LENGTH = 12  # shorter strings ("x", "1234") would match innocent text
LEAKS: list[str] = []
SKIPPED_PATHS = ("/ksef-sim/",)
SCANNED_TYPES = ("text/html", "application/json")


def remember(secret: str, label: str, *, static: bool = False) -> None:
    if len(secret) < MIN_LENGTH:
        return
    if static:
        STATIC[secret] = label
        return
    RECENT[secret] = label
    RECENT.move_to_end(secret)
    while len(RECENT) > RECENT_LIMIT:
        RECENT.popitem(last=False)


def forget(secret: str) -> None:
    STATIC.pop(secret, None)
    RECENT.pop(secret, None)


def remember_pem(pem: str | bytes, label: str) -> None:
    """The first and a middle base64 line of a PEM block: any copy of the key, whole or in good part, holds
    one of them (two lines, not all, keep the per-page cost low)."""
    text = pem.decode() if isinstance(pem, bytes) else pem
    lines = [line.strip() for line in text.splitlines() if line and not line.startswith("-----")]
    lines = [line for line in lines if ":" not in line]  # "Proc-Type:" headers of old-style encrypted PEM
    for line in {lines[0], lines[len(lines) // 2]} if lines else set():
        remember(line, label)


def known() -> Iterator[tuple[str, str]]:
    yield from STATIC.items()
    yield from list(RECENT.items())


def scan(text: str, where: str) -> list[str]:
    found = [f"{label} found in {where}" for secret, label in known() if secret in text]
    LEAKS.extend(found)
    return found


def scan_mail(messages: Iterable[Any]) -> list[str]:
    """Scan e-mails (subject, body, HTML alternatives) as the notifier and the other senders made them."""
    found: list[str] = []
    for message in messages:
        parts = [str(message.subject), str(message.body)]
        parts += [str(content) for content, _mimetype in getattr(message, "alternatives", [])]
        found += scan("\n".join(parts), f"an e-mail with the subject {str(message.subject)!r}")
    return found


class LeakScanMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        content_type = response.get("Content-Type", "")
        if (
            not getattr(response, "streaming", False)
            and content_type.startswith(SCANNED_TYPES)
            and not request.path.startswith(SKIPPED_PATHS)
        ):
            scan(response.content.decode("utf-8", "replace"), f"the page {request.method} {request.path}")
        return response


class LeakScanHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a broken format string is not our business here
            text = str(record.msg)
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        scan(text, f"a log record of {record.name!r} ({record.levelname})")


def _wrap_minting() -> None:
    from django.conf import settings

    if "ksef_simulator" not in settings.INSTALLED_APPS:
        return
    from cryptography.hazmat.primitives import serialization

    from ksef_simulator import services_core

    original_token_create = services_core.token_create
    original_certificate_issue = services_core.certificate_issue
    if getattr(original_token_create, "leak_scan", False):
        return

    def token_create(**kwargs: Any) -> Any:
        token, secret = original_token_create(**kwargs)
        part = secret.rsplit("|", 1)[-1]
        for piece in (part[: len(part) // 2], part[len(part) // 2 :]):  # half a token is a leak too
            remember(piece, "a KSeF token (part of its secret)")
        return token, secret

    def certificate_issue(**kwargs: Any) -> Any:
        certificate, key, serial = original_certificate_issue(**kwargs)
        remember(kwargs["password"], "a private key's password")
        remember_pem(key, "an encrypted private key (PEM)")
        plain = serialization.load_pem_private_key(key.encode(), password=kwargs["password"].encode())
        remember_pem(
            plain.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
            "a plain private key (PEM)",
        )
        return certificate, key, serial

    token_create.leak_scan = True  # type: ignore[attr-defined]
    services_core.token_create = token_create
    services_core.certificate_issue = certificate_issue

    # The portal's own keys: every key our client makes for a KSeF certificate (the wizard, the renewal).
    from ksef_integration.ksef import certificates

    original_key_generate = certificates.private_key_generate

    def private_key_generate(key_type: str = "EC") -> Any:
        key = original_key_generate(key_type)
        remember_pem(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
            "a private key the portal generated (PEM)",
        )
        return key

    certificates.private_key_generate = private_key_generate


@pytest.fixture(scope="session", autouse=True)
def leak_scan() -> Iterator[None]:
    from django.conf import settings

    from tests import conftest

    remember(settings.SECRET_KEY, "SECRET_KEY", static=True)
    for key in settings.FIELD_ENCRYPTION_KEYS:
        remember(key, "a Fernet key (FIELD_ENCRYPTION_KEYS)", static=True)
    remember(conftest.PASSWORD, "a user's password", static=True)
    _wrap_minting()
    handler = LeakScanHandler(level=logging.DEBUG)
    logging.getLogger().addHandler(handler)
    yield
    logging.getLogger().removeHandler(handler)


@pytest.fixture(autouse=True)
def leak_scan_mail() -> Iterator[None]:
    """Every e-mail a test sent is scanned when it ends (the locmem outbox lives for one test)."""
    yield
    from django.core import mail

    scan_mail(getattr(mail, "outbox", []))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # a pytest-xdist worker: its hits go to the controller, which fails the run
        workeroutput["ksef_leaks"] = list(LEAKS)
        return
    if not LEAKS:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"Secrets leaked during the run ({len(LEAKS)}):", red=True)
        for line in sorted(set(LEAKS))[:20]:
            reporter.write_line(f"  {line}", red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist's controller: a worker is done; its hits join the run's (reported when the run ends)."""
    LEAKS.extend(getattr(node, "workeroutput", {}).get("ksef_leaks", []))

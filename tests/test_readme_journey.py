"""The README's promise, checked the way a newcomer meets it: a fresh clone in a folder of its own,
``make run`` exactly as the README says (no environment of ours), then in Chromium: sign up, mint a token on
the simulator's pages, connect, issue an invoice with Wystaw, and see the KSeF number that the worker
``make run`` started got from KSeF. Then Ctrl+C (or SIGTERM) must leave no process of that clone behind.

Nothing here touches the test database or calls the app's code: the clone is a black box reached over HTTP.
Run at the default port and at another one, since each process honcho starts gets a ``PORT`` of its own.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, need, screenshot

# One xdist worker runs both, one after the other (make test, --dist loadgroup): each installs a venv and
# starts a web server, a worker and beat, and the first takes the README's port 8000.
pytestmark = [pytest.mark.browser, pytest.mark.readme, pytest.mark.xdist_group("readme")]

NIP = "5261040828"  # valid check digit; the simulator, like KSeF's TEST, lets anyone act as any NIP
PASSWORD = "Zielony-Parasol-2026"
FIRST_RUN_SECONDS = 420  # venv + pinned dependencies (from pip's cache in CI) + catalogs + migrations
INVOICE_SECONDS = 120

# What a newcomer's shell has; anything the project reads (DATABASE_URL, REDIS_URL, KSEF_*, SITE_URL, PORT…)
# is left out on purpose: the README promises that `make run` needs none of it.
PASSED_THROUGH = ("HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "TERM", "TMPDIR")


def _newcomer_env(**extra: str) -> dict[str, str]:
    env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
    env.update(
        {name: value for name, value in os.environ.items() if name.startswith("PIP_")}
    )  # machine's pip
    venv = str(ROOT / ".venv")
    env["PATH"] = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if venv not in p)
    env.update(extra)
    return env


def _clone(target: Path) -> None:
    """``git clone`` of this checkout, plus its uncommitted changes (so a local run tests what is on disk;
    in CI the checkout is a clean clone of main and nothing is added)."""
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True)
    diff = subprocess.run(
        ["git", "diff", "HEAD", "--binary"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    if diff:
        subprocess.run(["git", "apply", "--whitespace=nowarn"], cwd=target, input=diff, check=True)
    untracked = subprocess.run(
        ["git", "ls-files", "--others", "--exclude-standard", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout.split(b"\0")
    for name in filter(None, untracked):
        source, copy = ROOT / name.decode(), target / name.decode()
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(source.read_bytes())


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _another_free_port() -> int:
    for port in range(8300, 8400):
        if _port_free(port) and _port_free(port + 100):
            return port
    raise RuntimeError("no free port between 8300 and 8400")


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310 - loopback
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _processes_of(folder: Path) -> list[str]:
    """Every live process started from the clone: its working directory or command line names the folder."""
    found = []
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
            state = next(
                line for line in (entry / "status").read_text().splitlines() if line.startswith("State:")
            )
        except (OSError, StopIteration):
            continue
        if "Z (zombie)" in state:
            continue
        if cwd == str(folder) or cwd.startswith(f"{folder}/") or str(folder) in cmdline:
            found.append(f"{entry.name}: {cmdline.strip()} (cwd {cwd})")
    return found


class Running:
    """``make run`` in the clone, started as a person starts it in a terminal: its own process group, so that
    Ctrl+C can be played as the terminal plays it (SIGINT to the foreground group)."""

    def __init__(self, folder: Path, port: int | None, log: Path) -> None:
        self.folder = folder
        self.url = f"http://127.0.0.1:{port or 8000}"
        self.log_path = log
        env = _newcomer_env(**({"PORT": str(port)} if port else {}))
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            ["make", "run"],
            cwd=folder,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_healthy(self) -> float:
        started = time.monotonic()
        while not _healthy(self.url):
            if self.proc.poll() is not None:
                raise AssertionError(f"make run exited with {self.proc.returncode}:\n{self.log()[-4000:]}")
            if time.monotonic() - started > FIRST_RUN_SECONDS:
                raise AssertionError(
                    f"/healthz did not answer in {FIRST_RUN_SECONDS} s:\n{self.log()[-4000:]}"
                )
            time.sleep(1)
        return time.monotonic() - started

    def stop(self, how: str) -> None:
        if self.proc.poll() is None:
            if how == "ctrl-c":
                os.killpg(self.proc.pid, signal.SIGINT)
            else:
                self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        finally:
            self._log.close()

    def kill_leftovers(self) -> None:
        for line in _processes_of(self.folder):
            with contextlib.suppress(OSError):
                os.kill(int(line.split(":", 1)[0]), signal.SIGKILL)


@pytest.fixture
def newcomer_browser(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(locale="pl-PL", viewport={"width": 390, "height": 844})
    context.set_default_timeout(20_000)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    yield context
    context.close()


def _sign_up(page: Any, base: str) -> None:
    page.goto(f"{base}/")
    assert "/logowanie/" in page.url  # a newcomer lands on the login page
    page.get_by_role("link", name="Załóż konto").click()
    page.fill("#id_email", "wlasciciel@example.com")
    page.fill("#id_full_name", "Anna Nowicka")
    page.fill("#id_company_name", "Nowicka Usługi sp. z o.o.")
    page.fill("#id_nip", NIP)
    page.fill("#id_address_line1", "ul. Polna 1")
    page.fill("#id_address_line2", "00-001 Warszawa")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(f"{base}/")


def _mint_token(page: Any, base: str) -> str:
    ksef = page.context.new_page()
    ksef.goto(f"{base}/ksef-sim/")
    ksef.get_by_label("NIP podatnika").fill(NIP)
    ksef.get_by_role("button", name="Zaloguj się").click()
    ksef.get_by_role("link", name="Generuj token").first.click()
    ksef.get_by_label("Nazwa tokena").fill("KSeF Portal")
    for checkbox in ksef.locator("input[name=permissions]").all():
        checkbox.check()
    ksef.get_by_role("button", name="Generuj").click()
    ksef.get_by_role("button", name="Kopiuj").click()
    token = str(ksef.evaluate("navigator.clipboard.readText()"))
    ksef.close()
    assert f"|nip-{NIP}|" in token
    return token


def _connect(page: Any, token: str) -> None:
    page.locator(".bottombar").get_by_text("Więcej").click()
    page.get_by_role("link", name="Usługi dodatkowe").click()
    page.get_by_role("link", name="Dowiedz się więcej").click()
    page.get_by_role("link", name="Uruchom KSeF").click()
    page.get_by_role("link", name="Token").first.click()
    page.get_by_label("Numer tokena").fill(token)
    page.get_by_role("button", name="Integruj z KSeF").click()
    page.wait_for_url("**/gotowe/")
    assert "Gotowe!" in page.locator("h1").inner_text()


def _issue(page: Any, base: str) -> None:
    page.goto(f"{base}/dokumenty/wystaw/")
    page.fill("#id_nip", "5260250274")
    page.fill("#id_name", "Zakład Usług Różnych Łęcki")
    page.fill("#id_address_line1", "ul. Źródlana 5")
    page.fill("#id_address_line2", "00-950 Warszawa")
    page.fill("#id_lines-0-name", "Wdrożenie KSeF")
    page.fill("#id_lines-0-quantity", "2")
    page.fill("#id_lines-0-unit_price", "1500")
    page.select_option("#id_lines-0-vat_rate", "23")
    page.get_by_role("button", name="Wystaw fakturę").click()
    page.wait_for_url(re.compile(r"/dokumenty/[0-9a-f-]{36}/$"))


def _ksef_number(page: Any) -> str:
    """Reload the invoice page until the worker's answer from KSeF shows on it."""
    deadline = time.monotonic() + INVOICE_SECONDS
    while time.monotonic() < deadline:
        number = page.locator(".ksef-number")
        if number.count():
            return str(number.inner_text())
        time.sleep(2)
        page.reload()
    return ""


@pytest.mark.parametrize(
    ("port", "stop"), [(None, "ctrl-c"), ("other", "sigterm")], ids=["default-port", "other-port"]
)
def test_make_run_delivers_the_first_invoice(
    port: str | None, stop: str, tmp_path_factory: Any, newcomer_browser: Any
) -> None:
    need(subprocess.run(["which", "make"], capture_output=True).returncode == 0, "make is not installed")
    chosen = _another_free_port() if port else None
    if chosen is None:
        assert _port_free(8000), "port 8000, the README's default, is taken on this machine"
    folder = tmp_path_factory.mktemp("newcomer") / "ksef-portal"
    _clone(folder)
    running = Running(folder, chosen, folder.parent / "make-run.log")
    try:
        running.wait_healthy()
        page = newcomer_browser.new_page()
        _sign_up(page, running.url)
        token = _mint_token(page, running.url)
        _connect(page, token)
        _issue(page, running.url)
        number = _ksef_number(page)
        screenshot(page, f"readme-journey-{port or 'default'}")
        assert re.fullmatch(rf"{NIP}-\d{{8}}-[0-9A-F]{{12}}-[0-9A-F]{{2}}", number), (
            f"no KSeF number on the invoice page after {INVOICE_SECONDS} s; make run's log:\n"
            + running.log()[-6000:]
        )
        assert page.locator(".ksef-card .ksef-status--accepted").inner_text() == "przyjęta przez KSeF"
    finally:
        running.stop(stop)
        deadline = time.monotonic() + 20
        while _processes_of(folder) and time.monotonic() < deadline:
            time.sleep(0.5)
        left = _processes_of(folder)
        running.kill_leftovers()
    assert not left, f"{stop} left processes of make run behind:\n" + "\n".join(left)

"""The FA(3) package stands alone: no Django, no simulator, no third-party KSeF SDK."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ksef_integration.fa3.digest import invoice_hash, invoice_hash_url, invoice_sha256

ROOT = Path(__file__).resolve().parents[3]

PROBE = """
import sys
import ksef_integration.fa3.builder, ksef_integration.fa3.parser, ksef_integration.fa3.checks
import ksef_integration.fa3.digest, ksef_integration.fa3.schema as schema
schema.get_schema()
bad = sorted(m for m in sys.modules if m.split(".")[0] in {"django", "ksef_simulator", "ksef_client"})
print(",".join(bad))
"""


def test_package_imports_nothing_it_must_not() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


@pytest.mark.parametrize(
    ("data", "b64"),
    [
        (b"", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="),
        (b"abc", "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="),
    ],
)
def test_invoice_hash_is_sha256_base64(data: bytes, b64: str) -> None:
    assert invoice_hash(data) == b64
    assert len(invoice_hash(data)) == 44
    assert invoice_sha256(data).hex()[:8] in {"e3b0c442", "ba7816bf"}
    url = invoice_hash_url(data)
    assert len(url) == 43
    assert url == b64.rstrip("=").replace("+", "-").replace("/", "_")

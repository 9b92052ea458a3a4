"""The release key: a digest of what the running code renders with, computed once at start-up.

Markup kept in the shared cache (the Dokumenty rows, the filter panel) is filed under this key, so a
deployment that changes a template, a translation or the Python that formats a value starts with keys of
its own and never serves what the previous release rendered; nobody has to remember to bump a number.
It covers the Python modules, templates and compiled catalogs (``.mo``, built at deployment from the
``.po`` files) of the project's own packages and ``templates/``; a new version of a dependency that
changes markup is not in it (a deployment that only upgrades one keeps the cached rows until they expire).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

# The project's own code, templates and catalogs (tests, benches and vendored files render nothing).
SOURCES = ("accounts", "invoices", "ksef_integration", "ksef_simulator", "ksefportal", "templates", "locale")
SUFFIXES = frozenset({".py", ".html", ".txt", ".mo"})


def release_key(root: Path) -> str:
    """A short hex digest of every source file's path and content under ``root``'s ``SOURCES``."""
    digest = hashlib.blake2b(digest_size=8)
    for top in SOURCES:
        for path in sorted((root / top).rglob("*")):
            if path.suffix in SUFFIXES and path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(root)).encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()

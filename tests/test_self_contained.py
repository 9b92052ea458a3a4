"""The checkout stands alone: no tracked file reaches outside it (``../shared``, an absolute path of this
workspace or of the machine that wrote it), so that a clone anywhere runs ``make test`` and ``make run``."""

from __future__ import annotations

import re
import subprocess

from tests.conftest import ROOT

# Paths that exist only where the project was written, never in a user's clone.
OUTSIDE = re.compile(r"\.\./shared\b|(?<![\w.])/work/|(?<![\w.~])/(?:root|home/[\w.-]+)/")
SELF = "tests/test_self_contained.py"


def tracked_text_files() -> list[str]:
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
    return [name for name in names.decode().split("\0") if name and name != SELF]


def test_no_tracked_file_points_outside_the_checkout() -> None:
    offenders = []
    for name in tracked_text_files():
        path = ROOT / name
        if not path.is_file() or name.startswith("vendor/"):  # MF's files, verbatim
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # images
        offenders += [
            f"{name}:{n}: {line.strip()}"
            for n, line in enumerate(text.splitlines(), 1)
            if OUTSIDE.search(line)
        ]
    assert offenders == []


def test_the_check_sees_what_it_must() -> None:
    for line in ('SPEC = Path("/work/shared/ksef-docs/open-api.json")', 'X = ROOT / "../shared/ksef-docs"',
                 "cd /home/dev/main && make"):  # fmt: skip
        assert OUTSIDE.search(line), line
    for line in ("a/work/b", "see docs/ksef-api.md", "http://127.0.0.1:8000/ksef-sim/"):
        assert not OUTSIDE.search(line), line

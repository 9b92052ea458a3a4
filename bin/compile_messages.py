"""Compile every gettext catalog (``*/locale/*/LC_MESSAGES/django.po``) to ``.mo`` with polib.

Pure Python, so a fresh machine without GNU gettext can still serve the translations.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
SKIP = {".venv", "var", "node_modules", ".git"}


def catalogs() -> list[Path]:
    return sorted(
        po
        for po in ROOT.glob("**/locale/*/LC_MESSAGES/*.po")
        if not SKIP.intersection(po.relative_to(ROOT).parts)
    )


def main() -> int:
    for po_path in catalogs():
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        polib.pofile(str(po_path)).save_as_mofile(str(mo_path))
        print(f"compiled {mo_path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

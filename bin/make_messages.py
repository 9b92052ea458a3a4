"""Refresh the gettext catalogs: templates/ into the project catalog (locale/), each app's code into its own.

``makemessages`` works on the current directory, so it runs once inside each folder; it runs in this process
with only the checkout's root on ``sys.path``, never the app's folder, because an app's module named like a
standard one (``ksef_integration/encryption.py``) would then replace it (``import secrets`` inside Django).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("templates", "accounts", "invoices", "ksef_integration", "payments", "integrations")


def main() -> int:
    sys.path[:] = [str(ROOT)] + [p for p in sys.path if p not in ("", ".", str(ROOT / "bin"))]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django
    from django.core.management import call_command

    django.setup()
    for folder in FOLDERS:
        os.chdir(ROOT / folder)
        call_command("makemessages", all=True, no_obsolete=True, verbosity=1)
    os.chdir(ROOT)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Create .env from .env.example with fresh random secrets, unless .env already exists."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    target = ROOT / ".env"
    if target.exists():
        return 0
    lines = []
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        if line == "SECRET_KEY=":
            line = "SECRET_KEY=" + secrets.token_urlsafe(50)
        elif line == "FIELD_ENCRYPTION_KEYS=":
            line = "FIELD_ENCRYPTION_KEYS=" + Fernet.generate_key().decode()
        lines.append(line)
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    target.chmod(0o600)
    print("Created .env with fresh secrets (development settings).")
    return 0


if __name__ == "__main__":
    sys.exit(main())

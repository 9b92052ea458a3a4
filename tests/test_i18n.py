"""Polish is complete (no empty or fuzzy entries) and English is served when chosen."""

from pathlib import Path
from typing import Any

import polib
import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parent.parent
APP_CATALOGS = sorted(p for p in ROOT.glob("*/locale/pl/LC_MESSAGES/django.po") if ".venv" not in p.parts)
CATALOGS = [*APP_CATALOGS, ROOT / "locale/pl/LC_MESSAGES/django.po"]


@pytest.mark.parametrize("path", CATALOGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_polish_catalog_is_complete(path: Path) -> None:
    catalog = polib.pofile(str(path))
    assert len(catalog) > 0
    assert [e.msgid for e in catalog.untranslated_entries()] == []
    assert [e.msgid for e in catalog.fuzzy_entries()] == []


@pytest.mark.django_db
def test_english_is_available(client: Any) -> None:
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert "Log in" in client.get(reverse("accounts:login")).content.decode()
    client.post(reverse("set_language"), {"language": "pl", "next": "/"})
    assert "Zaloguj się" in client.get(reverse("accounts:login")).content.decode()

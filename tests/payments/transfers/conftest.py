"""The transfer package's messages are checked here in English (the source texts name the fields and rules
the tests look for); the Polish catalog is complete by tests/test_i18n.py, and test_polish_messages below
checks that a Polish user reads them in Polish."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    with translation.override("en"):
        yield

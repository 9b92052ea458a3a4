"""The main menu (top menu and bottom bar), rendered once per tab and language per process (issue 9)."""

import re
from typing import Any

import pytest
from django.urls import reverse
from django.utils import translation

pytestmark = pytest.mark.django_db


def _active(html: str) -> list[str]:
    return re.findall(r'<a href="([^"]+)" class="navitem is-active" aria-current="page">', html)


def test_each_page_marks_its_own_tab_in_both_menus(alice_client: Any) -> None:
    documents, more = reverse("invoices:list"), reverse("accounts:more")
    for _ in range(2):  # the second round is served from the menu cache
        assert _active(alice_client.get(documents).content.decode()) == [documents, documents]
        assert _active(alice_client.get(more).content.decode()) == [more, more]
        assert (
            _active(alice_client.get(reverse("invoices:issue")).content.decode())
            == [reverse("invoices:issue")] * 2
        )


def test_the_menu_follows_the_language(alice_client: Any) -> None:
    polish = alice_client.get(reverse("invoices:list"), HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    assert "<span>Dokumenty</span>" in polish
    with translation.override("en"):
        english = alice_client.get(reverse("invoices:list"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "<span>Documents</span>" in english
    assert "<span>Dokumenty</span>" not in english

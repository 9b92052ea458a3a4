"""What a phone (390 px) shows: no page is wider than the screen and no tab label is cut off."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Company
from tests.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = ["/", "/uslugi-dodatkowe/ksef/", "/dokumenty/", "/dokumenty/?direction=purchase", "/ustawienia/ksef/"]
OVERFLOWING = """() => [...document.querySelectorAll('.tabs, .tab, h1, h2, .button')]
    .filter(el => el.scrollWidth > el.clientWidth + 1).map(el => el.textContent.trim())"""


def test_no_page_is_wider_than_a_phone_and_no_tab_is_cut_off(
    page: Any, live_server: Any, alice_client: Any, company_a: Company
) -> None:
    page.context.add_cookies(
        [{"name": "sessionid", "value": alice_client.cookies["sessionid"].value, "url": live_server.url}]
    )
    for path in PAGES:
        page.goto(path)
        name = path.strip("/").replace("/", "-").replace("?direction=", "-") or "start"
        screenshot(page, f"layout-390-{name}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
        assert page.evaluate(OVERFLOWING) == [], path

"""An accountant opens Biuro from Więcej on a phone, narrows it to the companies with problems and goes into
one of them."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Company
from tests.conftest import screenshot
from tests.office.test_office import office  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_office_on_a_phone(
    page: Any,
    live_server: Any,
    alice_client: Any,
    office: dict[str, Company],  # noqa: F811
) -> None:
    page.context.add_cookies(
        [{"name": "sessionid", "value": alice_client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page.goto("/wiecej/")
    page.locator("#more-office").click()
    page.wait_for_url("**/biuro/")
    cards = page.locator(".office-card")
    assert cards.count() == 3
    gamma = page.locator(f"#client-{office['gamma'].nip}")
    assert gamma.locator("[data-field=rejected]").inner_text() == "1"
    assert gamma.locator("[data-field=problems]").is_visible()
    # nothing sticks out sideways on a 390 px screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "office")

    page.locator(".filters > summary").click()
    assert page.locator("#id_name").is_visible()
    page.locator("#id_problems").check()
    page.locator("#office-filter").click()
    page.wait_for_url("**/biuro/?*problems=on*")
    assert page.locator(".office-card").count() == 2
    screenshot(page, "office-problems")

    gamma.get_by_role("button").click()
    page.wait_for_url(
        lambda url: (
            url.endswith(live_server.url.rstrip("/") + "/") or url.rstrip("/") == live_server.url.rstrip("/")
        )
    )
    assert "Gamma Biuro Rachunkowe" in page.locator(".card").first.inner_text()

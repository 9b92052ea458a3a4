"""An accountant opens Biuro from Więcej on a phone: the totals, one card-like row per company with nothing
sticking out, narrows the list to the companies needing attention and goes into one of them; on a desktop
width the same rows are a table."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Company
from tests.conftest import screenshot
from tests.office.test_office import office  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Elements wider than their box (text cut off or running out), as tests/test_layout_browser.py checks pages.
OVERFLOWING = """() => [...document.querySelectorAll('h1, h2, .button, .card, .office-row, .office-row > *')]
    .filter(el => el.scrollWidth > el.clientWidth + 1).map(el => el.textContent.trim().slice(0, 60))"""


def _log_in(page: Any, live_server: Any, alice_client: Any) -> None:
    page.context.add_cookies(
        [{"name": "sessionid", "value": alice_client.cookies["sessionid"].value, "url": live_server.url}]
    )


def test_office_on_a_phone(
    page: Any,
    live_server: Any,
    alice_client: Any,
    office: dict[str, Company],  # noqa: F811
) -> None:
    _log_in(page, live_server, alice_client)
    page.goto("/wiecej/")
    page.locator("#more-office").click()
    page.wait_for_url("**/biuro/")
    assert page.locator("#total-attention strong").inner_text() == "2"
    assert page.locator("#total-rejected strong").inner_text() == "1"
    rows = page.locator(".office-row")
    assert rows.count() == 3
    gamma = page.locator(f"#client-{office['gamma'].nip}")
    assert rows.first.get_attribute("id") == f"client-{office['gamma'].nip}"  # needing attention first
    assert gamma.locator("[data-field=rejected]").inner_text() == "1"
    assert gamma.locator("[data-field=problems]").is_visible()
    # a card per company: the header row of the table is not shown, each number says what it is
    assert page.locator(".office-table thead").bounding_box()["height"] <= 1
    label = gamma.locator("[data-field=rejected]").evaluate("el => getComputedStyle(el, '::before').content")
    assert "Odrzucone" in label
    # nothing sticks out sideways on a 390 px screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.evaluate(OVERFLOWING) == []
    screenshot(page, "office")

    page.locator("#id_show").select_option("attention")
    page.locator("#office-filter").click()
    page.wait_for_url("**/biuro/?*show=attention*")
    assert page.locator(".office-row").count() == 2
    screenshot(page, "office-attention")

    gamma.get_by_role("button").click()
    page.wait_for_url(
        lambda url: (
            url.endswith(live_server.url.rstrip("/") + "/") or url.rstrip("/") == live_server.url.rstrip("/")
        )
    )
    assert "Gamma Biuro Rachunkowe" in page.locator(".card").first.inner_text()


def test_office_on_a_desktop_is_a_table(
    page: Any,
    live_server: Any,
    alice_client: Any,
    office: dict[str, Company],  # noqa: F811
) -> None:
    _log_in(page, live_server, alice_client)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto("/biuro/")
    assert page.locator(".office-table thead th").first.is_visible()
    cells = page.locator(f"#client-{office['alfa'].nip} > *")
    tops = {round(cells.nth(i).bounding_box()["y"]) for i in range(cells.count())}
    assert len(tops) == 1  # one line per company
    # the whole table fits the page's column: no scrolling sideways on a desktop either
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    assert page.evaluate("(el => el.scrollWidth <= el.clientWidth)(document.querySelector('.office-list'))")
    screenshot(page, "office-desktop")

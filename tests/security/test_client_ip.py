"""The address login throttling counts a client by, behind the reverse proxies listed in TRUSTED_PROXIES."""

from __future__ import annotations

from typing import Any

import pytest
from axes.models import AccessAttempt
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, RequestFactory, override_settings

from accounts.client_ip import client_ip
from accounts.models import User
from tests.conftest import PASSWORD
from tests.security.test_login_throttling import URL, _logged_in

PROXY = "10.0.0.2"
CALLABLE = "accounts.client_ip.client_ip"
behind_proxy = override_settings(TRUSTED_PROXIES=["10.0.0.0/24"], AXES_CLIENT_IP_CALLABLE=CALLABLE)


def _ip(remote_addr: str, forwarded_for: str | None = None) -> str:
    request = RequestFactory().get("/", REMOTE_ADDR=remote_addr)
    if forwarded_for is not None:
        request.META["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client_ip(request)


# --- client_ip ------------------------------------------------------------------------------------


@override_settings(TRUSTED_PROXIES=[])
def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert _ip("203.0.113.7", "198.51.100.9") == "203.0.113.7"
    assert _ip(PROXY, "198.51.100.9") == PROXY


@behind_proxy
def test_a_client_talking_to_us_directly_cannot_forge_its_address() -> None:
    assert _ip("203.0.113.7", "198.51.100.9, 10.0.0.5") == "203.0.113.7"


@behind_proxy
def test_behind_a_trusted_proxy_the_right_most_address_counts_never_the_forged_left_most() -> None:
    assert _ip(PROXY, "203.0.113.7") == "203.0.113.7"
    # The client sent "X-Forwarded-For: 1.2.3.4, 5.6.7.8"; our proxy appended the address it saw.
    assert _ip(PROXY, "1.2.3.4, 5.6.7.8,203.0.113.7") == "203.0.113.7"
    assert _ip(PROXY) == PROXY


@behind_proxy
def test_a_chain_of_trusted_proxies_is_skipped_from_the_right() -> None:
    assert _ip(PROXY, "1.2.3.4, 203.0.113.7, 10.0.0.9, 10.0.0.3") == "203.0.113.7"
    # A request from inside the proxies' own network: every hop is trusted, the first one sent it.
    assert _ip(PROXY, "10.0.0.9, 10.0.0.3") == "10.0.0.9"


@behind_proxy
def test_garbage_in_the_header_falls_back_to_the_proxy_address() -> None:
    assert _ip(PROXY, "not-an-ip") == PROXY
    assert _ip(PROXY, "203.0.113.7, unknown") == PROXY
    assert _ip(PROXY, "203.0.113.7:4431") == PROXY
    assert _ip(PROXY, " , ") == PROXY
    # Garbage left of the hop that counts is the client's own text and changes nothing.
    assert _ip(PROXY, "<script>, 203.0.113.7") == "203.0.113.7"


@override_settings(TRUSTED_PROXIES=["2001:db8:ffff::/48", "10.0.0.2"])
def test_ipv6_proxies_and_clients_in_canonical_form() -> None:
    assert _ip("2001:db8:ffff::1", "2001:DB8:0:0::7, 2001:db8:ffff::9") == "2001:db8::7"
    assert _ip("2001:db8:ffff::1", "203.0.113.7") == "203.0.113.7"
    # An IPv4 proxy seen through a dual-stack socket is still that proxy.
    assert _ip("::ffff:10.0.0.2", "::ffff:203.0.113.7") == "203.0.113.7"
    assert _ip("2001:db8:1::1", "203.0.113.7") == "2001:db8:1::1"


@override_settings(TRUSTED_PROXIES=["10.0.0.0/33"])
def test_a_typo_in_trusted_proxies_is_a_configuration_error() -> None:
    with pytest.raises(ImproperlyConfigured, match="TRUSTED_PROXIES"):
        _ip(PROXY, "203.0.113.7")


# --- through the real login view ------------------------------------------------------------------


def _login_via_proxy(client: Client, email: str, password: str, forwarded_for: str) -> Any:
    return client.post(
        URL, {"username": email, "password": password}, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded_for
    )


@pytest.mark.django_db
@behind_proxy
def test_behind_the_proxy_a_lock_holds_one_client_not_everyone(alice: User) -> None:
    attacker = Client()
    # A forged left-most value that changes every time must not dodge the counter.
    codes = [
        _login_via_proxy(
            attacker, "alice@example.com", "wrong-password-123", f"192.0.2.{n}, 203.0.113.7"
        ).status_code
        for n in range(5)
    ]
    assert codes == [200] * 4 + [429]
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.7"}
    assert _login_via_proxy(attacker, "alice@example.com", PASSWORD, "203.0.113.7").status_code == 429

    alice_browser = Client()
    response = _login_via_proxy(alice_browser, "alice@example.com", PASSWORD, "198.51.100.9")
    assert response.status_code == 302
    assert _logged_in(alice_browser)

"""Where webhooks may be sent (the SSRF guard): a public address over HTTPS. Loopback, private, link-local
and other non-global addresses are refused unless ``WEBHOOK_ALLOW_PRIVATE_TARGETS`` (on in development and
tests, off in production), and so is plain HTTP. The URL is checked when it is saved and its host's
addresses again before every request (a name may come to point elsewhere); redirects are never followed."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _


class TargetRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _allow_private() -> bool:
    return bool(settings.WEBHOOK_ALLOW_PRIVATE_TARGETS)


def url_check(url: str) -> None:
    """Refuse a URL a webhook may not go to (shape only: no DNS lookup)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise TargetRefused(_("Enter a full address starting with https://."))
    if parts.scheme != "https" and not _allow_private():
        raise TargetRefused(_("Webhooks are sent over HTTPS only: the address must start with https://."))
    if parts.username or parts.password:
        raise TargetRefused(_("The address must not contain a user name or password."))
    try:
        address = ipaddress.ip_address(parts.hostname)
    except ValueError:
        host = parts.hostname.lower()
        if (host == "localhost" or host.endswith(".localhost")) and not _allow_private():
            raise TargetRefused(_("Webhooks cannot be sent to this computer's own addresses.")) from None
        return
    if not address.is_global and not _allow_private():
        raise TargetRefused(_("Webhooks cannot be sent to private or local network addresses."))


def host_check(url: str) -> None:
    """Before a request: every address the host resolves to must be allowed."""
    url_check(url)
    if _allow_private():
        return
    parts = urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise TargetRefused(_("The address's host name does not resolve.")) from exc
    for info in infos:
        if not ipaddress.ip_address(info[4][0]).is_global:
            raise TargetRefused(_("The address points into a private or local network."))

"""django-csp's middleware with the policy built once per configuration instead of on every response.

django-csp builds both headers (the policy and the report-only one) for every response: two
``dataclasses.asdict`` and two ``build_policy`` calls, about 0.1 ms of CPU — a twentieth of a whole
Dokumenty page. This project sets no nonce and no per-view policy, so the headers only change with the
settings. A response that does use a per-view policy (django-csp's decorators), a nonce, an exemption or
an excluded URL prefix goes through django-csp unchanged, and so does DEBUG's 404/500 exemption.
"""

from __future__ import annotations

from dataclasses import asdict
from functools import cache

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, PolicyParts
from csp.middleware import CSPMiddleware as DjangoCSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.dispatch import receiver
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.test.signals import setting_changed

# What django-csp's decorators and exemptions leave on a response.
_PER_RESPONSE = (
    "_csp_config", "_csp_update", "_csp_replace",
    "_csp_config_ro", "_csp_update_ro", "_csp_replace_ro",
    "_csp_exempt", "_csp_exempt_ro",
)  # fmt: skip


@cache
def _headers() -> tuple[str, str, bool]:
    """(policy, report-only policy, whether any URL prefix is excluded), from the settings."""
    excluded = any(
        (getattr(settings, name, None) or {}).get("EXCLUDE_URL_PREFIXES")
        for name in ("CONTENT_SECURITY_POLICY", "CONTENT_SECURITY_POLICY_REPORT_ONLY")
    )
    parts = asdict(PolicyParts())
    return build_policy(**parts), build_policy(**parts, report_only=True), excluded


@receiver(setting_changed)
def _headers_clear(setting: str, **_: object) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _headers.cache_clear()


class CSPMiddleware(DjangoCSPMiddleware):
    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        policy, policy_ro, excluded = _headers()
        if (
            excluded
            or settings.DEBUG
            or getattr(request, "_csp_nonce", None) is not None
            or any(hasattr(response, name) for name in _PER_RESPONSE)
        ):
            return super().process_response(request, response)
        if policy and HEADER not in response:
            response[HEADER] = policy
        if policy_ro and HEADER_REPORT_ONLY not in response:
            response[HEADER_REPORT_ONLY] = policy_ro
        # As django-csp does: a nonce asked for after the header is written is an error, not a silent gap.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
        return response

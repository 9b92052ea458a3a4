"""A thin ``requests`` wrapper for the KSeF API: timeouts on every call, JSON in and out, Bearer auth,
``X-System-Warning`` logging and the mapping of every failure onto the error tree in ``errors.py``.

It never retries: Celery owns retries and state (STYLE.md rule 3).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.auth import AuthBase

from ksef_integration.ksef._values import as_dict, as_list, str_list
from ksef_integration.ksef.errors import (
    CERTIFICATE_CODES,
    ApiErrorDetail,
    KsefCertificateRefused,
    KsefError,
    KsefForbidden,
    KsefGone,
    KsefNotFound,
    KsefNotYetAvailable,
    KsefRateLimited,
    KsefRejected,
    KsefTransientError,
    KsefUnauthorized,
    KsefUnknownKey,
)
from ksef_integration.ksef.secret import Secret

log = logging.getLogger("ksef")

DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 30.0)
DEFAULT_RETRY_AFTER = 60
USER_AGENT = "ksef-portal-client/1.0 (+python-requests)"

UNKNOWN_KEY_CODE = 21470
NOT_YET_AVAILABLE_CODE = 21165
# Exception codes meaning "there is no such thing" (ksef-api.md §17).
NOT_FOUND_CODES = frozenset({21164, 21173, 21175, 21178, 21304, 25005, 25008})


class _Bearer(AuthBase):
    """Sets ``Authorization: Bearer``; being an ``auth`` object, it also keeps ~/.netrc out."""

    def __init__(self, token: Secret) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token.reveal()}"
        return request

    def __repr__(self) -> str:
        return "_Bearer(…)"


class _NoAuth(AuthBase):
    """No Authorization header at all: for public endpoints and pre-signed storage URLs."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.pop("Authorization", None)
        return request


class KsefHttp:
    """HTTP access to one KSeF API base URL (e.g. ``https://api-test.ksef.mf.gov.pl/v2``)."""

    def __init__(
        self,
        *,
        base_url: str,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        problem_details: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.timeout = timeout
        self.problem_details = problem_details

    def __repr__(self) -> str:
        return f"KsefHttp(base_url={self.base_url!r})"

    # --- API calls ---------------------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        *,
        bearer: Secret | None = None,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        expect: Collection[int] = (200,),
    ) -> Any:
        """Call the API and return the decoded JSON reply (``None`` for an empty body, e.g. 204)."""
        response = self.call_raw(
            method, path, bearer=bearer, json_body=json_body, params=params, headers=headers, expect=expect
        )
        if not response.content:
            return None
        return decode_json(response)

    def call_raw(
        self,
        method: str,
        path: str,
        *,
        bearer: Secret | None = None,
        json_body: Any = None,
        body: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        expect: Collection[int] = (200,),
    ) -> requests.Response:
        """Call the API and return the raw response (XML in or out); errors are raised as for ``call``."""
        all_headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if self.problem_details:
            all_headers["X-Error-Format"] = "problem-details"
        data = body
        if json_body is not None:
            all_headers["Content-Type"] = "application/json"
            data = json.dumps(json_body, default=_json_default, ensure_ascii=False).encode()
        all_headers.update(headers or {})
        url = f"{self.base_url}/{path.lstrip('/')}"
        response = self._send(
            method,
            url,
            label=path,
            data=data,
            params=params,
            headers=all_headers,
            auth=_Bearer(bearer) if bearer is not None else _NoAuth(),
        )
        if response.status_code not in expect:
            raise_for_response(response)
        return response

    # --- pre-signed storage URLs (UPO, export parts, batch parts) -------------------------------------

    def external(
        self,
        method: str,
        url: str,
        *,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        expect: Collection[int] = (200, 201),
    ) -> requests.Response:
        """Call a URL KSeF handed out, with exactly ``headers`` and **no Authorization header**."""
        parts = urlsplit(url)
        label = f"{parts.scheme}://{parts.netloc}{parts.path}"  # never log the query: it holds the signature
        response = self._send(
            method, url, label=label, data=data, params=None, headers=dict(headers or {}), auth=_NoAuth()
        )
        if response.status_code not in expect:
            raise_for_response(response)
        return response

    def _send(
        self,
        method: str,
        url: str,
        *,
        label: str,
        data: bytes | None,
        params: Mapping[str, Any] | None,
        headers: dict[str, str],
        auth: AuthBase,
    ) -> requests.Response:
        started = time.monotonic()
        try:
            response = self.session.request(
                method,
                url,
                data=data,
                params=params,
                headers=headers,
                auth=auth,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.Timeout as exc:
            _unreachable(url, f"{method} {label} timed out")
            raise KsefTransientError(f"KSeF did not answer in time ({method} {label})") from exc
        except requests.RequestException as exc:
            _unreachable(url, f"{method} {label} failed: {_reason(exc)}")
            raise KsefTransientError(f"cannot reach KSeF ({method} {label}): {_reason(exc)}") from exc
        _reachable(url)
        log.debug(
            "KSeF %s %s -> %s in %.2fs", method, label, response.status_code, time.monotonic() - started
        )
        warning = response.headers.get("X-System-Warning")
        if warning:
            log.warning("KSeF system warning on %s %s: %s", method, label, warning)
        return response


# Addresses whose last call failed in this process: a failure is logged once per streak, with the address
# tried, and the first answer after it once more; in between the same failure is logged at DEBUG only.
_failing: set[str] = set()
_failing_lock = threading.Lock()


def _address(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _reason(exc: requests.RequestException) -> str:
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "Temporary failure in name resolution" in text:
        return "unknown host"
    return type(exc).__name__


def _unreachable(url: str, what: str) -> None:
    address = _address(url)
    with _failing_lock:
        first = address not in _failing
        _failing.add(address)
    if first:
        log.warning(
            "KSeF at %s cannot be reached: %s (logged once until it answers; callers retry with backoff)",
            address,
            what,
        )
    else:
        log.debug("KSeF at %s still cannot be reached: %s", address, what)


def _reachable(url: str) -> None:
    if not _failing:
        return
    address = _address(url)
    with _failing_lock:
        was = address in _failing
        _failing.discard(address)
    if was:
        log.warning("KSeF at %s answers again", address)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def decode_json(response: requests.Response) -> Any:
    """The JSON body; a body that is not JSON is a (transient) protocol error. Money stays ``Decimal``."""
    try:
        return json.loads(response.content, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise KsefTransientError(
            f"KSeF sent a malformed JSON reply (HTTP {response.status_code})", status=response.status_code
        ) from None


def _body(response: requests.Response) -> dict[str, Any]:
    try:
        return as_dict(json.loads(response.content or b"null"))
    except (ValueError, UnicodeDecodeError):
        return {}


def api_errors(body: Mapping[str, Any]) -> list[ApiErrorDetail]:
    """The errors of either format: legacy ``exception.exceptionDetailList`` or problem+json ``errors``."""
    found: list[ApiErrorDetail] = []
    legacy = as_dict(body.get("exception"))
    for item in as_list(legacy.get("exceptionDetailList")):
        item = as_dict(item)
        found.append(
            ApiErrorDetail(
                code=_int(item.get("exceptionCode")),
                description=str(item.get("exceptionDescription") or ""),
                details=tuple(str_list(item.get("details"))),
            )
        )
    for item in as_list(body.get("errors")):
        item = as_dict(item)
        found.append(
            ApiErrorDetail(
                code=_int(item.get("code")),
                description=str(item.get("description") or ""),
                details=tuple(str_list(item.get("details"))),
            )
        )
    return found


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def retry_after_seconds(value: str | None) -> int:
    """``Retry-After`` as whole seconds (KSeF sends an integer; an HTTP date is accepted too)."""
    if not value:
        return DEFAULT_RETRY_AFTER
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0, int((when - datetime.now(tz=UTC)).total_seconds() + 0.999))


def raise_for_response(response: requests.Response) -> None:
    """Raise the error that fits an unexpected status code."""
    status = response.status_code
    body = _body(response)
    detail = str(body.get("detail") or "")
    if status == 429:
        legacy_status = as_dict(body.get("status"))
        details = str_list(legacy_status.get("details")) or ([detail] if detail else [])
        raise KsefRateLimited(retry_after_seconds(response.headers.get("Retry-After")), details=details)
    if status >= 500:
        raise KsefTransientError(f"KSeF server error (HTTP {status})", status=status)
    if status == 401:
        raise KsefUnauthorized(details=[detail] if detail else [])
    if status == 403:
        security = as_dict(body.get("security"))
        raise KsefForbidden(
            reason_code=body.get("reasonCode"),
            details=[detail] if detail else [],
            required_permissions=str_list(security.get("requiredAnyOfPermissions")),
            present_permissions=str_list(security.get("presentPermissions")),
        )
    if status == 410:
        raise KsefGone(detail or "the KSeF operation has expired (HTTP 410)")
    errors = api_errors(body)
    if errors:
        codes = [error.code for error in errors]
        main = next((e for e in errors if e.code == UNKNOWN_KEY_CODE), errors[0])
        details = [d for error in errors for d in error.details]
        kwargs: dict[str, Any] = {"description": main.description, "errors": errors, "status": status}
        if UNKNOWN_KEY_CODE in codes:
            raise KsefUnknownKey(main.code, details, **kwargs)
        if main.code == NOT_YET_AVAILABLE_CODE:
            raise KsefNotYetAvailable(
                f"KSeF: not available yet ({main.code} {main.description})", status=status
            )
        if main.code in NOT_FOUND_CODES:
            raise KsefNotFound(main.code, details, **kwargs)
        if main.code in CERTIFICATE_CODES:
            raise KsefCertificateRefused(main.code, details, **kwargs)
        raise KsefRejected(main.code, details, **kwargs)
    if status == 404:
        raise KsefNotFound(404, [detail] if detail else [], description="Not Found", status=404)
    if 400 <= status < 500:
        raise KsefRejected(
            status, [detail] if detail else [], description=str(body.get("title") or ""), status=status
        )
    raise KsefError(f"unexpected KSeF reply (HTTP {status})")

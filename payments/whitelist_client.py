"""A client for the Ministry of Finance's VAT white list (Wykaz podatników VAT, wl-api.mf.gov.pl); no Django.

What it relies on (MF's OpenAPI "API Rejestr WL" 1.4.0 to 1.6.0 and the error table MF publishes with it):

- ``GET /api/search/nip/{nip}?date=YYYY-MM-DD`` → ``{"result": {"subject": {…} | null, "requestId",
  "requestDateTime"}}``; ``subject.statusVat`` is ``Czynny``, ``Zwolniony`` or ``Niezarejestrowany`` and
  ``subject.accountNumbers`` lists 26-digit NRBs. ``null`` means the NIP is not in the register.
- ``GET /api/check/nip/{nip}/bank-account/{account}?date=…`` → ``{"result": {"accountAssigned": "TAK" |
  "NIE", "requestId", "requestDateTime"}}``. ``requestId`` is the proof of the check to keep.
- ``GET /api/search/bank-account/{account}?date=…`` → ``{"result": {"subjects": […], …}}``.
- ``date`` is required, never in the future (WL-103) and not before the register's range (WL-118).
- Errors: HTTP 400 (429 for the limit, 500 for WL-100) with ``{"code": "WL-1xx", "message": "…"}``;
  WL-191 (429) means the day's limit for the caller's IP is used up; WL-195/WL-196 mean "the data was just
  updated / is being updated, ask again".
- Limits (MF, "API wykazu podatników VAT"): search: 100 requests a day, at most 30 subjects per request;
  check: 5,000 requests a day; they restart at midnight. The caller counts them (``payments.whitelist``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import requests
from stdnum import iban
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.pl import nip as pl_nip

PUBLIC_URL = "https://wl-api.mf.gov.pl"
TIMEOUT = (5.0, 15.0)  # connect, read (seconds)

ACTIVE = "Czynny"
EXEMPT = "Zwolniony"
NOT_REGISTERED = "Niezarejestrowany"

LIMIT_CODE = "WL-191"
# Not a verdict on the request: MF's server failed, or its data is being replaced; ask again later.
TRANSIENT_CODES = frozenset({"WL-100", "WL-195", "WL-196"})

_SEPARATORS = re.compile(r"[\s\-]")


class WhitelistError(Exception):
    """Any failure, with a message in Polish and in English (``str()`` is the English one)."""

    def __init__(self, message_pl: str, message_en: str, *, code: str = "") -> None:
        super().__init__(message_en)
        self.message_pl = message_pl
        self.message_en = message_en
        self.code = code

    def message(self, language: str) -> str:
        return self.message_en if language.startswith("en") else self.message_pl


class WhitelistInvalidInput(WhitelistError):
    """A NIP or account number that cannot be right, refused before anything is asked (``code``:
    ``nip`` or ``account``)."""


class WhitelistRejected(WhitelistError):
    """The white list refused the request (a WL-1xx code); asking again gives the same answer."""


class WhitelistLimitReached(WhitelistError):
    """The day's limit of requests is used up (WL-191, HTTP 429); it restarts at midnight."""


class WhitelistUnavailable(WhitelistError):
    """No usable answer (network, timeout, 5xx, WL-100/195/196, not JSON): worth asking again later."""


def nip_normalize(value: str) -> str:
    """Ten digits with a valid check digit (``PL``, spaces and dashes dropped), else WhitelistInvalidInput."""
    cleaned = _SEPARATORS.sub("", value or "").upper().removeprefix("PL")
    try:
        return str(pl_nip.validate(cleaned))
    except StdnumError:
        raise WhitelistInvalidInput(
            f"NIP {value!s:.20} jest nieprawidłowy (zła długość, znaki lub cyfra kontrolna).",
            f"NIP {value!s:.20} is not valid (wrong length, characters or check digit).",
            code="nip",
        ) from None


def account_normalize(value: str) -> str:
    """A Polish account number as the white list wants it: the 26-digit NRB (``PL``, spaces and dashes
    dropped), checked as IBAN ``PL…`` (ISO 13616 mod 97), else WhitelistInvalidInput."""
    cleaned = _SEPARATORS.sub("", value or "").upper()
    if cleaned.startswith("PL"):
        cleaned = cleaned[2:]
    if len(cleaned) != 26 or not cleaned.isascii() or not cleaned.isdigit():
        raise WhitelistInvalidInput(
            f"{value!s:.40} nie jest polskim numerem rachunku (26 cyfr).",
            f"{value!s:.40} is not a Polish account number (26 digits).",
            code="account",
        )
    try:
        iban.validate("PL" + cleaned)
    except StdnumError:
        raise WhitelistInvalidInput(
            f"Numer rachunku {cleaned} ma błędne cyfry kontrolne.",
            f"The account number {cleaned} has wrong check digits.",
            code="account",
        ) from None
    return cleaned


@dataclass(frozen=True)
class Subject:
    """A subject of the register as the search answers it (the fields the portal uses)."""

    nip: str
    name: str
    status_vat: str
    account_numbers: tuple[str, ...]
    has_virtual_accounts: bool = False

    @property
    def is_active(self) -> bool:
        return self.status_vat == ACTIVE


@dataclass(frozen=True)
class SearchResult:
    subject: Subject | None  # None: the NIP is not in the register on that day
    request_id: str
    request_date_time: str  # as MF wrote it, "dd-mm-yyyy hh:mm:ss" (Polish time)


@dataclass(frozen=True)
class AccountSearchResult:
    subjects: tuple[Subject, ...]
    request_id: str
    request_date_time: str


@dataclass(frozen=True)
class CheckResult:
    account_assigned: bool  # "TAK": the account is on the list for the NIP on that day
    request_id: str
    request_date_time: str


def _subject(data: Any) -> Subject:
    if not isinstance(data, dict) or not isinstance(data.get("statusVat"), str):
        raise ValueError("subject without statusVat")
    accounts = data.get("accountNumbers") or []
    if not isinstance(accounts, list):
        raise ValueError("accountNumbers is not a list")
    return Subject(
        nip=str(data.get("nip") or ""),
        name=str(data.get("name") or ""),
        status_vat=data["statusVat"],
        account_numbers=tuple(str(a) for a in accounts),
        has_virtual_accounts=bool(data.get("hasVirtualAccounts")),
    )


def _proof(result: dict[str, Any]) -> tuple[str, str]:
    request_id = result.get("requestId")
    if not isinstance(request_id, str) or not request_id:
        raise ValueError("no requestId")
    return request_id, str(result.get("requestDateTime") or "")


class WhitelistClient:
    """GET requests to one white-list base URL (``https://wl-api.mf.gov.pl`` or a stand-in)."""

    def __init__(
        self,
        *,
        base_url: str = PUBLIC_URL,
        timeout: tuple[float, float] = TIMEOUT,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()

    def search_nip(self, *, nip: str, on: dt.date) -> SearchResult:
        """The subject with ``nip`` on the day ``on`` (one "search" request of the day's 100)."""
        number = nip_normalize(nip)
        result = self._get(f"/api/search/nip/{number}", on)
        try:
            subject = result.get("subject")
            found = None if subject is None else _subject(subject)
            request_id, when = _proof(result)
        except ValueError as exc:
            raise _unusable(str(exc)) from exc
        return SearchResult(subject=found, request_id=request_id, request_date_time=when)

    def search_account(self, *, account: str, on: dt.date) -> AccountSearchResult:
        """The subjects holding ``account`` on the day ``on`` (one "search" request)."""
        number = account_normalize(account)
        result = self._get(f"/api/search/bank-account/{number}", on)
        try:
            subjects = result.get("subjects") or []
            if not isinstance(subjects, list):
                raise ValueError("subjects is not a list")
            found = tuple(_subject(s) for s in subjects)
            request_id, when = _proof(result)
        except ValueError as exc:
            raise _unusable(str(exc)) from exc
        return AccountSearchResult(subjects=found, request_id=request_id, request_date_time=when)

    def check_account(self, *, nip: str, account: str, on: dt.date) -> CheckResult:
        """Whether ``account`` is on the list for ``nip`` on the day ``on`` (one "check" request)."""
        number = nip_normalize(nip)
        nrb = account_normalize(account)
        result = self._get(f"/api/check/nip/{number}/bank-account/{nrb}", on)
        try:
            assigned = result.get("accountAssigned")
            if assigned not in ("TAK", "NIE"):
                raise ValueError(f"accountAssigned is {assigned!r}")
            request_id, when = _proof(result)
        except ValueError as exc:
            raise _unusable(str(exc)) from exc
        return CheckResult(account_assigned=assigned == "TAK", request_id=request_id, request_date_time=when)

    def _get(self, path: str, on: dt.date) -> dict[str, Any]:
        url = f"{self.base_url}{path}"
        try:
            response = self.session.get(
                url,
                params={"date": on.isoformat()},
                timeout=self.timeout,
                headers={"Accept": "application/json"},
            )
        except requests.Timeout as exc:
            raise WhitelistUnavailable(
                "Wykaz podatników VAT nie odpowiedział na czas.", "The VAT white list did not answer in time."
            ) from exc
        except requests.RequestException as exc:
            raise WhitelistUnavailable(
                "Nie udało się połączyć z wykazem podatników VAT.", "Cannot connect to the VAT white list."
            ) from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code == 200:
            result = body.get("result") if isinstance(body, dict) else None
            if not isinstance(result, dict):
                raise _unusable(f"HTTP 200 without a result object from {path}")
            return result
        code = str(body.get("code") or "") if isinstance(body, dict) else ""
        message = str(body.get("message") or "")[:500] if isinstance(body, dict) else ""
        if response.status_code == 429 or code == LIMIT_CODE:
            raise WhitelistLimitReached(
                "Dzienny limit zapytań do wykazu podatników VAT został wyczerpany; spróbuj jutro.",
                "The daily limit of requests to the VAT white list is used up; try again tomorrow.",
                code=code or LIMIT_CODE,
            )
        if response.status_code >= 500 or code in TRANSIENT_CODES or not code:
            raise WhitelistUnavailable(
                f"Wykaz podatników VAT odpowiedział błędem (HTTP {response.status_code}"
                + (f", {code}: {message}" if code else "")
                + ").",
                f"The VAT white list answered with an error (HTTP {response.status_code}"
                + (f", {code}: {message}" if code else "")
                + ").",
                code=code,
            )
        raise WhitelistRejected(
            f"Wykaz podatników VAT odrzucił zapytanie: {code} {message}".strip(),
            f"The VAT white list refused the request: {code} {message}".strip(),
            code=code,
        )


def _unusable(detail: str) -> WhitelistUnavailable:
    return WhitelistUnavailable(
        f"Odpowiedź wykazu podatników VAT była nieczytelna ({detail}).",
        f"The VAT white list gave an answer we could not read ({detail}).",
    )

"""A stand-in for the Ministry of Finance's VAT white list API (wl-api.mf.gov.pl) at ``/ksef-sim/wl-api/``.

The same endpoints, answers and WL-xxx errors as MF's (see ``payments/whitelist_client.py`` for what they are
and where they come from), with data derived from the NIP so that every NIP has a stable answer:

- the NIP's ninth digit (the one before the check digit) decides its status: ``0`` not in the register,
  ``8`` "Niezarejestrowany" (removed, no accounts), ``9`` "Zwolniony", any other digit "Czynny";
- a registered NIP holds two accounts (``accounts_for(nip)``), the same on every call;
- ``POST testdata/subject`` sets what the register says about one NIP (status, accounts, or not found)
  and ``POST testdata/subject/remove`` forgets it; ``POST testdata/limits`` sets the daily limits per IP
  (MF: 100 searches, 5,000 checks), ``DELETE`` restores them and clears the day's counters.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from typing import Any
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from stdnum import iban
from stdnum.pl import nip as pl_nip

from ksef_simulator.models import WlSubject
from ksef_simulator.security import client_ip

WARSAW = ZoneInfo("Europe/Warsaw")
ACTIVE, EXEMPT, NOT_REGISTERED = "Czynny", "Zwolniony", "Niezarejestrowany"
STATUSES = (ACTIVE, EXEMPT, NOT_REGISTERED)
DEFAULT_LIMITS = {"search": 100, "check": 5000}
# Two real banks' routing prefixes (PKO BP, mBank); the branch and the account are derived from the NIP.
BANKS = ("102", "114")
_ROUTING_WEIGHTS = (3, 9, 7, 1, 3, 9, 7)
_LIMITS_KEY = "ksef-sim:wl:limits"
_GENERATION_KEY = "ksef-sim:wl:generation"


class WlError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def _routing(bank: str, seed: str) -> str:
    first7 = bank + seed[:4]
    check = (10 - sum(int(d) * w for d, w in zip(first7, _ROUTING_WEIGHTS, strict=True)) % 10) % 10
    return first7 + str(check)


def nrb(routing: str, account: str) -> str:
    """The 26-digit NRB of a routing number and a 16-digit account, with its mod-97 check digits."""
    bban = routing + account
    return f"{98 - int(bban + '252100') % 97:02d}{bban}"


def accounts_for(nip: str) -> list[str]:
    """The two accounts a NIP without test data holds, always the same."""
    found = []
    for index, bank in enumerate(BANKS):
        digest = hashlib.sha256(f"wl:{nip}:{index}".encode()).hexdigest()
        digits = "".join(str(int(c, 16) % 10) for c in digest)
        found.append(nrb(_routing(bank, digits[:4]), digits[4:20]))
    return found


def _today() -> dt.date:
    return dt.datetime.now(WARSAW).date()


def _subject(nip: str, on: dt.date) -> dict[str, Any] | None:
    stored = WlSubject.objects.filter(nip=nip).first()
    if stored is not None:
        if not stored.status_vat:
            return None
        status, accounts, name = stored.status_vat, list(stored.account_numbers), stored.name
        virtual = stored.has_virtual_accounts
    else:
        marker = nip[8]
        if marker == "0":
            return None
        status = {"8": NOT_REGISTERED, "9": EXEMPT}.get(marker, ACTIVE)
        accounts = [] if status == NOT_REGISTERED else accounts_for(nip)
        name, virtual = "", False
    removed = status == NOT_REGISTERED
    return {
        "name": name or f"PODMIOT TESTOWY {nip}",
        "nip": nip,
        "statusVat": status,
        "regon": None,
        "pesel": None,
        "krs": None,
        "residenceAddress": None,
        "workingAddress": "UL. TESTOWA 1, 00-001 WARSZAWA",
        "representatives": [],
        "authorizedClerks": [],
        "partners": [],
        "registrationLegalDate": "2015-01-01",
        "registrationDenialDate": None,
        "registrationDenialBasis": None,
        "restorationDate": None,
        "restorationBasis": None,
        "removalDate": (on.replace(day=1).isoformat() if removed else None),
        "removalBasis": ("Art. 96 ust. 9 ustawy o podatku od towarów i usług" if removed else None),
        "accountNumbers": accounts,
        "hasVirtualAccounts": virtual,
    }


def _nip(value: str) -> str:
    if len(value) != 10:
        raise WlError("WL-113", f"Pole 'NIP' ma nieprawidłową długość. Wymagane 10 znaków ({value}).")
    if not (value.isascii() and value.isdigit()):
        raise WlError("WL-114", f"Pole 'NIP' zawiera niedozwolone znaki. Wymagane tylko cyfry ({value}).")
    if not pl_nip.is_valid(value):
        raise WlError("WL-115", f"Nieprawidłowy NIP ({value}).")
    return value


def _account(value: str) -> str:
    if len(value) != 26:
        raise WlError("WL-109", f"Pole 'numer konta' ma nieprawidłową długość. Wymagane 26 znaków ({value}).")
    if not (value.isascii() and value.isdigit()):
        raise WlError(
            "WL-110", f"Pole 'numer konta' zawiera niedozwolone znaki. Wymagane tylko cyfry ({value})."
        )
    if not iban.is_valid("PL" + value):
        raise WlError("WL-111", f"Nieprawidłowy numer konta bankowego ({value}).")
    return value


def _date(request: HttpRequest) -> dt.date:
    raw = request.GET.get("date", "")
    if not raw:
        raise WlError("WL-101", "Pole 'data' nie może być puste.")
    try:
        day = dt.date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise WlError("WL-102", "Pole 'data' ma nieprawidłowy format.")
    today = _today()
    if day > today:
        raise WlError("WL-103", "Data nie może być datą przyszłą.")
    if day < dt.date(today.year - 5, 1, 1):  # art. 96b ust. 2: the five years before the current one
        raise WlError("WL-118", "Data sprzed zakresu rejestru.")
    return day


def _limits() -> dict[str, int]:
    return {**DEFAULT_LIMITS, **(cache.get(_LIMITS_KEY) or {})}


def _count(request: HttpRequest, kind: str) -> None:
    """One more request of ``kind`` from the caller's IP today; WL-191 (429) past the day's limit."""
    generation = cache.get(_GENERATION_KEY, 0)
    key = f"ksef-sim:wl:count:{generation}:{kind}:{client_ip(request)}:{_today().isoformat()}"
    cache.add(key, 0, timeout=2 * 24 * 3600)
    if cache.incr(key) > _limits()[kind]:
        raise WlError("WL-191", "Limit żądań dla tego adresu IP został na dziś wyczerpany.", status=429)


def _proof() -> dict[str, str]:
    return {
        "requestDateTime": dt.datetime.now(WARSAW).strftime("%d-%m-%Y %H:%M:%S"),
        "requestId": f"{secrets.token_hex(3)[:5]}-{secrets.token_hex(4)[:7]}",
    }


def _answer(view: Any) -> Any:
    def wrapper(request: HttpRequest, **kwargs: str) -> HttpResponse:
        try:
            return JsonResponse({"result": view(request, **kwargs)})
        except WlError as error:
            return JsonResponse({"code": error.code, "message": error.message}, status=error.status)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return require_GET(wrapper)


@_answer
def search_nip(request: HttpRequest, nip: str) -> dict[str, Any]:
    """``GET /api/search/nip/{nip}?date=``: the subject, or ``subject: null`` when it is not registered."""
    _count(request, "search")
    number = _nip(nip)
    day = _date(request)
    return {"subject": _subject(number, day), **_proof()}


@_answer
def search_account(request: HttpRequest, account: str) -> dict[str, Any]:
    """``GET /api/search/bank-account/{account}?date=``: the subjects holding the account."""
    _count(request, "search")
    number = _account(account)
    day = _date(request)
    subjects = []
    for stored in WlSubject.objects.exclude(status_vat=""):
        if number in stored.account_numbers:
            found = _subject(stored.nip, day)
            if found is not None:
                subjects.append(found)
    return {"subjects": subjects, **_proof()}


@_answer
def check_account(request: HttpRequest, nip: str, account: str) -> dict[str, Any]:
    """``GET /api/check/nip/{nip}/bank-account/{account}?date=``: TAK when the account is the NIP's."""
    _count(request, "check")
    number = _nip(nip)
    nrb_number = _account(account)
    day = _date(request)
    subject = _subject(number, day)
    assigned = subject is not None and nrb_number in subject["accountNumbers"]
    return {"accountAssigned": "TAK" if assigned else "NIE", **_proof()}


def _body(request: HttpRequest) -> dict[str, Any]:
    try:
        data = json.loads(request.body or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError):
        data = None
    if not isinstance(data, dict):
        raise WlError("WL-190", "Niepoprawne żądanie.")
    return data


def _testdata(view: Any) -> Any:
    def wrapper(request: HttpRequest) -> HttpResponse:
        try:
            return view(request)
        except WlError as error:
            return JsonResponse({"code": error.code, "message": error.message}, status=error.status)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return csrf_exempt(wrapper)


@_testdata
@require_POST
def testdata_subject(request: HttpRequest) -> HttpResponse:
    """Set one NIP's entry: ``{"nip", "statusVat": "Czynny"|"Zwolniony"|"Niezarejestrowany"|null,
    "accountNumbers": [...], "name"?, "hasVirtualAccounts"?}``; ``statusVat: null`` = not registered."""
    body = _body(request)
    number = _nip(str(body.get("nip") or ""))
    status = body.get("statusVat")
    if status is not None and status not in STATUSES:
        raise WlError("WL-190", f"statusVat musi być jednym z: {', '.join(STATUSES)} albo null.")
    accounts = body.get("accountNumbers") or []
    if not isinstance(accounts, list):
        raise WlError("WL-190", "accountNumbers musi być listą.")
    WlSubject.objects.update_or_create(
        nip=number,
        defaults={
            "name": str(body.get("name") or "")[:256],
            "status_vat": status or "",
            "account_numbers": [_account(str(a)) for a in accounts],
            "has_virtual_accounts": bool(body.get("hasVirtualAccounts")),
        },
    )
    return JsonResponse({"nip": number})


@_testdata
@require_POST
def testdata_subject_remove(request: HttpRequest) -> HttpResponse:
    """Forget one NIP's entry (``{"nip"}``): its answers are derived from the NIP again."""
    body = _body(request)
    deleted, _ = WlSubject.objects.filter(nip=str(body.get("nip") or "")).delete()
    return JsonResponse({"deleted": deleted})


@_testdata
@require_http_methods(["POST", "DELETE"])
def testdata_limits(request: HttpRequest) -> HttpResponse:
    """``POST {"search"?, "check"?}`` sets the daily limits per IP; ``DELETE`` restores MF's (100 / 5,000)
    and starts the day's counters again."""
    if request.method == "DELETE":
        cache.delete(_LIMITS_KEY)
        cache.set(_GENERATION_KEY, cache.get(_GENERATION_KEY, 0) + 1, timeout=None)
        return JsonResponse(DEFAULT_LIMITS)
    body = _body(request)
    limits = _limits()
    for kind in DEFAULT_LIMITS:
        if kind in body:
            value = body[kind]
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise WlError("WL-190", f"{kind} musi być liczbą całkowitą ≥ 0.")
            limits[kind] = value
    cache.set(_LIMITS_KEY, limits, timeout=None)
    return JsonResponse(limits)


urlpatterns = [
    path("api/search/nip/<str:nip>", search_nip, name="wl-search-nip"),
    path("api/search/bank-account/<str:account>", search_account, name="wl-search-account"),
    path("api/check/nip/<str:nip>/bank-account/<str:account>", check_account, name="wl-check"),
    path("testdata/subject", testdata_subject, name="wl-testdata-subject"),
    path("testdata/subject/remove", testdata_subject_remove, name="wl-testdata-subject-remove"),
    path("testdata/limits", testdata_limits, name="wl-testdata-limits"),
]

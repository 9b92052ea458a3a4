"""Rate limits (sliding windows, profiles, 429 in both formats) and the context/subject limits."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ksef_simulator import limits
from ksef_simulator.conf import config_update
from ksef_simulator.models import RateLimitHit
from tests.ksef_simulator.core.conftest import V2, Session, bearer, login_xades, post_json, random_nip
from tests.ksef_simulator.core.spec import assert_request_matches, assert_response_matches

pytestmark = pytest.mark.django_db


@pytest.fixture
def limited(db: Any) -> None:
    config_update(rate_limit_profile="default")


def custom_limits(**overrides: tuple[int, int, int]) -> dict[str, Any]:
    table = {g: dict(v) for g, v in limits.DEFAULT_LIMITS.items() if g in limits.OVERRIDABLE}
    for group, (second, minute, hour) in overrides.items():
        table[group] = {"perSecond": second, "perMinute": minute, "perHour": hour}
    return {"rateLimits": table}


def test_rate_limits_endpoint_matches_the_spec(client: Any, owner: Session) -> None:
    response = client.get(f"{V2}/rate-limits", **bearer(owner.access_token))
    body = assert_response_matches(response, "GET", "/rate-limits")
    assert body["invoiceSend"] == {"perSecond": 10, "perMinute": 30, "perHour": 180}
    assert body["anonymous"]["perSecond"] == 60


def test_group_mapping() -> None:
    assert limits.group_for("POST", f"{V2}/sessions/online") == "onlineSession"
    assert limits.group_for("POST", f"{V2}/sessions/online/REF/invoices") == "invoiceSend"
    assert limits.group_for("GET", f"{V2}/sessions/REF/invoices/failed") == "sessionInvoiceList"
    assert limits.group_for("GET", f"{V2}/sessions/REF/invoices/INV") == "invoiceStatus"
    assert limits.group_for("GET", f"{V2}/sessions/REF/upo/UPO") == "sessionMisc"
    assert limits.group_for("GET", f"{V2}/auth/sessions") == "other"
    assert limits.group_for("GET", f"{V2}/auth/20250101-AU-0000000000-0000000000-00") == "anonymous"
    assert limits.group_for("GET", "/ksef-sim/storage/x") is None
    # The operations added for issue 23, with the groups the spec's x-rate-limits give them.
    assert limits.group_for("POST", f"{V2}/collective-identifiers/query") == "collectiveIdentifier"
    assert limits.group_for("GET", f"{V2}/collective-identifiers/ksef/X") == "collectiveIdentifier"
    assert limits.group_for("GET", f"{V2}/peppol/query") == "anonymous"
    assert limits.group_for("POST", f"{V2}/permissions/eu-entities/grants") == "other"


def test_per_minute_limit_gives_429_with_retry_after_in_both_formats(
    client: Any, owner: Session, limited: None
) -> None:
    body = custom_limits(other=(100, 3, 100))
    assert_request_matches(body, "POST", "/testdata/rate-limits")
    assert post_json(client, "/testdata/rate-limits", body, **bearer(owner.access_token)).status_code == 200
    # The POST above counted against its own endpoint; GET /rate-limits has its own counter.
    for _ in range(3):
        assert client.get(f"{V2}/rate-limits", **bearer(owner.access_token)).status_code == 200
    refused = client.get(f"{V2}/rate-limits", **bearer(owner.access_token))
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    legacy = assert_response_matches(refused, "GET", "/rate-limits")
    assert "3 żądań na minutę" in legacy["status"]["details"][0]
    problem = client.get(
        f"{V2}/rate-limits", HTTP_X_ERROR_FORMAT="problem-details", **bearer(owner.access_token)
    )
    assert problem.status_code == 429
    assert problem["Content-Type"] == "application/problem+json"
    assert_response_matches(problem, "GET", "/rate-limits")
    # Another endpoint of the "other" group still answers.
    assert client.get(f"{V2}/limits/context", **bearer(owner.access_token)).status_code == 200


def test_window_slides(client: Any, owner: Session, limited: None) -> None:
    post_json(
        client, "/testdata/rate-limits", custom_limits(other=(100, 2, 100)), **bearer(owner.access_token)
    )
    for _ in range(2):
        client.get(f"{V2}/rate-limits", **bearer(owner.access_token))
    assert client.get(f"{V2}/rate-limits", **bearer(owner.access_token)).status_code == 429
    RateLimitHit.objects.update(at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=61))
    assert client.get(f"{V2}/rate-limits", **bearer(owner.access_token)).status_code == 200


def test_limits_are_per_context_and_reset_restores_defaults(
    client: Any, owner: Session, limited: None
) -> None:
    post_json(
        client, "/testdata/rate-limits", custom_limits(other=(100, 1, 100)), **bearer(owner.access_token)
    )
    client.get(f"{V2}/rate-limits", **bearer(owner.access_token))
    assert client.get(f"{V2}/rate-limits", **bearer(owner.access_token)).status_code == 429
    stranger = login_xades(client, random_nip())
    assert client.get(f"{V2}/rate-limits", **bearer(stranger.access_token)).status_code == 200
    assert client.delete(f"{V2}/testdata/rate-limits", **bearer(owner.access_token)).status_code == 200
    assert client.get(f"{V2}/rate-limits", **bearer(owner.access_token)).status_code == 200
    assert (
        client.post(f"{V2}/testdata/rate-limits/production", **bearer(owner.access_token)).status_code == 200
    )
    body = client.get(f"{V2}/rate-limits", **bearer(owner.access_token)).json()
    assert body["other"] == limits.PRODUCTION_LIMITS["other"]


def test_off_profile_disables_limits(client: Any, owner: Session, limited: None) -> None:
    post_json(
        client, "/testdata/rate-limits", custom_limits(other=(100, 1, 100)), **bearer(owner.access_token)
    )
    config_update(rate_limit_profile="off")
    for _ in range(3):
        assert client.get(f"{V2}/rate-limits", **bearer(owner.access_token)).status_code == 200


def test_anonymous_per_second_limit(client: Any, limited: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # The 61 requests count in one second however long the machine takes to serve them: on a loaded one (the
    # suite's parallel workers on 2 cores) they took more than a second, the window slid, the 61st got in.
    instant = limits.now_utc()
    monkeypatch.setattr(limits, "now_utc", lambda: instant)
    statuses = [client.post(f"{V2}/auth/challenge").status_code for _ in range(61)]
    assert statuses[:60] == [200] * 60
    assert statuses[60] == 429


def test_invalid_custom_limits_are_21405(client: Any, owner: Session) -> None:
    response = post_json(client, "/testdata/rate-limits", {"rateLimits": {}}, **bearer(owner.access_token))
    assert response.status_code == 400
    assert client.post(f"{V2}/testdata/rate-limits/production").status_code == 401


def test_context_limits_and_override(client: Any, owner: Session) -> None:
    response = client.get(f"{V2}/limits/context", **bearer(owner.access_token))
    body = assert_response_matches(response, "GET", "/limits/context")
    assert body["onlineSession"] == {
        "maxInvoiceSizeInMB": 1,
        "maxInvoiceWithAttachmentSizeInMB": 3,
        "maxInvoices": 10000,
    }
    override = {
        "onlineSession": {"maxInvoiceSizeInMB": 2, "maxInvoiceWithAttachmentSizeInMB": 4, "maxInvoices": 5},
        "batchSession": {"maxInvoiceSizeInMB": 1, "maxInvoiceWithAttachmentSizeInMB": 3, "maxInvoices": 7},
        "collectiveIdentifier": {"maxInvoices": 10},
    }
    assert_request_matches(override, "POST", "/testdata/limits/context/session")
    response = post_json(client, "/testdata/limits/context/session", override, **bearer(owner.access_token))
    assert response.status_code == 200
    assert client.get(f"{V2}/limits/context", **bearer(owner.access_token)).json() == override
    assert (
        limits.context_limits(context_type="Nip", context_value=owner_nip(owner))["onlineSession"][
            "maxInvoices"
        ]
        == 5
    )
    client.delete(f"{V2}/testdata/limits/context/session", **bearer(owner.access_token))
    assert (
        client.get(f"{V2}/limits/context", **bearer(owner.access_token)).json()["onlineSession"][
            "maxInvoices"
        ]
        == 10000
    )


def owner_nip(session: Session) -> str:
    from ksef_simulator import security

    claims = security.jwt_decode(session.access_token)
    assert claims is not None
    return str(claims["context-identifier-value"])


def test_subject_limits_and_override(client: Any, owner: Session) -> None:
    response = client.get(f"{V2}/limits/subject", **bearer(owner.access_token))
    body = assert_response_matches(response, "GET", "/limits/subject")
    assert body == {"enrollment": {"maxEnrollments": 300}, "certificate": {"maxCertificates": 100}}
    override = {"subjectIdentifierType": "Nip", "certificate": {"maxCertificates": 2}}
    response = post_json(
        client, "/testdata/limits/subject/certificate", override, **bearer(owner.access_token)
    )
    assert response.status_code == 200
    body = client.get(f"{V2}/limits/subject", **bearer(owner.access_token)).json()
    assert body["certificate"] == {"maxCertificates": 2}
    assert body["enrollment"] == {"maxEnrollments": 300}
    client.delete(f"{V2}/testdata/limits/subject/certificate", **bearer(owner.access_token))
    assert (
        client.get(f"{V2}/limits/subject", **bearer(owner.access_token)).json()["certificate"][
            "maxCertificates"
        ]
        == 100
    )


def test_repeated_breaches_block_for_longer_each_time(
    client: Any, owner: Session, limited: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """KSeF's blocks grow with repeated breaches (ksef-api.md §11.1): a breach blocks the counter for the
    window's wait, during which nothing passes (nor counts); each breach after that doubles the block."""
    post_json(
        client, "/testdata/rate-limits", custom_limits(other=(100, 1, 100)), **bearer(owner.access_token)
    )
    moment = [dt.datetime.now(dt.UTC)]
    monkeypatch.setattr(limits, "now_utc", lambda: moment[0])

    def call() -> Any:
        return client.get(f"{V2}/rate-limits", **bearer(owner.access_token))

    waits = []
    for _ in range(3):
        assert call().status_code == 200
        refused = call()
        assert refused.status_code == 429
        waits.append(int(refused["Retry-After"]))
        moment[0] += dt.timedelta(seconds=waits[-1] - 1)
        inside = call()  # still blocked: refused with what is left, and not counted
        assert (inside.status_code, int(inside["Retry-After"])) == (429, 1)
        moment[0] += dt.timedelta(seconds=61)
    assert 55 <= waits[0] <= 60
    assert waits[1:] == [waits[0] * 2, waits[0] * 4]
    # Resetting the context's limits ends its blocks.
    call()
    assert call().status_code == 429
    assert client.delete(f"{V2}/testdata/rate-limits", **bearer(owner.access_token)).status_code == 200
    assert call().status_code == 200

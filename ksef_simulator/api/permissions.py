"""``GET /permissions/attachments/status``: whether the caller's context may send invoices with attachments
(the consent ``/testdata/attachment`` gives). The rest of the permissions API is issue 20's."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest, HttpResponse, JsonResponse

from ksef_simulator import security
from ksef_simulator.http import api_view
from ksef_simulator.models import AttachmentConsent
from ksef_simulator.processing import WARSAW, attachment_consent
from ksef_simulator.responses import iso, now_utc


@api_view("GET", name="permissions.attachments.status")
def attachments_status(request: HttpRequest) -> HttpResponse:
    principal = security.principal_from_request(request)
    security.require_any_permission(principal, ("CredentialsManage", "CredentialsRead"))
    consent: AttachmentConsent | None = attachment_consent(principal.context_value, at=now_utc())
    ends = None
    if consent is not None and consent.ends_on is not None:
        ends = dt.datetime.combine(consent.ends_on, dt.time(), tzinfo=WARSAW)
    return JsonResponse({"isAttachmentAllowed": consent is not None, "revokedDate": iso(ends)})

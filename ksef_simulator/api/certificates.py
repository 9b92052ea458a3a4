"""KSeF certificates: ``/certificates/limits``, ``/certificates/enrollments`` (data, send, status),
``/certificates/retrieve``, ``/certificates/query``, ``/certificates/{serial}/revoke`` and TEST's
``PUT /testdata/certificates/{serial}`` (ksef-api.md §4.6, §13; the work is in ``services_certificates``)."""

from __future__ import annotations

import base64
import re
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from ksef_simulator import security, services_certificates
from ksef_simulator.http import api_view, json_object, read_json
from ksef_simulator.models import AuthOperation, IssuedCertificate
from ksef_simulator.paging import query_int
from ksef_simulator.responses import forbidden, iso, validation_error
from ksef_simulator.schemas_core import validate_request
from ksef_simulator.services_certificates import Caller

SERIAL_RE = re.compile(r"^[0-9A-F]{16}$")


def _caller(request: HttpRequest) -> Caller:
    """The authenticated subject behind the access token, and how it logged in."""
    principal = security.principal_from_request(request)
    operation = (
        AuthOperation.objects.filter(reference_number=principal.auth_reference)
        .only("certificate_subject")
        .first()
    )
    return Caller(
        subject_type=principal.subject_type,
        subject_value=principal.subject_value,
        by_token=principal.ksef_token_reference is not None,
        certificate_subject=dict(operation.certificate_subject) if operation is not None else {},
    )


def _optional_object(request: HttpRequest) -> dict[str, Any]:
    """A JSON object body, or ``{}`` for an empty body (the filters and the reason are optional)."""
    if not request.body:
        return {}
    data = read_json(request)
    if not isinstance(data, dict):
        raise validation_error("Treść żądania musi być obiektem JSON.")
    return data


def _serial(value: str, name: str) -> str:
    if not SERIAL_RE.match(value):
        raise validation_error(f"{name}: wartość nie pasuje do wzorca ^[0-9A-F]{{16}}$.")
    return value


@api_view("GET", name="certificates.limits")
def limits(request: HttpRequest) -> HttpResponse:
    return JsonResponse(services_certificates.limits_status(caller=_caller(request)))


@api_view("GET", name="certificates.enrollments.data")
def enrollment_data(request: HttpRequest) -> HttpResponse:
    return JsonResponse(services_certificates.enrollment_data(caller=_caller(request)))


@api_view("POST", name="certificates.enrollments.send")
def enroll(request: HttpRequest) -> HttpResponse:
    caller = _caller(request)
    body = json_object(request)
    validate_request("POST /certificates/enrollments", body)
    enrollment = services_certificates.enrollment_submit(
        caller=caller,
        name=body["certificateName"],
        kind=body["certificateType"],
        csr_der=base64.b64decode(body["csr"]),
        valid_from=body.get("validFrom"),
    )
    return JsonResponse(
        {"referenceNumber": enrollment.reference_number, "timestamp": iso(enrollment.requested_at)},
        status=202,
    )


@api_view("GET", name="certificates.enrollments.status")
def enrollment_status(request: HttpRequest, reference: str) -> HttpResponse:
    enrollment, status = services_certificates.enrollment_status(caller=_caller(request), reference=reference)
    body: dict[str, Any] = {"requestDate": iso(enrollment.requested_at), "status": status}
    if enrollment.certificate_serial:
        body["certificateSerialNumber"] = enrollment.certificate_serial
    return JsonResponse(body)


@api_view("POST", name="certificates.retrieve")
def retrieve(request: HttpRequest) -> HttpResponse:
    caller = _caller(request)
    body = json_object(request)
    validate_request("POST /certificates/retrieve", body)
    rows = services_certificates.certificates_retrieve(
        caller=caller, serials=body["certificateSerialNumbers"]
    )
    return JsonResponse(
        {
            "certificates": [
                {
                    "certificate": base64.b64encode(bytes(row.certificate_der)).decode(),
                    "certificateName": row.name,
                    "certificateSerialNumber": row.serial_number,
                    "certificateType": row.kind,
                }
                for row in rows
            ]
        }
    )


def _list_item(row: IssuedCertificate) -> dict[str, Any]:
    return {
        "certificateSerialNumber": row.serial_number,
        "name": row.name,
        "type": row.kind,
        "commonName": row.common_name,
        "status": services_certificates.certificate_status(row),
        "subjectIdentifier": {"type": row.subject_type, "value": row.subject_value},
        "validFrom": iso(row.valid_from),
        "validTo": iso(row.valid_to),
        "lastUseDate": iso(row.last_used_at),
        "requestDate": iso(row.requested_at or row.valid_from),
    }


@api_view("POST", name="certificates.query")
def query(request: HttpRequest) -> HttpResponse:
    page_size = query_int(request, "pageSize", default=10, minimum=10, maximum=50)
    page_offset = query_int(request, "pageOffset", default=0, minimum=0, maximum=2**31 - 1)
    caller = _caller(request)
    filters = _optional_object(request)
    validate_request("POST /certificates/query", filters)
    rows, has_more = services_certificates.certificates_query(
        caller=caller, filters=filters, page_size=page_size, page_offset=page_offset
    )
    return JsonResponse({"certificates": [_list_item(row) for row in rows], "hasMore": has_more})


@api_view("POST", name="certificates.revoke")
def revoke(request: HttpRequest, serial: str) -> HttpResponse:
    caller = _caller(request)
    if caller.by_token:
        raise forbidden(
            "auth-method-not-allowed",
            "Operacja nie jest dostępna dla podmiotu uwierzytelnionego tokenem KSeF.",
            {"authenticationMethodCategory": "Token"},
        )
    body = _optional_object(request)
    validate_request("POST /certificates/{certificateSerialNumber}/revoke", body)
    services_certificates.certificate_revoke(
        caller=caller,
        serial=_serial(serial, "certificateSerialNumber"),
        reason=body.get("revocationReason"),
    )
    return HttpResponse(status=204)


@api_view("PUT", name="testdata.certificates.update")
def testdata_update(request: HttpRequest, serial: str) -> HttpResponse:
    caller = _caller(request)
    body = json_object(request)
    validate_request("PUT /testdata/certificates/{serialNumber}", body)
    services_certificates.certificate_validity_shorten(
        caller=caller, serial=_serial(serial, "serialNumber"), valid_to=body["validTo"]
    )
    return HttpResponse(status=200)

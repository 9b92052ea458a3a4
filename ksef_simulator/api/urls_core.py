"""Routes of the core: keys, auth, KSeF tokens, certificates, limits and test data (literal paths before
parameters)."""

from django.urls import path

from ksef_simulator.api import auth, certificates, limits, permissions, security_keys, testdata, tokens

urlpatterns = [
    path("security/public-key-certificates", security_keys.public_key_certificates),
    path("auth/challenge", auth.challenge),
    path("auth/ksef-token", auth.ksef_token),
    path("auth/xades-signature", auth.xades_signature),
    path("auth/token/redeem", auth.redeem),
    path("auth/token/refresh", auth.refresh),
    path("auth/sessions", auth.sessions),
    path("auth/sessions/current", auth.revoke_current),
    path("auth/sessions/<str:reference>", auth.revoke),
    path("auth/<str:reference>", auth.status),
    path("tokens", tokens.tokens),
    path("tokens/<str:reference>", tokens.token),
    path("certificates/limits", certificates.limits),
    path("certificates/enrollments/data", certificates.enrollment_data),
    path("certificates/enrollments", certificates.enroll),
    path("certificates/enrollments/<str:reference>", certificates.enrollment_status),
    path("certificates/retrieve", certificates.retrieve),
    path("certificates/query", certificates.query),
    path("certificates/<str:serial>/revoke", certificates.revoke),
    path("rate-limits", limits.rate_limits),
    path("limits/context", limits.context),
    path("limits/subject", limits.subject),
    path("testdata/rate-limits", limits.testdata_rate_limits),
    path("testdata/rate-limits/production", limits.testdata_rate_limits_production),
    path("testdata/limits/context/session", limits.testdata_session_limits),
    path("testdata/limits/subject/certificate", limits.testdata_subject_limits),
    path("permissions/attachments/status", permissions.attachments_status),
    path("testdata/attachment", testdata.attachment),
    path("testdata/attachment/revoke", testdata.attachment_revoke),
    path("testdata/person", testdata.person),
    path("testdata/person/remove", testdata.person_remove),
    path("testdata/subject", testdata.subject),
    path("testdata/subject/remove", testdata.subject_remove),
    path("testdata/permissions", testdata.permissions),
    path("testdata/permissions/revoke", testdata.permissions_revoke),
    path("testdata/context/block", testdata.context_block),
    path("testdata/context/unblock", testdata.context_unblock),
    path("testdata/certificates/<str:serial>", certificates.testdata_update),
]

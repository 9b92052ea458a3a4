"""Error reports (the DEBUG page, the e-mails to ADMINS) hide secrets with DEBUG on as well as off."""

from __future__ import annotations

from django.http import HttpRequest
from django.views.debug import SafeExceptionReporterFilter


class SecretsHiddenFilter(SafeExceptionReporterFilter):
    """Django's filter applies ``sensitive_variables``/``sensitive_post_parameters`` only with DEBUG off;
    ours always does: a developer's DEBUG page must not show a KSeF token or a key password either."""

    def is_active(self, request: HttpRequest | None) -> bool:
        return True

"""The public REST API under ``/api/v1/`` (issue 22): django-ninja, API keys, problem details."""

"""Counting a page's own statements in the statement-budget tests."""

from __future__ import annotations

from django.test.utils import CaptureQueriesContext


def page_statements(captured: CaptureQueriesContext) -> list[str]:
    """The statements a request ran, without reading its session: that one depends on the session engine
    (the database locally without Redis, the Redis cache in CI), not on the page."""
    return [query["sql"] for query in captured.captured_queries if '"django_session"' not in query["sql"]]

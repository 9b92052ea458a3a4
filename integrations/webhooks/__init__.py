"""Webhooks (issue 22): a company's endpoints, the events recorded for them, signed deliveries, retries."""

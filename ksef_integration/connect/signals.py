"""What connecting tells the rest of the integration, without knowing who listens."""

from django.dispatch import Signal

# A company's connection became (again) able to send: ``company_id``. Sent when the transaction commits.
connection_active = Signal()

"""Sessions (online and batch), invoices, UPOs and exports."""

from __future__ import annotations

__all__: list[str] = []

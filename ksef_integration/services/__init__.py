"""State changes of the KSeF integration; views, admin actions and tasks call these and nothing else."""

from ksef_integration.services.connection import (
    ConnectResult,
    connection_connect_certificate,
    connection_connect_token,
    connection_disconnect,
    connection_settings_update,
    connection_verify,
)

__all__ = [
    "ConnectResult",
    "connection_connect_certificate",
    "connection_connect_token",
    "connection_disconnect",
    "connection_settings_update",
    "connection_verify",
]

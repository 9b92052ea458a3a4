"""A small SMTP server on loopback for the delivery tests: Django's real SMTP backend talks to it over TCP.

``mode`` decides its answers, and may change while it runs: "accept" (250 to everything, the message kept
in ``received``), "refuse" (550 to RCPT: the address does not exist), "busy" (421 at the greeting: the
server is down for now, a transient failure).
"""

from __future__ import annotations

import socketserver
import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any


@dataclass
class SmtpState:
    mode: str = "accept"
    received: list[Message] = field(default_factory=list)
    sessions: int = 0


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def _say(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        state = self.server.state
        state.sessions += 1
        if state.mode == "busy":
            self._say("421 4.3.2 Service not available, try again later")
            return
        self._say("220 test-smtp ready")
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            command = raw.decode("ascii", "replace").strip().upper()
            if command.startswith(("EHLO", "HELO")):
                self._say("250 test-smtp")
            elif command.startswith("MAIL FROM"):
                self._say("250 2.1.0 OK")
            elif command.startswith("RCPT TO"):
                if state.mode == "refuse":
                    self._say("550 5.1.1 No such user here")
                else:
                    self._say("250 2.1.5 OK")
            elif command == "DATA":
                self._say("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                while True:
                    line = self.rfile.readline()
                    if line in (b".\r\n", b".\n", b""):
                        break
                    lines.append(line[1:] if line.startswith(b"..") else line)
                state.received.append(message_from_bytes(b"".join(lines)))
                self._say("250 2.0.0 queued as 1")
            elif command in ("RSET", "NOOP"):
                self._say("250 OK")
            elif command == "QUIT":
                self._say("221 Bye")
                return
            else:
                self._say("502 Command not implemented")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, state: SmtpState, *args: Any) -> None:
        self.state = state
        super().__init__(*args)


class SmtpServer:
    """Start with ``with SmtpServer() as smtp:``; ``smtp.port``, ``smtp.state``."""

    def __init__(self, port: int = 0, mode: str = "accept") -> None:
        self.state = SmtpState(mode=mode)
        self._server = _Server(self.state, ("127.0.0.1", port), _Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> SmtpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

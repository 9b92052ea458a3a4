"""Fixtures and helpers of the buyer e-mail tests: the company connected to the simulator (as the sending
tests have it), the QR codes read back from a PDF, and running the queued e-mail tasks as a worker would."""

from __future__ import annotations

from typing import Any

import pypdfium2
import zxingcpp

from ksef_integration import queue
from ksef_integration.delivery.services import Outcome, delivery_send
from tests.conftest import Queued
from tests.sending import test_send_simulator

connected = test_send_simulator.connected


def pdf_qr_texts(pdf: bytes) -> list[str]:
    """The texts of every QR code on every page of ``pdf``: rendered as an image, then decoded."""
    texts: list[str] = []
    document = pypdfium2.PdfDocument(pdf)
    try:
        for index in range(len(document)):
            image = document[index].render(scale=4).to_pil()
            texts += [
                code.text
                for code in zxingcpp.read_barcodes(image)
                if code.format == zxingcpp.BarcodeFormat.QRCode
            ]
    finally:
        document.close()
    return texts


def run_queued_deliveries(queued: Queued) -> list[Outcome]:
    """Run the ``ksef.delivery_send`` messages queued so far, as the worker would, and take them off the
    record (a message is delivered once)."""
    mine = [m for m in queued.messages if m[0] == queue.DELIVERY_SEND]
    queued.messages[:] = [m for m in queued.messages if m[0] != queue.DELIVERY_SEND]
    return [delivery_send(delivery_id=args[0]) for _name, args, _options in mine]


def attachments(message: Any) -> dict[str, tuple[bytes, str]]:
    """name → (content, MIME type) of a Django EmailMessage's attachments."""
    found = {}
    for name, content, mimetype in message.attachments:
        found[name] = (content if isinstance(content, bytes) else content.encode(), mimetype)
    return found

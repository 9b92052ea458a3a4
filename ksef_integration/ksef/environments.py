"""KSeF environments: API base URLs and QR-code hosts (ksef-api.md §1)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Environment:
    """Where to talk to KSeF: the API base (ending in ``/v2``) and the QR verification host."""

    name: str
    api_url: str
    qr_host: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "api_url", self.api_url.rstrip("/"))


TEST = Environment(
    name="test", api_url="https://api-test.ksef.mf.gov.pl/v2", qr_host="qr-test.ksef.mf.gov.pl"
)
DEMO = Environment(
    name="demo", api_url="https://api-demo.ksef.mf.gov.pl/v2", qr_host="qr-demo.ksef.mf.gov.pl"
)
PROD = Environment(name="prod", api_url="https://api.ksef.mf.gov.pl/v2", qr_host="qr.ksef.mf.gov.pl")

PUBLIC: dict[str, Environment] = {env.name: env for env in (TEST, DEMO, PROD)}


def simulator(*, api_url: str, qr_host: str = "qr-test.ksef.mf.gov.pl") -> Environment:
    """The local simulator: its base URL depends on where the portal runs (e.g. ``http://host/ksef-sim/v2``).

    QR links keep a real host by default (TEST), because a simulator has no public QR verification page.
    """
    return Environment(name="simulator", api_url=api_url, qr_host=qr_host)


def environment_get(*, name: str, simulator_url: str | None = None) -> Environment:
    """The environment called ``name`` (``simulator``, ``test``, ``demo`` or ``prod``)."""
    if name == "simulator":
        if not simulator_url:
            raise ValueError("the simulator environment needs its base URL")
        return simulator(api_url=simulator_url)
    try:
        return PUBLIC[name]
    except KeyError:
        raise ValueError(f"unknown KSeF environment {name!r}") from None

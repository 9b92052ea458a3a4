"""The simulator's knobs as a frozen snapshot: ``get_config().invoice_processing_delay`` and friends.

The values live in one ``SimulatorConfig`` row (created with defaults on first read) so that they survive
restarts and can be changed at run time through ``/ksef-sim/control/config``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection

from ksef_simulator.models import FaultRule, SimulatorConfig

# The fields that hold a delay, as (dataclass field, model field in milliseconds).
DELAY_FIELDS = {
    "auth_delay": "auth_delay_ms",
    "token_activation_delay": "token_activation_delay_ms",
    "permission_operation_delay": "permission_operation_delay_ms",
    "certificate_enrollment_delay": "certificate_enrollment_delay_ms",
    "invoice_processing_delay": "invoice_processing_delay_ms",
    "permanent_storage_lag": "permanent_storage_lag_ms",
    "hwm_lag": "hwm_lag_ms",
}


@dataclass(frozen=True)
class Config:
    """What the simulator does now. Delays are computed from timestamps, never slept."""

    unavailable: bool
    auth_delay: dt.timedelta  # an auth operation reports 100 this long, then its outcome
    token_activation_delay: dt.timedelta  # a new KSeF token stays Pending this long
    permission_operation_delay: dt.timedelta  # a grant or revocation reports 100 this long
    certificate_enrollment_delay: dt.timedelta  # a certificate enrollment reports 100 this long
    invoice_processing_delay: dt.timedelta  # an invoice is "processing" this long after it arrives
    permanent_storage_lag: dt.timedelta  # permanentStorageDate - acquisitionDate
    hwm_lag: dt.timedelta  # the High Water Mark lags "now" by this much
    rate_limit_profile: str
    custom_rate_limits: dict[str, Any]
    # Read with the knobs in the same query (every API call needs both): is any fault rule armed?
    faults_armed: bool = False


def _initial_rate_limit_profile() -> str:
    """``settings.KSEF_SIMULATOR_RATE_LIMITS`` if set; otherwise on, except under the test suite.

    Tests start with limits off because sliding windows over wall-clock time would make unrelated tests
    flaky; the tests of the limits themselves switch them on.
    """
    configured = getattr(settings, "KSEF_SIMULATOR_RATE_LIMITS", None)
    if configured:
        return str(configured)
    off, default = SimulatorConfig.RateLimitProfile.OFF, SimulatorConfig.RateLimitProfile.DEFAULT
    return str(off if getattr(settings, "TESTING", False) else default)


def _row() -> SimulatorConfig:
    row, _ = SimulatorConfig.objects.get_or_create(
        pk=1, defaults={"rate_limit_profile": _initial_rate_limit_profile()}
    )
    return row


# Within one API call the knobs are read once (the send path would otherwise read the row three times);
# between calls they are always fresh, so a change through the control API takes effect at once.
_scope: ContextVar[list[Config] | None] = ContextVar("ksef_simulator_config_scope", default=None)


@contextlib.contextmanager
def config_scope() -> Iterator[None]:
    token = _scope.set([])
    try:
        yield
    finally:
        _scope.reset(token)


def get_config() -> Config:
    cached = _scope.get()
    if cached:
        return cached[0]
    config = _read_config()
    if cached is not None:
        cached.append(config)
    return config


_COLUMNS = ("id", "unavailable", "rate_limit_profile", "custom_rate_limits", *DELAY_FIELDS.values())


@functools.cache
def _config_sql(vendor: str) -> str:
    """The knobs and "is any fault armed?" in one statement, written once per database vendor.

    Every API call reads these first; compiling the equivalent ORM query (an ``Exists`` annotation)
    cost ten times more than running it.
    """
    # Only identifiers from the models' metadata are interpolated; the value is a parameter.
    qn = connection.ops.quote_name
    columns = ", ".join(qn(c) for c in _COLUMNS)
    faults, table = qn(FaultRule._meta.db_table), qn(SimulatorConfig._meta.db_table)
    armed = f"EXISTS (SELECT 1 FROM {faults} WHERE {qn('remaining')} > 0) AS {qn('faults_armed')}"  # noqa: S608
    return f"SELECT {columns}, {armed} FROM {table} WHERE {qn('id')} = %s"  # noqa: S608


def _read_config() -> Config:
    sql = _config_sql(connection.vendor)
    row = next(iter(SimulatorConfig.objects.raw(sql, [1])), None)
    if row is None:  # first use: create the row with its defaults
        _row()
        row = next(iter(SimulatorConfig.objects.raw(sql, [1])))
    delays = {name: dt.timedelta(milliseconds=getattr(row, column)) for name, column in DELAY_FIELDS.items()}
    return Config(
        unavailable=bool(row.unavailable),
        rate_limit_profile=row.rate_limit_profile,
        custom_rate_limits=dict(row.custom_rate_limits or {}),
        faults_armed=bool(row.faults_armed),  # type: ignore[attr-defined]
        **delays,
    )


def config_update(**changes: Any) -> Config:
    """Change some knobs: delays as timedeltas (or milliseconds), ``unavailable``, the rate-limit profile."""
    row = _row()
    for name, value in changes.items():
        if name in DELAY_FIELDS:
            millis = value / dt.timedelta(milliseconds=1) if isinstance(value, dt.timedelta) else value
            setattr(row, DELAY_FIELDS[name], max(0, int(millis)))
        elif name in {"unavailable", "rate_limit_profile", "custom_rate_limits"}:
            setattr(row, name, value)
        else:
            raise ValueError(f"unknown setting {name!r}")
    row.save()
    _forget()
    return get_config()


def config_reset() -> Config:
    SimulatorConfig.objects.filter(pk=1).delete()
    _forget()
    return get_config()


def _forget() -> None:
    cached = _scope.get()
    if cached:
        cached.clear()
